package adversarial

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/badidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

func withQuery(u *url.URL, set map[string]string, del ...string) *url.URL {
	c := *u
	q := c.Query()
	for k, v := range set {
		q.Set(k, v)
	}
	for _, k := range del {
		q.Del(k)
	}
	c.RawQuery = q.Encode()
	return &c
}

// pendingLogin starts a login in b and stops at the provider's redirect back: the callback is not delivered yet.
func pendingLogin(t *testing.T, b *browser, idp *badidp.Server) *url.URL {
	t.Helper()
	cb := b.mustReachCallback(idp, "/app")
	return cb
}

// stateCookie is the login cookie b holds for the callback's state.
func stateCookie(t *testing.T, b *browser, cb *url.URL) (name, value string) {
	t.Helper()
	name = stateCookieName(cb.Query().Get("state"))
	if value = b.cookie(name); value == "" {
		t.Fatalf("no login cookie %s", name)
	}
	return name, value
}

func callbackWithCookie(t *testing.T, h http.Handler, cb *url.URL, cookie string) response {
	t.Helper()
	r := appRequest(http.MethodGet, cb.RequestURI(), navigation())
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	return serve(t, h, r)
}

func reseal(t *testing.T, idp *badidp.Server, value string, edit func(map[string]any)) string {
	t.Helper()
	pt, err := openState(idp, value)
	if err != nil {
		t.Fatalf("the test cannot open the login cookie (format changed?): %v", err)
	}
	var d map[string]any
	if err := json.Unmarshal(pt, &d); err != nil {
		t.Fatal(err)
	}
	edit(d)
	b, _ := json.Marshal(d)
	return sealState(idp, b)
}

func flip(s string, i int) string {
	c := s[i]
	if c == 'A' {
		c = 'B'
	} else {
		c = 'A'
	}
	return s[:i] + string(c) + s[i+1:]
}

// TestStateAttacks: the callback must belong to a login this browser started, once, recently.
func TestStateAttacks(t *testing.T) {
	o := newOutcomes(t)
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		h, up := build(t, tg, baseConfig(idp, nil))
		cases := []struct {
			name   string
			status int
			run    func(t *testing.T) (response, *url.URL)
		}{
			{"state missing", 400, func(t *testing.T) (response, *url.URL) {
				b := newBrowser(t, h)
				cb := pendingLogin(t, b, idp)
				return b.callback(withQuery(cb, nil, "state")), cb
			}},
			{"code missing", 400, func(t *testing.T) (response, *url.URL) {
				b := newBrowser(t, h)
				cb := pendingLogin(t, b, idp)
				return b.callback(withQuery(cb, nil, "code")), cb
			}},
			{"state wrong", 400, func(t *testing.T) (response, *url.URL) {
				b := newBrowser(t, h)
				cb := pendingLogin(t, b, idp)
				return b.callback(withQuery(cb, map[string]string{"state": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})), cb
			}},
			{"state wrong, same cookie-name prefix", 400, func(t *testing.T) (response, *url.URL) {
				b := newBrowser(t, h)
				cb := pendingLogin(t, b, idp)
				st := cb.Query().Get("state")
				return b.callback(withQuery(cb, map[string]string{"state": st[:16] + strings.Repeat("x", len(st)-16)})), cb
			}},
			{"login cookie tampered", 400, func(t *testing.T) (response, *url.URL) {
				b := newBrowser(t, h)
				cb := pendingLogin(t, b, idp)
				name, value := stateCookie(t, b, cb)
				return callbackWithCookie(t, h, cb, name+"="+flip(value, len(value)/2)), cb
			}},
			{"login cookie of another attempt", 400, func(t *testing.T) (response, *url.URL) {
				b := newBrowser(t, h)
				cbA := pendingLogin(t, b, idp)
				cbB := pendingLogin(t, b, idp)
				_, valueA := stateCookie(t, b, cbA)
				nameB, _ := stateCookie(t, b, cbB)
				return callbackWithCookie(t, h, cbB, nameB+"="+valueA), cbB
			}},
			{"login cookie expired (re-sealed with the secret)", 400, func(t *testing.T) (response, *url.URL) {
				b := newBrowser(t, h)
				cb := pendingLogin(t, b, idp)
				name, value := stateCookie(t, b, cb)
				v := reseal(t, idp, value, func(d map[string]any) { d["e"] = time.Now().Add(-time.Second).Unix() })
				return callbackWithCookie(t, h, cb, name+"="+v), cb
			}},
			{"no login cookie (login CSRF: attacker's callback link)", 400, func(t *testing.T) (response, *url.URL) {
				attacker := newBrowser(t, h)
				cb := pendingLogin(t, attacker, idp)
				return newBrowser(t, h).callback(cb), cb
			}},
			{"replayed callback", 400, func(t *testing.T) (response, *url.URL) {
				b := newBrowser(t, h)
				cb := pendingLogin(t, b, idp)
				cookies := b.cookieHeader("/oauth2/callback")
				first := callbackWithCookie(t, h, cb, cookies)
				if first.Status != http.StatusFound || !first.sessionSet() {
					t.Fatalf("first callback: %s", first)
				}
				return callbackWithCookie(t, h, cb, cookies), cb
			}},
		}
		for _, c := range cases {
			c := c
			t.Run(c.name, func(t *testing.T) {
				before := up.count()
				resp, cb := c.run(t)
				expectRejected(t, resp, &upstream{}, idp, cb, c.status)
				if up.count() != before {
					t.Errorf("upstream reached")
				}
				o.record(tg.Name(), c.name, fmt.Sprintf("callback=%d session=%v", resp.Status, resp.sessionSet()))
			})
		}
		// positive control for the re-sealing above: an unchanged, re-sealed login cookie is accepted, so the
		// expired case failed for its expiry, not for a format mistake in the test.
		t.Run("control: re-sealed unchanged login cookie works", func(t *testing.T) {
			b := newBrowser(t, h)
			cb := pendingLogin(t, b, idp)
			name, value := stateCookie(t, b, cb)
			resp := callbackWithCookie(t, h, cb, name+"="+reseal(t, idp, value, func(map[string]any) {}))
			if resp.Status != http.StatusFound || !resp.sessionSet() {
				t.Fatalf("re-sealed login cookie: %s", resp)
			}
			o.record(tg.Name(), "control re-sealed", fmt.Sprintf("callback=%d", resp.Status))
		})
	})
}

// TestProviderErrorOnCallback: error=access_denied gives a friendly page with a retry link, 401, no redirect.
func TestProviderErrorOnCallback(t *testing.T) {
	o := newOutcomes(t)
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		h, up := build(t, tg, baseConfig(idp, nil))
		b := newBrowser(t, h)
		au, err := b.startLogin(idp, "/app")
		if err != nil {
			t.Fatal(err)
		}
		state := au.Query().Get("state")
		evil := `<script>alert("x")</script> PROVIDER-SAYS-SECRET`
		cb := &url.URL{Path: "/oauth2/callback", RawQuery: url.Values{
			"error": {"access_denied"}, "error_description": {evil}, "state": {state},
		}.Encode()}
		resp := b.send(appRequest(http.MethodGet, cb.RequestURI(), navigation()))
		if resp.Status != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", resp.Status)
		}
		if resp.location() != "" {
			t.Errorf("error page redirects to %q", resp.location())
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(resp.Body, `id="retry" href="/"`) {
			t.Errorf("want an HTML page with a retry link, got %q: %s", resp.Header.Get("Content-Type"), resp.Body)
		}
		if strings.Contains(resp.Body, "<script>") || strings.Contains(resp.Body, "PROVIDER-SAYS-SECRET") {
			t.Errorf("the provider's error_description reached the page: %s", resp.Body)
		}
		if resp.sessionSet() || up.count() != 0 {
			t.Errorf("session set or upstream reached")
		}
		if b.cookie(stateCookieName(state)) != "" {
			t.Errorf("the login cookie was not cleared")
		}
		// following the retry link starts one new login; nothing loops
		retry := b.get("/")
		if retry.Status != http.StatusFound || !strings.HasPrefix(retry.location(), idp.Issuer()+"/authorize?") {
			t.Errorf("retry link: %s", retry)
		}
		noState := b.send(appRequest(http.MethodGet, "/oauth2/callback?error=access_denied", navigation()))
		if noState.Status != http.StatusUnauthorized || noState.location() != "" {
			t.Errorf("error without state: %s", noState)
		}
		o.record(tg.Name(), "access_denied", fmt.Sprintf("status=%d retry=%d nostate=%d", resp.Status, retry.Status, noState.Status))
	})
}

// TestCodeInjection: a code obtained elsewhere cannot be redeemed in the victim's login.
func TestCodeInjection(t *testing.T) {
	o := newOutcomes(t)
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		idp.SetRedirectURIs(callbackURI, badidp.ForeignRedirectURI)
		h, up := build(t, tg, baseConfig(idp, nil))
		cases := []struct {
			name string
			code func(t *testing.T, victimAuth *url.URL) string
		}{
			{"attacker's own code (PKCE mismatch)", func(t *testing.T, _ *url.URL) string {
				attacker := newBrowser(t, h)
				attacker.hint = "attacker"
				return pendingLogin(t, attacker, idp).Query().Get("code")
			}},
			{"code issued for another redirect_uri", func(t *testing.T, au *url.URL) string {
				cb, err := newBrowser(t, h).authorize(withQuery(au, map[string]string{"redirect_uri": badidp.ForeignRedirectURI}))
				if err != nil {
					t.Fatal(err)
				}
				return cb.Query().Get("code")
			}},
			{"code issued to another client", func(t *testing.T, au *url.URL) string {
				cb, err := newBrowser(t, h).authorize(withQuery(au, map[string]string{"client_id": badidp.OtherClientID}))
				if err != nil {
					t.Fatal(err)
				}
				return cb.Query().Get("code")
			}},
			{"code already redeemed", func(t *testing.T, _ *url.URL) string {
				b := newBrowser(t, h)
				cb := pendingLogin(t, b, idp)
				if r := b.callback(cb); r.Status != http.StatusFound {
					t.Fatalf("first use: %s", r)
				}
				return cb.Query().Get("code")
			}},
		}
		for _, c := range cases {
			c := c
			t.Run(c.name, func(t *testing.T) {
				victim := newBrowser(t, h)
				au, err := victim.startLogin(idp, "/app")
				if err != nil {
					t.Fatal(err)
				}
				before := up.count()
				code := c.code(t, au)
				cb := &url.URL{Scheme: "https", Host: appHost, Path: "/oauth2/callback",
					RawQuery: url.Values{"code": {code}, "state": {au.Query().Get("state")}}.Encode()}
				resp := victim.callback(cb)
				expectRejected(t, resp, &upstream{}, idp, cb, http.StatusUnauthorized)
				if up.count() != before {
					t.Errorf("upstream reached")
				}
				if got := idp.LastTokenRequest().Outcome; got != "invalid_grant" {
					t.Errorf("provider answered %q, want invalid_grant", got)
				}
				o.record(tg.Name(), c.name, fmt.Sprintf("callback=%d idp=%s", resp.Status, idp.LastTokenRequest().Outcome))
			})
		}
	})
}
