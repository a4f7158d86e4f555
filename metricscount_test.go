package descopeoidc

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The call sites: each outcome the README's Monitoring table lists is counted where it happens, once.

// counts reads counters of a metric set by index.
func counts(ms *metricSet, idx ...int) []uint64 {
	out := make([]uint64, len(idx))
	for i, j := range idx {
		out[i] = atomic.LoadUint64(&ms.v[j])
	}
	return out
}

func wantCounts(t *testing.T, what string, ms *metricSet, want map[int]uint64) {
	t.Helper()
	for i, w := range want {
		if got := counts(ms, i)[0]; got != w {
			t.Errorf("%s: %s{%s} = %d, want %d", what, metricFamilies[metricCounters[i].fam].name, metricCounters[i].labels, got, w)
		}
	}
}

// callbackFor starts a login in b and has the fake provider answer it; it returns the callback URL and the browser's
// cookies at that moment (the login cookie), for replays.
func callbackFor(b *browser) (string, []*http.Cookie) {
	b.t.Helper()
	rec := b.get("/page")
	if rec.Code != http.StatusFound {
		b.t.Fatalf("login start: status %d", rec.Code)
	}
	cb := b.authorize(rec.Header().Get("Location"))
	return cb, b.request(http.MethodGet, cb).Cookies()
}

func TestMetricsCountSignins(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newNamedMW(t, f, f.config(), "metrics-signins")
	b := newBrowser(t, m)
	cb, cookies := callbackFor(b)
	if rec := b.get(cb); rec.Code != http.StatusFound {
		t.Fatalf("callback: status %d", rec.Code)
	}
	wantCounts(t, "a login", m.met, map[int]uint64{mSigninStarted: 1, mSigninCompleted: 1, mSigninFailedReplay: 0})
	r := withCookies(strings.TrimPrefix(cb, appOrigin), cookies...)
	if rec := serve(m, r); rec.Code != http.StatusBadRequest {
		t.Fatalf("replayed callback: status %d", rec.Code)
	}
	if rec := b.get(cb); rec.Code != http.StatusBadRequest { // the login cookie is gone
		t.Fatalf("callback without its login cookie: status %d", rec.Code)
	}
	b.get("/oauth2/callback?state=abc")
	b.get("/oauth2/callback?error=access_denied&state=abc")
	wantCounts(t, "failures", m.met, map[int]uint64{mSigninFailedReplay: 1, mSigninFailedState: 1,
		mSigninFailedBadCallback: 1, mSigninFailedProviderError: 1, mSigninCompleted: 1})

	answers := []struct {
		reason int
		hook   func(w http.ResponseWriter, r *http.Request, form url.Values) bool
	}{
		{mSigninFailedCodeRefused, func(w http.ResponseWriter, _ *http.Request, _ url.Values) bool {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return true
		}},
		{mSigninFailedUnavailable, func(w http.ResponseWriter, _ *http.Request, _ url.Values) bool {
			w.WriteHeader(http.StatusBadGateway)
			return true
		}},
		{mSigninFailedRejected, func(w http.ResponseWriter, _ *http.Request, _ url.Values) bool {
			writeJSON(w, http.StatusOK, map[string]any{"access_token": "at", "token_type": "Bearer"}) // no id_token
			return true
		}},
	}
	for _, a := range answers {
		f.set(func(f *fakeIdP) { f.tokenHook = a.hook })
		b := newBrowser(t, m)
		cb, _ := callbackFor(b)
		b.get(cb)
		wantCounts(t, metricCounters[a.reason].labels, m.met, map[int]uint64{a.reason: 1, mSigninCompleted: 1})
	}
	wantCounts(t, "in all", m.met, map[int]uint64{mSigninStarted: 4})
}

func TestMetricsCountRefreshesAndLogout(t *testing.T) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.rotateRefresh = true })
	m, _ := newNamedMW(t, f, f.config(), "metrics-refresh")
	b := newBrowser(t, m)
	b.login("/")
	for _, step := range []struct {
		advance time.Duration // from the last refresh: 250s is past its refresh point, not its expiry (300s)
		set     func(f *fakeIdP)
		want    map[int]uint64
	}{
		{250 * time.Second, func(f *fakeIdP) {}, map[int]uint64{mRefreshOK: 1}},
		{250 * time.Second, func(f *fakeIdP) { f.down = true }, map[int]uint64{mRefreshOK: 1, mRefreshUnavailable: 1}},
		{(refreshRetry + 1) * time.Second, func(f *fakeIdP) { f.down, f.refreshError = false, "invalid_grant" },
			map[int]uint64{mRefreshOK: 1, mRefreshUnavailable: 1, mRefreshRefused: 1}},
	} {
		f.set(step.set)
		f.clock.Advance(step.advance)
		if rec := b.get("/"); rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		settleRefreshes(t, m)
		wantCounts(t, "refreshes", m.met, step.want)
	}
	for i := 0; i < 2; i++ { // the second one has no session to end
		r := b.request(http.MethodPost, "/oauth2/logout")
		r.Header.Set("Origin", appOrigin)
		if rec := b.do(r); rec.Code != http.StatusSeeOther {
			t.Fatalf("logout: status %d", rec.Code)
		}
	}
	wantCounts(t, "logouts", m.met, map[int]uint64{mLogoutLocal: 1})
}

func TestMetricsCountBearerAndDenials(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.AllowBearerTokens = true
	cfg.RequiredRoles = []string{"admin"}
	m, _ := newNamedMW(t, f, cfg, "metrics-bearer")
	now := f.clock.Now().Unix()
	claims := func(roles []any, exp int64) map[string]any {
		return map[string]any{"iss": f.issuer, "sub": testSub, "aud": testClientID, "azp": testClientID,
			"iat": now, "exp": exp, "roles": roles}
	}
	admin, viewer := f.mint(claims([]any{"admin"}, now+600)), f.mint(claims([]any{"viewer"}, now+600))
	for i := 0; i < 3; i++ { // verified once, then cached
		if rec := serve(m, bearerRequest(admin)); rec.Code != http.StatusOK {
			t.Fatalf("admin: status %d", rec.Code)
		}
		if rec := serve(m, bearerRequest(viewer)); rec.Code != http.StatusForbidden {
			t.Fatalf("viewer: status %d", rec.Code)
		}
	}
	serve(m, bearerRequest(f.mint(claims(nil, now-3600))))
	down := newFakeIdP(t) // another instance of the name, whose provider cannot be reached
	down.set(func(f *fakeIdP) { f.down = true })
	cfg2 := down.config()
	cfg2.AllowBearerTokens = true
	m2, _ := newNamedMW(t, down, cfg2, "metrics-bearer")
	tok := down.mint(map[string]any{"iss": down.issuer, "sub": testSub, "aud": testClientID, "iat": now, "exp": now + 600})
	if rec := serve(m2, bearerRequest(tok)); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("provider down: status %d", rec.Code)
	}
	wantCounts(t, "bearer", m.met, map[int]uint64{mBearerOK: 2, mBearerRejected: 1, mBearerUnavailable: 1,
		mDeniedRoles: 3, mDeniedClaim: 0})
}

// TestMetricsCountProviderRequests: every provider request of a login is counted under its endpoint, and the
// histogram counts the same requests.
func TestMetricsCountProviderRequests(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newNamedMW(t, f, metricsConfig(f), "metrics-provider")
	before := scrape(t, m, "127.0.0.1:1")
	newBrowser(t, m).login("/")
	after := scrape(t, m, "127.0.0.1:1")
	for ep, want := range map[string]float64{"discovery": 1, "jwks": 1, "token": 1} {
		req := `descopeoidc_provider_requests_total{endpoint="` + ep + `",outcome="ok"}`
		hist := `descopeoidc_provider_request_duration_seconds_count{endpoint="` + ep + `"}`
		if d := after[req] - before[req]; d != want {
			t.Errorf("%s: +%v, want +%v", req, d, want)
		}
		if d := after[hist] - before[hist]; d != want {
			t.Errorf("%s: +%v, want +%v", hist, d, want)
		}
	}
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, appOrigin+"/oauth2/callback?state=x", nil))
	if after := scrape(t, m, "127.0.0.1:1"); after[`descopeoidc_signins_failed_total{middleware="metrics-provider",reason="bad_callback"}`] != 1 {
		t.Error("bad callback not in the exposition")
	}
}

func TestMetricsCountDescopeCookieAndStepUp(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.DescopeSessionCookie = "DS"
	cfg.MaxAuthAge = "5m"
	m, _ := newNamedMW(t, f, cfg, "metrics-ds")
	b := newBrowser(t, m)
	now := f.clock.Now().Unix()
	c := f.idClaims("")
	c["exp"], c["auth_time"] = now+600, now
	ds := f.mint(c)
	for i := 0; i < 2; i++ { // verified once, then cached
		if rec := b.do(dsRequest(b, "/app", "DS="+ds)); rec.Code != http.StatusOK {
			t.Fatalf("valid DS: status %d", rec.Code)
		}
	}
	if rec := b.do(dsRequest(b, "/app", "DS=not.a.jwt")); rec.Code != http.StatusFound {
		t.Fatalf("bad DS: status %d, want a login", rec.Code)
	}
	wantCounts(t, "DS", m.met, map[int]uint64{mDSOK: 1, mDSRejected: 1, mDSUnavailable: 0, mStepUpMaxAge: 0})
	f.clock.Advance(6 * time.Minute) // the authentication is now older than maxAuthAge
	if rec := b.do(dsRequest(b, "/app", "DS="+ds)); rec.Code != http.StatusFound {
		t.Fatalf("DS past maxAuthAge: status %d, want a login", rec.Code)
	}
	wantCounts(t, "step-up", m.met, map[int]uint64{mStepUpMaxAge: 1, mStepUpACR: 0})

	cfg2 := f.config()
	cfg2.RequiredACR = []string{"gold"}
	m2, _ := newNamedMW(t, f, cfg2, "metrics-acr")
	plain, _ := newNamedMW(t, f, f.config(), "metrics-plain")
	b2 := newBrowser(t, plain)
	b2.login("/")
	b2.m = m2 // the same session on a route that requires acr gold, which the fake's ID token lacks
	if rec := b2.get("/"); rec.Code != http.StatusFound {
		t.Fatalf("unmet acr: status %d, want a step-up login", rec.Code)
	}
	wantCounts(t, "acr step-up", m2.met, map[int]uint64{mStepUpACR: 1, mStepUpMaxAge: 0, mSigninStarted: 1})
}

// TestMetricsCountLogoutChannels: an accepted back-channel logout token and front-channel request count once each;
// a refused one does not.
func TestMetricsCountLogoutChannels(t *testing.T) {
	f, a, _, _ := withBackchannel(t)
	before := counts(a.met, mLogoutBackchannel, mLogoutFrontchannel)
	tok := signJWT(t, f.signer, map[string]any{"typ": "logout+jwt"}, logoutClaims(f, testSID, testSub, "jti-metrics"))
	if rec := postLogoutToken(a, tok); rec.Code != http.StatusOK {
		t.Fatalf("back-channel logout: status %d", rec.Code)
	}
	if rec := postLogoutToken(a, tok); rec.Code != http.StatusBadRequest { // jti spent: refused, not counted
		t.Fatalf("replayed logout token: status %d", rec.Code)
	}
	q := url.Values{"iss": {f.issuer}, "sid": {testSID}}
	if rec := serve(a, httptest.NewRequest(http.MethodGet, appOrigin+a.s.frontchannelPath+"?"+q.Encode(), nil)); rec.Code != http.StatusOK {
		t.Fatalf("front-channel logout: status %d", rec.Code)
	}
	after := counts(a.met, mLogoutBackchannel, mLogoutFrontchannel)
	if after[0]-before[0] != 1 || after[1]-before[1] != 1 {
		t.Errorf("back-channel +%d, front-channel +%d; want +1 and +1", after[0]-before[0], after[1]-before[1])
	}
}
