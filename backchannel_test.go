package descopeoidc

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testSID = "op-session-1"

// logoutClaims are the claims of a valid logout token of f for the session sid (and sub, when not "").
func logoutClaims(f *fakeIdP, sid, sub, jti string) map[string]any {
	now := f.clock.Now().Unix()
	c := map[string]any{"iss": f.issuer, "aud": testClientID, "iat": now, "exp": now + 120, "jti": jti,
		"events": map[string]any{backchannelEvent: map[string]any{}}}
	if sid != "" {
		c["sid"] = sid
	}
	if sub != "" {
		c["sub"] = sub
	}
	return c
}

// postLogoutToken POSTs a logout token to m's back-channel logout path, as the provider does.
func postLogoutToken(m *Middleware, tok string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, appOrigin+m.s.backchannelPath, strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return serve(m, r)
}

// withBackchannel logs a browser in through a (back-channel and front-channel logout on) with b a second policy
// over the same sessions; the provider's ID tokens carry sid.
func withBackchannel(t *testing.T) (f *fakeIdP, a, b *Middleware, cookie *http.Cookie) {
	t.Helper()
	f, a, b, _, _, cookie = twoPolicies(t, func(c *Config) {
		c.BackchannelLogoutPath = "/oauth2/backchannel-logout"
		c.FrontchannelLogoutPath = "/oauth2/frontchannel-logout"
	}, func(c *Config) { c.ForwardHeaders = map[string]string{"X-Mail": "email"} })
	f.set(func(f *fakeIdP) { f.extraClaims["sid"] = testSID })
	br := newBrowser(t, a) // a new login: its ID token carries sid
	br.login("/")
	return f, a, b, br.cookie(a.s.cookieName)
}

// TestBackchannelLogout: a valid logout token for the session's sid ends it at every middleware serving it; the same
// token again is refused (jti spent once).
func TestBackchannelLogout(t *testing.T) {
	f, a, b, cookie := withBackchannel(t)
	for _, m := range []*Middleware{a, b} {
		if rec := serve(m, withCookies("/", cookie)); rec.Code != http.StatusOK {
			t.Fatalf("before the logout: status %d", rec.Code)
		}
	}
	tok := signJWT(t, f.signer, map[string]any{"typ": "logout+jwt"}, logoutClaims(f, testSID, testSub, "jti-1"))
	if rec := postLogoutToken(a, tok); rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("back-channel logout: status %d Cache-Control %q, want 200 no-store (body %s)", rec.Code, rec.Header().Get("Cache-Control"), rec.Body)
	}
	for name, m := range map[string]*Middleware{"a": a, "b": b} {
		if rec := serve(m, withCookies("/", cookie)); rec.Code != http.StatusFound {
			t.Errorf("middleware %s after the back-channel logout: status %d, want a login", name, rec.Code)
		}
	}
	if rec := postLogoutToken(a, tok); rec.Code != http.StatusBadRequest {
		t.Errorf("the same logout token again: status %d, want 400", rec.Code)
	}
}

// TestBackchannelLogoutBySub: a token with sub alone ends every session of the user made before it, and none made
// after it.
func TestBackchannelLogoutBySub(t *testing.T) {
	f, a, _, cookie := withBackchannel(t)
	tok := signJWT(t, f.signer, nil, logoutClaims(f, "", testSub, "jti-sub"))
	if rec := postLogoutToken(a, tok); rec.Code != http.StatusOK {
		t.Fatalf("back-channel logout by sub: status %d (body %s)", rec.Code, rec.Body)
	}
	if rec := serve(a, withCookies("/", cookie)); rec.Code != http.StatusFound {
		t.Errorf("the user's session after a logout by sub: status %d, want a login", rec.Code)
	}
	f.clock.Advance(time.Second)
	br := newBrowser(t, a)
	br.login("/")
	if rec := br.get("/"); rec.Code != http.StatusOK {
		t.Errorf("a session made after the logout: status %d, want 200", rec.Code)
	}
}

// TestLogoutTokenRefusals: every token the spec says to refuse gets 400 and ends nothing.
func TestLogoutTokenRefusals(t *testing.T) {
	f, a, _, cookie := withBackchannel(t)
	other := newTestKey(t, "RS256", "k1", 1) // same kid, another key: a forged signature
	cases := map[string]struct {
		header map[string]any
		mutate func(c map[string]any)
		key    *testKey
	}{
		"another issuer":        {mutate: func(c map[string]any) { c["iss"] = "https://evil.example" }},
		"another audience":      {mutate: func(c map[string]any) { c["aud"] = "someone-else" }},
		"expired":               {mutate: func(c map[string]any) { c["exp"] = f.clock.Now().Unix() - 3600 }},
		"issued long ago":       {mutate: func(c map[string]any) { c["iat"] = f.clock.Now().Unix() - 3600 }},
		"no events":             {mutate: func(c map[string]any) { delete(c, "events") }},
		"another event":         {mutate: func(c map[string]any) { c["events"] = map[string]any{"urn:other": map[string]any{}} }},
		"neither sub nor sid":   {mutate: func(c map[string]any) { delete(c, "sid"); delete(c, "sub") }},
		"a nonce (an ID token)": {mutate: func(c map[string]any) { c["nonce"] = "n" }},
		"no jti":                {mutate: func(c map[string]any) { delete(c, "jti") }},
		"an access token type":  {header: map[string]any{"typ": "at+jwt"}},
		"a forged signature":    {key: other},
	}
	i := 0
	for name, tc := range cases {
		i++
		c := logoutClaims(f, testSID, testSub, "jti-refused-"+strconv.Itoa(i))
		if tc.mutate != nil {
			tc.mutate(c)
		}
		k := f.signer
		if tc.key != nil {
			k = tc.key
		}
		if rec := postLogoutToken(a, signJWT(t, k, tc.header, c)); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, rec.Code)
		}
	}
	if rec := postLogoutToken(a, ""); rec.Code != http.StatusBadRequest {
		t.Errorf("no logout_token: status %d, want 400", rec.Code)
	}
	get := httptest.NewRequest(http.MethodGet, appOrigin+a.s.backchannelPath, nil)
	if rec := serve(a, get); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", rec.Code)
	}
	if rec := serve(a, withCookies("/", cookie)); rec.Code != http.StatusOK {
		t.Errorf("after refused logout tokens the session: status %d, want 200", rec.Code)
	}
}

// TestFrontchannelLogout: the provider's page loads the front-channel path with iss and sid: the session ends at
// every middleware; a request naming another issuer ends nothing.
func TestFrontchannelLogout(t *testing.T) {
	f, a, b, cookie := withBackchannel(t)
	bad := httptest.NewRequest(http.MethodGet, appOrigin+a.s.frontchannelPath+"?iss=https://evil.example&sid="+testSID, nil)
	if rec := serve(a, bad); rec.Code != http.StatusBadRequest {
		t.Errorf("another issuer: status %d, want 400", rec.Code)
	}
	if rec := serve(b, withCookies("/", cookie)); rec.Code != http.StatusOK {
		t.Fatalf("after a refused front-channel request: status %d", rec.Code)
	}
	q := url.Values{"iss": {f.issuer}, "sid": {testSID}}
	if rec := serve(a, httptest.NewRequest(http.MethodGet, appOrigin+a.s.frontchannelPath+"?"+q.Encode(), nil)); rec.Code != http.StatusOK {
		t.Fatalf("front-channel logout: status %d", rec.Code)
	}
	if rec := serve(b, withCookies("/", cookie)); rec.Code != http.StatusFound {
		t.Errorf("middleware b after the front-channel logout: status %d, want a login", rec.Code)
	}
}

func TestLogoutChannelSettings(t *testing.T) {
	s := settingsWith(t, func(c *Config) { c.BackchannelLogoutPath = "/bc" }, "")
	if s.backchannelPath != "/bc" || !s.ownPaths["/bc"] || !s.keepClaims["sid"] {
		t.Errorf("backchannelLogoutPath: path %q own %v keeps sid %v", s.backchannelPath, s.ownPaths["/bc"], s.keepClaims["sid"])
	}
	settingsWith(t, func(c *Config) { c.BackchannelLogoutPath = "bc" }, "backchannelLogoutPath")
	settingsWith(t, func(c *Config) { c.FrontchannelLogoutPath = "/oauth2/callback" }, "frontchannelLogoutPath")
	settingsWith(t, func(c *Config) { c.BackchannelLogoutPath, c.FrontchannelLogoutPath = "/x", "/x" }, "frontchannelLogoutPath")
}
