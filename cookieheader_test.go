package descopeoidc

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestStripCookiesKeepsOtherBytes: only the plugin's cookies (session, chunks, login state) leave the Cookie header;
// every other pair reaches upstream byte for byte, quotes, JSON and raw UTF-8 included, over several header lines.
func TestStripCookiesKeepsOtherBytes(t *testing.T) {
	m := sessionMW(t, func(c *Config) { c.CookieName = "sess" })
	cases := []struct {
		name string
		in   []string
		want []string // nil: no Cookie header upstream
	}{
		{"only the session", []string{"sess=abc"}, nil},
		{"session, chunks and state", []string{"sess=2.a; sess_1=b; sess_state_x=c"}, nil},
		{"logout cookie and its chunks", []string{"a=1; sess_logout=2.h; sess_logout_1=i"}, []string{"a=1"}},
		{"names that only look like the logout cookie", []string{"sess_logoutx=1; sess_logout_=2; sess_logout_a=3"},
			[]string{"sess_logoutx=1; sess_logout_=2; sess_logout_a=3"}},
		{"others around", []string{"sess=a; theme=dark; sess_1=b; sess_state_abc=c; other=1"}, []string{"theme=dark; other=1"}},
		{"quoted value", []string{`q="quoted"; sess=a`}, []string{`q="quoted"`}},
		{"JSON value", []string{`sess=a; j={"a":1,"b":[2]}`}, []string{`j={"a":1,"b":[2]}`}},
		{"raw UTF-8", []string{"sess=a; u=Grüße—ok; sess_3=c"}, []string{"u=Grüße—ok"}},
		{"odd spacing kept", []string{"a=1;b=2 ;  sess=x;c=3"}, []string{"a=1;b=2 ;c=3"}},
		{"names that only look like ours", []string{"session=x; sessx=y; sess_theme=z; x_sess=1; a=sess=2; sess_=3"},
			[]string{"session=x; sessx=y; sess_theme=z; x_sess=1; a=sess=2; sess_=3"}},
		{"spaces around the name", []string{"a=1;  sess =x"}, []string{"a=1"}},
		{"several lines", []string{"sess=a", "theme=dark; sess_1=b", "sess_state_q=1"}, []string{"theme=dark"}},
		{"several lines, all ours", []string{"sess=a", "sess_1=b"}, nil},
		{"nothing of ours", []string{"a=1", "b=2"}, []string{"a=1", "b=2"}},
		{"empty pairs only", []string{"sess=a;;"}, nil},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Cookie"] = append([]string(nil), tc.in...)
		stripCookies(m, r)
		got, present := r.Header["Cookie"]
		if tc.want == nil {
			if present {
				t.Errorf("%s: Cookie header %q kept, want none", tc.name, got)
			}
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: upstream Cookie %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestStripCookiesHostPrefix: with a __Host- session name the login-state cookies are __Secure-, and both go.
func TestStripCookiesHostPrefix(t *testing.T) {
	m := sessionMW(t, func(c *Config) { c.CookieName = "__Host-sid" })
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Cookie", "__Host-sid=a; keep=1; __Secure-sid_state_abc=s; __Host-sid_1=b; __Secure-sid_logout=h; __Secure-sid_logout_1=i; __Secure-sid=other")
	stripCookies(m, r)
	if got := r.Header.Get("Cookie"); got != "keep=1; __Secure-sid=other" {
		t.Errorf("upstream Cookie %q, want %q", got, "keep=1; __Secure-sid=other")
	}
}

// TestForwardAuthorization: upstream sees an Authorization header only when the plugin verified it (bearer path,
// the first one only), set it (forwardAccessToken) or was told to keep the client's (keepAuthorizationHeader).
func TestForwardAuthorization(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(c *Config)
		bearer bool
		in     []string
		want   []string
	}{
		{"session path drops the client's", nil, false, []string{"Bearer forged"}, nil},
		{"session path with forwardAccessToken", func(c *Config) { c.ForwardAccessToken = true }, false, []string{"Bearer forged"}, []string{"Bearer at"}},
		{"session path with keepAuthorizationHeader", func(c *Config) { c.KeepAuthorizationHeader = true }, false, []string{"Basic dXNlcg=="}, []string{"Basic dXNlcg=="}},
		{"bearer path keeps the verified one only", nil, true, []string{"Bearer verified", "Bearer forged"}, []string{"Bearer verified"}},
	}
	for _, tc := range cases {
		m := sessionMW(t, tc.mutate)
		session := m.newSessionEntry(&sessionData{Claims: map[string]any{"sub": "u"}, AccessToken: "at", Expiry: 2, Created: 1}, 1)
		up := &upstream{}
		m.next = up
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = tc.in
		r.Header.Set("Cookie", m.s.cookieName+"=x; keep=1")
		forward(m, httptest.NewRecorder(), r, session, tc.bearer)
		if got := up.last()["Authorization"]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: upstream Authorization %q, want %q", tc.name, got, tc.want)
		}
		if got := up.last().Get("Cookie"); got != "keep=1" {
			t.Errorf("%s: upstream Cookie %q, want only keep=1", tc.name, got)
		}
	}
}

// TestSessionHitCookieHeader: on the hot path (a cached session), a header of nothing but the session (one cookie or
// all its chunks) is dropped without parsing, and anything else in it, even pairs Go's parser drops, reaches upstream.
func TestSessionHitCookieHeader(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.ForwardHeaders = map[string]string{"X-Name": "name"}
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"name": strings.Repeat("N", 4000)} })
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)
	b.login("/")
	var chunks []string
	for i := 0; i < maxSessionChunks; i++ {
		if c := b.cookie(m.sm.chunkName(i)); c != nil {
			chunks = append(chunks, c.Name+"="+c.Value)
		}
	}
	if len(chunks) < 2 {
		t.Fatalf("session in %d cookie(s), want it chunked", len(chunks))
	}
	session := strings.Join(chunks, "; ")
	small := newBrowser(t, m)
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"name": "Nn"} })
	small.login("/")
	one := m.s.cookieName + "=" + small.cookie(m.s.cookieName).Value
	cases := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"one cookie", []string{one}, nil},
		{"one cookie and another", []string{one + "; a=1"}, []string{"a=1"}},
		{"another and one cookie", []string{"a=1; " + one}, []string{"a=1"}},
		{"one cookie, an empty pair", []string{one + ";"}, nil},
		{"one cookie on each of two lines", []string{one, "a=1"}, []string{"a=1"}},
		{"all the chunks", []string{session}, nil},
		{"chunks and a JSON cookie Go's parser drops", []string{session + `; j={"a":1}`}, []string{`j={"a":1}`}},
		{"chunks and an empty pair", []string{session + ";"}, nil},
		{"chunks and a chunk twice", []string{session + "; " + chunks[1]}, nil},
		{"chunks on two lines with another", []string{chunks[0], strings.Join(chunks[1:], "; ") + "; x=1"}, []string{"x=1"}},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodGet, appOrigin+"/", nil)
		r.Header["Cookie"] = tc.lines
		before := up.count()
		if rec := serve(m, r); rec.Code != http.StatusOK || up.count() != before+1 {
			t.Errorf("%s: status %d, want the upstream", tc.name, rec.Code)
			continue
		}
		if got := up.last()["Cookie"]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: upstream Cookie %.80q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestFastPathsForwardLikeForward: sessionHit and bearerHit inline forward; what upstream gets from them (identity
// headers, Authorization, Cookie) is what forward gives on the other paths. A request with an Authorization header
// that is no bearer token goes to sessionParsed (forward), one without goes to sessionHit: both are checked.
func TestFastPathsForwardLikeForward(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(c *Config)
		auth   string
		want   func(d *sessionData) []string
	}{
		{"client's Authorization dropped", nil, "Basic dXNlcg==", func(*sessionData) []string { return nil }},
		{"forwardAccessToken", func(c *Config) { c.ForwardAccessToken = true }, "Basic dXNlcg==", func(d *sessionData) []string { return []string{"Bearer " + d.AccessToken} }},
		{"keepAuthorizationHeader", func(c *Config) { c.KeepAuthorizationHeader = true }, "Basic dXNlcg==", func(*sessionData) []string { return []string{"Basic dXNlcg=="} }},
		{"no Authorization", nil, "", func(*sessionData) []string { return nil }},
		{"no Authorization, forwardAccessToken", func(c *Config) { c.ForwardAccessToken = true }, "", func(d *sessionData) []string { return []string{"Bearer " + d.AccessToken} }},
		{"no Authorization, keepAuthorizationHeader", func(c *Config) { c.KeepAuthorizationHeader = true }, "", func(*sessionData) []string { return nil }},
	}
	for _, tc := range cases {
		_, m, up, b := loggedIn(t, func(c *Config) {
			c.ForwardHeaders = map[string]string{"X-Forwarded-User": "sub"}
			if tc.mutate != nil {
				tc.mutate(c)
			}
		})
		b.get("/") // caches the session
		pair := m.s.cookieName + "=" + b.cookie(m.s.cookieName).Value
		for _, line := range []string{pair, pair + "; keep=1"} { // sessionHit's fast path, then sessionParsed's
			r := httptest.NewRequest(http.MethodGet, appOrigin+"/", nil)
			r.Header.Set("Cookie", line)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			r.Header.Set("X-Forwarded-User", "forged")
			if rec := serve(m, r); rec.Code != http.StatusOK {
				t.Fatalf("%s, %.20q…: status %d", tc.name, line, rec.Code)
			}
			h := up.last()
			if got, want := h["Authorization"], tc.want(b.session()); !reflect.DeepEqual(got, want) {
				t.Errorf("%s, %.20q…: upstream Authorization %q, want %q", tc.name, line, got, want)
			}
			if h.Get("X-Forwarded-User") != testSub || strings.Contains(h.Get("Cookie"), m.s.cookieName) {
				t.Errorf("%s, %.20q…: upstream user %q, Cookie %q", tc.name, line, h.Get("X-Forwarded-User"), h.Get("Cookie"))
			}
		}
	}
}

// TestBearerFastPathForwardsLikeForward: a cached bearer token (bearerHit's inlined forward) reaches upstream with
// the verified Authorization header only and without the plugin's cookies, as on its first request (forward).
func TestBearerFastPathForwardsLikeForward(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.AllowBearerTokens = true
	m, up := newMW(t, f, cfg)
	c := f.idClaims("")
	c["exp"] = f.clock.Now().Unix() + 3600
	tok := f.mint(c)
	for i := 0; i < 2; i++ { // verified and cached, then the fast path
		r := bearerRequest(tok)
		r.Header.Add("Authorization", "Bearer forged")
		r.Header.Set("Cookie", "a=1; "+m.s.cookieName+"=x")
		r.Header.Set("X-Forwarded-User", "forged")
		if rec := serve(m, r); rec.Code != http.StatusOK {
			t.Fatalf("request %d: status %d", i, rec.Code)
		}
		h := up.last()
		if got := h["Authorization"]; !reflect.DeepEqual(got, []string{"Bearer " + tok}) || h.Get("Cookie") != "a=1" || h.Get("X-Forwarded-User") != testSub {
			t.Errorf("request %d: upstream Authorization %d values, Cookie %q, user %q", i, len(got), h.Get("Cookie"), h.Get("X-Forwarded-User"))
		}
	}
}
