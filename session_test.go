package descopeoidc

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sessionMW is a middleware for cookie tests; the provider is never contacted.
func sessionMW(t *testing.T, mutate func(c *Config)) *Middleware {
	t.Helper()
	c := baseConfig()
	if mutate != nil {
		mutate(c)
	}
	h, err := New(context.Background(), http.NotFoundHandler(), c, "s")
	if err != nil {
		t.Fatal(err)
	}
	return h.(*Middleware)
}

func sampleSession(claimSize int) *sessionData {
	return &sessionData{
		Claims:       map[string]any{"sub": "u1", "roles": []any{"admin", "dev"}, "big": strings.Repeat("x", claimSize)},
		IDToken:      "id.token.sig",
		AccessToken:  "access",
		RefreshToken: "refresh",
		Expiry:       1_800_000_300,
		Created:      1_800_000_000,
		Seen:         1_800_000_000,
		Issued:       1_800_000_000,
		ID:           "chain-id",
		Gen:          2,
	}
}

func TestSessionSealOpenRoundTrip(t *testing.T) {
	m := sessionMW(t, nil)
	d := sampleSession(10)
	v, err := m.sm.sealSession(d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(v, ".=+/ ;") {
		t.Errorf("sealed value %q is not plain base64url", v)
	}
	if strings.Contains(v, "access") || strings.Contains(v, "refresh") {
		t.Error("sealed value leaks the plaintext")
	}
	got, err := m.sm.openSession(v)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, d)
	}
	v2, _ := m.sm.sealSession(d)
	if v2 == v {
		t.Error("two seals of the same session are identical (nonce reuse)")
	}
}

func TestSessionRejectsTamperedCookies(t *testing.T) {
	m := sessionMW(t, nil)
	v, err := m.sm.sealSession(sampleSession(10))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	stateSealed, _ := seal(m.s.stateAEADs[0], "state", []byte(`{"c":{},"e":1,"t":1}`))
	wrongPurpose, _ := seal(m.s.sessionAEADs[0], "state", []byte(`{"c":{},"e":1,"t":1}`))
	incomplete, _ := seal(m.s.sessionAEADs[0], m.s.sessionAAD, []byte(`{"c":{"sub":"x"}}`))
	valid := `{"c":{"sub":"x"},"e":1900000000,"t":1800000000,"d":"id"}`
	beforeBinding, _ := seal(m.s.sessionAEADs[0], "session", []byte(valid)) // the AAD before issuer binding
	otherIssuer, _ := seal(m.s.sessionAEADs[0], cookieAAD("session", "https://other.example", m.s.clientID), []byte(valid))
	otherClient, _ := seal(m.s.sessionAEADs[0], cookieAAD("session", m.s.issuer, "other-client"), []byte(valid))
	cases := map[string]string{
		"nonce byte flipped":            flip(0),
		"ciphertext byte flipped":       flip(len(raw) / 2),
		"tag byte flipped":              flip(len(raw) - 1),
		"truncated":                     v[:len(v)-4],
		"too short":                     "AAAA",
		"not base64url":                 "!!!" + v,
		"empty":                         "",
		"state cookie as session":       stateSealed,
		"session key, state purpose":    wrongPurpose,
		"no creation or expiry time":    incomplete,
		"JSON array instead of session": mustSeal(t, m, "[1,2]"),
		"sealed before issuer binding":  beforeBinding,
		"sealed for another issuer":     otherIssuer,
		"sealed for another client":     otherClient,
	}
	if _, err := open(m.s.sessionAEADs, m.s.sessionAAD, otherIssuer); err == nil {
		t.Fatal("test broken: a cookie for another issuer opens")
	}
	for name, value := range cases {
		t.Run(name, func(t *testing.T) {
			if d, err := m.sm.openSession(value); !errors.Is(err, errBadCookie) {
				t.Errorf("openSession = %+v, %v; want errBadCookie", d, err)
			}
		})
	}
}

func mustSeal(t *testing.T, m *Middleware, plaintext string) string {
	t.Helper()
	v, err := seal(m.s.sessionAEADs[0], m.s.sessionAAD, []byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSessionSecretRotation(t *testing.T) {
	oldSecret := strings.Repeat("o", 32)
	newSecret := strings.Repeat("n", 40)
	before := sessionMW(t, func(c *Config) { c.SessionSecret = oldSecret })
	after := sessionMW(t, func(c *Config) { c.SessionSecret, c.PreviousSessionSecrets = newSecret, []string{oldSecret} })
	foreign := sessionMW(t, func(c *Config) { c.SessionSecret = newSecret })

	oldCookie, _ := before.sm.sealSession(sampleSession(10))
	if _, err := after.sm.openSession(oldCookie); err != nil {
		t.Errorf("a cookie sealed with the previous secret no longer opens: %v", err)
	}
	if _, err := foreign.sm.openSession(oldCookie); err == nil {
		t.Error("a cookie opens with a key that never sealed it")
	}
	newCookie, _ := after.sm.sealSession(sampleSession(10))
	if _, err := before.sm.openSession(newCookie); err == nil {
		t.Error("new cookies are still sealed with the previous secret")
	}
	if _, err := foreign.sm.openSession(newCookie); err != nil {
		t.Errorf("new cookies are not sealed with the current secret: %v", err)
	}
	// The state cookie follows the same rotation.
	rec := httptest.NewRecorder()
	sd := &stateData{State: "state-value-0123456789", Nonce: "n", Verifier: "v", Target: "/", Expiry: time.Now().Add(time.Minute).Unix()}
	if err := before.sm.writeStateCookie(rec, sd); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/oauth2/callback", nil)
	r.AddCookie(rec.Result().Cookies()[0])
	if _, err := after.sm.readStateCookie(r, sd.State, time.Now()); err != nil {
		t.Errorf("state cookie with the previous secret: %v", err)
	}
}

// writeAndCollect writes value as the session cookie for request r and returns the cookies set.
func writeAndCollect(t *testing.T, m *Middleware, r *http.Request, value string) []*http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := m.sm.writeSessionCookie(rec, r, value); err != nil {
		t.Fatal(err)
	}
	return rec.Result().Cookies()
}

func requestWith(cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

func TestSessionChunking(t *testing.T) {
	m := sessionMW(t, nil)
	value, err := m.sm.sealSession(sampleSession(9000))
	if err != nil {
		t.Fatal(err)
	}
	if len(value) <= 2*maxCookieChunk {
		t.Fatalf("test session too small: %d bytes", len(value))
	}
	cookies := writeAndCollect(t, m, requestWith(), value)
	wantN := (len(value) + maxCookieChunk - 1) / maxCookieChunk
	if len(cookies) != wantN {
		t.Fatalf("%d cookies for %d bytes, want %d", len(cookies), len(value), wantN)
	}
	for i, c := range cookies {
		if c.Name != m.sm.chunkName(i) {
			t.Errorf("cookie %d named %q", i, c.Name)
		}
		if len(c.Value) > maxCookieChunk+3 {
			t.Errorf("chunk %d is %d bytes", i, len(c.Value))
		}
		if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 86400 {
			t.Errorf("chunk %d attributes: %+v", i, c)
		}
	}
	if !strings.HasPrefix(cookies[0].Value, strconv.Itoa(wantN)+".") {
		t.Errorf("first chunk %q… does not announce the count", cookies[0].Value[:8])
	}

	got, err := m.sm.readSessionCookie(requestWith(cookies...))
	if err != nil || got != value {
		t.Fatalf("reassembly: err %v, equal %v", err, got == value)
	}
	if _, err := m.sm.openSession(got); err != nil {
		t.Fatal(err)
	}

	t.Run("missing chunk", func(t *testing.T) {
		without := append(append([]*http.Cookie{}, cookies[:1]...), cookies[2:]...)
		if _, err := m.sm.readSessionCookie(requestWith(without...)); !errors.Is(err, errBadCookie) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("reordered chunks", func(t *testing.T) {
		swapped := []*http.Cookie{cookies[0], {Name: cookies[1].Name, Value: cookies[2].Value}, {Name: cookies[2].Name, Value: cookies[1].Value}}
		swapped = append(swapped, cookies[3:]...)
		v, err := m.sm.readSessionCookie(requestWith(swapped...))
		if err == nil {
			if _, err = m.sm.openSession(v); err == nil {
				t.Error("reordered chunks still open")
			}
		}
	})
	t.Run("bad chunk count", func(t *testing.T) {
		for _, prefix := range []string{"1.", "9.", "x.", "-2."} {
			c := &http.Cookie{Name: m.s.cookieName, Value: prefix + "abc"}
			if _, err := m.sm.readSessionCookie(requestWith(c)); !errors.Is(err, errBadCookie) {
				t.Errorf("prefix %q: err = %v", prefix, err)
			}
		}
	})
	t.Run("too large", func(t *testing.T) {
		rec := httptest.NewRecorder()
		if err := m.sm.writeSessionCookie(rec, requestWith(), strings.Repeat("a", maxSessionChunks*maxCookieChunk+1)); err == nil {
			t.Error("a session larger than the chunk limit was written")
		}
		if len(rec.Result().Cookies()) != 0 {
			t.Error("cookies set although the session was refused")
		}
	})
}

func TestSessionStaleChunksExpired(t *testing.T) {
	m := sessionMW(t, nil)
	var stale []*http.Cookie
	stale = append(stale, &http.Cookie{Name: m.s.cookieName, Value: "6.old"})
	for i := 1; i < 6; i++ {
		stale = append(stale, &http.Cookie{Name: m.sm.chunkName(i), Value: "old"})
	}
	other := &http.Cookie{Name: "app_pref", Value: "dark"}
	r := requestWith(append(stale, other)...)

	two := strings.Repeat("v", maxCookieChunk+10)
	set := map[string]*http.Cookie{}
	for _, c := range writeAndCollect(t, m, r, two) {
		set[c.Name] = c
	}
	if set[m.sm.chunkName(0)].MaxAge <= 0 || set[m.sm.chunkName(1)].MaxAge <= 0 {
		t.Fatal("new chunks not set")
	}
	for i := 2; i < 6; i++ {
		if c := set[m.sm.chunkName(i)]; c == nil || c.MaxAge >= 0 {
			t.Errorf("stale chunk %d not expired: %+v", i, c)
		}
	}
	if set[m.sm.chunkName(6)] != nil || set["app_pref"] != nil {
		t.Error("cookies the browser did not send as chunks were touched")
	}

	set = map[string]*http.Cookie{}
	for _, c := range writeAndCollect(t, m, r, "small") {
		set[c.Name] = c
	}
	if c := set[m.s.cookieName]; c == nil || c.Value != "small" {
		t.Errorf("single cookie %+v", c)
	}
	for i := 1; i < 6; i++ {
		if c := set[m.sm.chunkName(i)]; c == nil || c.MaxAge >= 0 {
			t.Errorf("chunk %d not expired after shrinking to one cookie", i)
		}
	}

	rec := httptest.NewRecorder()
	m.sm.clearSessionCookie(rec, r)
	cleared := setCookies(rec)
	for i := 0; i < 6; i++ {
		if c := cleared[m.sm.chunkName(i)]; c == nil || c.MaxAge >= 0 {
			t.Errorf("clearSessionCookie left chunk %d", i)
		}
	}
}

func TestStateCookie(t *testing.T) {
	m := sessionMW(t, func(c *Config) { c.CallbackPath = "/auth/cb" })
	now := time.Unix(1_800_000_000, 0)
	state := "AbCdEfGhIjKlMnOpQrStUvWx"
	sd := &stateData{State: state, Nonce: "nonce", Verifier: "verifier", Target: "/back?x=1", Expiry: now.Add(stateTTL).Unix()}
	rec := httptest.NewRecorder()
	if err := m.sm.writeStateCookie(rec, sd); err != nil {
		t.Fatal(err)
	}
	c := rec.Result().Cookies()[0]
	if c.Name != m.s.cookieName+"_state_"+state[:16] || c.Path != "/auth/cb" || c.MaxAge != int(stateTTL/time.Second) || !c.HttpOnly || !c.Secure {
		t.Errorf("state cookie %+v", c)
	}
	if strings.Contains(c.Value, "verifier") {
		t.Error("state cookie leaks the PKCE verifier")
	}
	r := requestWith(c)
	other := sessionMW(t, func(c *Config) { c.CallbackPath = "/auth/cb"; c.Issuer = "https://other-idp.example/tenant" })
	otherClient := sessionMW(t, func(c *Config) { c.CallbackPath = "/auth/cb"; c.ClientID = "other-client" })
	for _, o := range []*Middleware{other, otherClient} {
		if _, err := o.sm.readStateCookie(r, state, now); err == nil || !strings.Contains(err.Error(), "does not decrypt") {
			t.Errorf("login cookie of %s|%s read by %s|%s: err %v, want it not to decrypt", m.s.issuer, m.s.clientID, o.s.issuer, o.s.clientID, err)
		}
	}

	got, err := m.sm.readStateCookie(r, state, now)
	if err != nil || !reflect.DeepEqual(got, sd) {
		t.Fatalf("read back %+v, %v", got, err)
	}
	cases := []struct {
		name  string
		state string
		now   time.Time
		req   *http.Request
		want  string
	}{
		{"other state", "ZZZZZZZZZZZZZZZZZZZZ", now, r, "no login cookie"},
		{"same cookie name, different state", state[:16] + "tampered", now, r, "state does not match"},
		{"expired", state, now.Add(stateTTL + time.Second), r, "expired"},
		{"no cookie", state, now, requestWith(), "no login cookie"},
		{"session cookie under the state name", state, now, requestWith(&http.Cookie{Name: c.Name, Value: mustSeal(t, m, `{"s":"`+state+`","e":9999999999}`)}), "does not decrypt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.sm.readStateCookie(tc.req, tc.state, tc.now)
			if err == nil {
				t.Fatal("accepted")
			}
			mustContain(t, "error", err.Error(), tc.want)
		})
	}
}

// TestThinSessionReadsItsCookieWhenNeeded: a session a request caches from its cookie keeps no claims and no tokens
// in the cache (thinSession), only what the hot path and logouts read; what needs more reads the cookie again: the
// refresh sends the session's own refresh token (the exact grant the provider receives), the new session keeps the
// claims, and the session endpoint reports them.
func TestThinSessionReadsItsCookieWhenNeeded(t *testing.T) {
	f, m, up, b := loggedIn(t, func(c *Config) { c.SessionInfoPath = "/oauth2/session" })
	want := b.session()
	raw, err := m.sm.readSessionCookie(b.request(http.MethodGet, "/"))
	if err != nil {
		t.Fatal(err)
	}
	key := m.sm.sessionKey(raw)
	m.sessions.remove(key) // as after a restart: the next request opens the cookie
	if rec := b.get("/"); rec.Code != http.StatusOK || up.last().Get("X-Forwarded-User") != testSub {
		t.Fatalf("status %d, user %q", rec.Code, up.last().Get("X-Forwarded-User"))
	}
	e := m.sessions.get(key)
	if e == nil || !e.data.Thin || e.data.Claims != nil || e.data.RefreshToken != "" || e.data.Sub != testSub ||
		e.data.ID != want.ID || e.data.Expiry != want.Expiry {
		t.Fatalf("cached session %+v, want the thin form of %+v", e.data, want)
	}
	if rec := b.get("/oauth2/session"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"sub":"`+testSub+`"`) {
		t.Errorf("session endpoint: status %d, body %s", rec.Code, rec.Body.String())
	}

	before := len(f.tokenRequests())
	f.clock.Advance(250 * time.Second) // past the refresh point
	b.get("/")
	settleRefreshes(t, m)
	grants := f.tokenRequests()[before:]
	if len(grants) != 1 || grants[0].Form.Get("grant_type") != "refresh_token" || grants[0].Form.Get("refresh_token") != want.RefreshToken {
		t.Fatalf("token requests %+v, want one refresh grant with the session's refresh token", grants)
	}
	if rec := b.get("/"); rec.Code != http.StatusOK || up.last().Get("X-Forwarded-User") != testSub {
		t.Fatalf("after the refresh: status %d, user %q", rec.Code, up.last().Get("X-Forwarded-User"))
	}
	if got := b.session(); got.ID != want.ID || got.Gen != want.Gen+1 || got.Claims["sub"] != testSub {
		t.Errorf("refreshed session %+v: want chain %s, generation %d, the claims kept", got, want.ID, want.Gen+1)
	}
}
