package descopeoidc

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// hintCookies returns the logout cookies the browser sends to the logout path.
func hintCookies(b *browser) []*http.Cookie {
	u, _ := url.Parse(appOrigin + b.m.s.logoutPath)
	var out []*http.Cookie
	for _, c := range b.jar.Cookies(u) {
		if strings.HasPrefix(c.Name, b.m.sm.hintNames[0]) {
			out = append(out, c)
		}
	}
	return out
}

// hintToken opens the browser's logout cookie and returns its ID token (failing when there is none).
func hintToken(t *testing.T, m *Middleware, b *browser) string {
	t.Helper()
	v, err := chunkedValueAt(hintCookies(b), m.sm.hintNames, 0)
	if err != nil {
		t.Fatalf("logout cookie: %v", err)
	}
	pt, err := open(m.s.sessionAEADs, m.s.hintAAD, v)
	if err != nil {
		t.Fatalf("logout cookie: %v", err)
	}
	h := &hintData{}
	if err := json.Unmarshal(pt, h); err != nil || h.ID != b.session().ID || strings.Count(h.IDToken, ".") != 2 {
		t.Fatalf("logout cookie %+v (%v), want the session's chain and a JWT", h, err)
	}
	return h.IDToken
}

func logoutQuery(t *testing.T, b *browser) url.Values {
	t.Helper()
	r := b.request(http.MethodPost, b.m.s.logoutPath)
	r.Header.Set("Origin", appOrigin)
	rec := b.do(r)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("logout: status %d", rec.Code)
	}
	return mustLocation(t, rec).Query()
}

// TestLogoutCookieHoldsTheIDToken: the ID token is in a cookie only the logout path gets, not in the session
// cookie every request carries; logout sends it as id_token_hint and deletes it.
func TestLogoutCookieHoldsTheIDToken(t *testing.T) {
	_, m, _, b := loggedIn(t, nil)
	if d := b.session(); d.IDToken != "" || d.AccessToken != "" {
		t.Fatalf("session cookie holds ID token %d bytes, access token %d bytes; want neither", len(d.IDToken), len(d.AccessToken))
	}
	hc := hintCookies(b)
	if len(hc) != 1 || hc[0].Name != defaultCookieName+"_logout" {
		t.Fatalf("logout cookies %v, want one %s_logout", hc, defaultCookieName)
	}
	u, _ := url.Parse(appOrigin + "/app")
	for _, c := range b.jar.Cookies(u) {
		if c.Name == hc[0].Name {
			t.Fatal("the logout cookie is sent outside the logout path")
		}
	}
	idToken := hintToken(t, m, b)
	r := b.request(http.MethodPost, m.s.logoutPath)
	r.Header.Set("Origin", appOrigin)
	rec := b.do(r)
	if got := mustLocation(t, rec).Query().Get("id_token_hint"); got != idToken {
		t.Errorf("id_token_hint %q, want the logout cookie's ID token", got)
	}
	if c := setCookies(rec)[hc[0].Name]; c == nil || c.MaxAge >= 0 || c.Path != m.s.logoutPath {
		t.Errorf("logout cookie after logout %+v, want deleted on %s", c, m.s.logoutPath)
	}
}

// TestLogoutCookieSetAttributes: the logout cookie is set like the session (HttpOnly, Secure, SameSite, max age),
// on the logout path.
func TestLogoutCookieSetAttributes(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	b := newBrowser(t, m)
	set := setCookies(b.login("/"))
	c, sc := set[m.sm.hintNames[0]], set[m.s.cookieName]
	if c == nil || sc == nil {
		t.Fatalf("callback set %v, want the session and the logout cookie", set)
	}
	if c.Path != m.s.logoutPath || !c.HttpOnly || c.Secure != sc.Secure || c.SameSite != sc.SameSite || c.MaxAge != sc.MaxAge {
		t.Errorf("logout cookie %+v, session cookie %+v", c, sc)
	}
}

// TestAccessTokenInSessionOnlyWhenForwarded: with forwardAccessToken the session keeps the access token (it is
// sent upstream on every request).
func TestAccessTokenInSessionOnlyWhenForwarded(t *testing.T) {
	_, _, up, b := loggedIn(t, func(c *Config) { c.ForwardAccessToken = true })
	if d := b.session(); d.AccessToken == "" || d.IDToken != "" {
		t.Fatalf("session access token %q, ID token %d bytes; want the access token only", d.AccessToken, len(d.IDToken))
	}
	b.get("/")
	if got := up.last().Get("Authorization"); got != "Bearer "+b.session().AccessToken {
		t.Errorf("upstream Authorization %q", got)
	}
}

// TestLogoutCookieOfAnotherLogin: a logout cookie left from another login (another chain) is not sent as the hint.
func TestLogoutCookieOfAnotherLogin(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	a, b := newBrowser(t, m), newBrowser(t, m)
	a.login("/")
	b.login("/")
	u, _ := url.Parse(appOrigin + m.s.logoutPath)
	var theirs []*http.Cookie
	for _, c := range hintCookies(a) {
		theirs = append(theirs, &http.Cookie{Name: c.Name, Value: c.Value, Path: m.s.logoutPath})
	}
	b.jar.SetCookies(u, theirs) // b's logout cookie is now a's
	if len(hintCookies(b)) != 1 {
		t.Fatalf("b sends %d logout cookies, want a's only", len(hintCookies(b)))
	}
	if q := logoutQuery(t, b); q.Has("id_token_hint") || q.Get("client_id") != testClientID {
		t.Errorf("end session query %v, want client_id and no id_token_hint", q)
	}
}

// TestLogoutHintFromAnOlderSession: a session sealed with its ID token (before the logout cookie existed) still
// logs out with it.
func TestLogoutHintFromAnOlderSession(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	now := f.clock.Now().Unix()
	d := &sessionData{Claims: map[string]any{"sub": testSub}, IDToken: "old.id.token", Expiry: now + 300, Created: now, Seen: now, ID: "chain"}
	pt, _ := json.Marshal(d)
	v, err := seal(m.s.sessionAEADs[0], m.s.sessionAAD, pt)
	if err != nil {
		t.Fatal(err)
	}
	r := withCookies(m.s.logoutPath, &http.Cookie{Name: m.s.cookieName, Value: v})
	r.Method = http.MethodPost
	r.Header.Set("Origin", appOrigin)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, r)
	if got := mustLocation(t, rec).Query().Get("id_token_hint"); got != "old.id.token" {
		t.Errorf("id_token_hint %q, want the older session's", got)
	}
}

// TestLogoutCookieChunked: a large ID token is split over several logout cookies and sent whole.
func TestLogoutCookieChunked(t *testing.T) {
	_, m, b := logoutSetup(t, nil) // an ID token with 7 KB of bio
	if n := len(hintCookies(b)); n < 2 {
		t.Fatalf("%d logout cookies, want chunks", n)
	}
	idToken := hintToken(t, m, b)
	if len(idToken) < 7000 {
		t.Fatalf("ID token %d bytes, want a large one", len(idToken))
	}
	if got := logoutQuery(t, b).Get("id_token_hint"); got != idToken {
		t.Errorf("id_token_hint %d bytes, want the %d-byte ID token", len(got), len(idToken))
	}
	if n := len(hintCookies(b)); n != 0 {
		t.Errorf("%d logout cookies left after logout", n)
	}
}

// TestRefreshRenewsTheLogoutCookie: a refresh that brings a new ID token hands a new logout cookie to the browser
// with the new session cookie.
func TestRefreshRenewsTheLogoutCookie(t *testing.T) {
	f, m, _, b := loggedIn(t, nil) // tokens last 300s, refresh margin 60s
	old := hintToken(t, m, b)
	f.clock.Advance(250 * time.Second)
	b.get("/a") // starts the refresh
	settleRefreshes(t, m)
	rec := b.get("/b")
	if set := setCookies(rec); set[m.s.cookieName] == nil || set[m.sm.hintNames[0]] == nil {
		t.Fatalf("after the refresh: cookies %v, want the session and the logout cookie", set)
	}
	if nw := hintToken(t, m, b); nw == old {
		t.Error("the logout cookie still holds the login's ID token")
	}
}

func TestHintCookieNames(t *testing.T) {
	cases := map[string]string{"sess": "sess_logout", "__Host-sid": "__Secure-sid_logout", "__Secure-x": "__Secure-x_logout"}
	for name, want := range cases {
		names := hintCookieNames(name)
		if names[0] != want || names[2] != want+"_2" || len(names) != maxSessionChunks {
			t.Errorf("hintCookieNames(%q) = %v, want %s, %s_1, …", name, names, want, want)
		}
	}
}

// TestLogoutCookieSecretRotation: a logout cookie sealed with a previous session secret still gives its ID token
// (previousSessionSecrets), one sealed for another middleware's issuer or client does not (its additional data).
func TestLogoutCookieSecretRotation(t *testing.T) {
	oldSecret := strings.Repeat("o", 32)
	before := sessionMW(t, func(c *Config) { c.SessionSecret = oldSecret })
	after := sessionMW(t, func(c *Config) {
		c.SessionSecret, c.PreviousSessionSecrets = strings.Repeat("n", 40), []string{oldSecret}
	})
	other := sessionMW(t, func(c *Config) { c.SessionSecret, c.ClientID = oldSecret, "another-client" })
	v, err := before.sm.sealHint("chain", "a.id.token")
	if err != nil {
		t.Fatal(err)
	}
	r := withCookies(after.s.logoutPath, &http.Cookie{Name: after.sm.hintNames[0], Value: v})
	if got := after.sm.hintFor(r, &sessionData{ID: "chain"}); got != "a.id.token" {
		t.Errorf("after the rotation: hint %q, want the ID token", got)
	}
	if got := other.sm.hintFor(r, &sessionData{ID: "chain"}); got != "" {
		t.Errorf("another client's middleware: hint %q, want none", got)
	}
}
