package adversarial

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// onSite reports whether a Location keeps the browser on the app, read the way browsers read it (tabs and newlines
// dropped, backslashes as slashes in http(s) URLs).
func onSite(loc string) bool {
	l := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(loc)
	if !strings.HasPrefix(l, "/") || strings.HasPrefix(l, "//") {
		return false
	}
	u, err := url.Parse(l)
	if err != nil {
		return false
	}
	base, _ := url.Parse(callbackURI)
	res := base.ResolveReference(u)
	return res.Scheme == "https" && res.Host == appHost
}

// TestPostLoginRedirectStaysOnSite: whatever URL started the login, the callback only redirects on this site.
func TestPostLoginRedirectStaysOnSite(t *testing.T) {
	o := newOutcomes(t)
	requestURIs := []string{
		"//evil.example", "//evil.example/path", "/\\evil.example", "/%2F%2Fevil.example", "/%5Cevil.example",
		"/%5C%5Cevil.example", "/%2F/evil.example", "/https://evil.example", "/.//evil.example", "/..//evil.example",
		"/%2e%2e//evil.example", "/%09/evil.example", "/app?next=//evil.example", "/\\/evil.example",
	}
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		h, up := build(t, tg, baseConfig(idp, nil))
		for _, target := range requestURIs {
			target := target
			t.Run(target, func(t *testing.T) {
				b := newBrowser(t, h)
				resp := b.mustLogin(idp, target)
				loc := resp.location()
				if !onSite(loc) {
					t.Errorf("after login from %q the callback redirects to %q: off-site", target, loc)
				}
				before := up.count()
				if next := b.get(loc); next.Status != http.StatusOK || up.count() != before+1 {
					t.Errorf("following %q: %s", loc, next)
				}
				o.record(tg.Name(), "redirect "+target, "Location="+loc)
			})
		}
		// absolute-form request line: Go (and Traefik) take the Host from it; the redirect_uri then names that host
		// and the provider refuses it (unregistered), so no login starts for a foreign host.
		t.Run("absolute-form https://evil.example/", func(t *testing.T) {
			b := newBrowser(t, h)
			au, err := b.startLogin(idp, "https://evil.example/")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.authorize(au); err == nil {
				t.Errorf("the provider accepted redirect_uri %q", au.Query().Get("redirect_uri"))
			}
			o.record(tg.Name(), "redirect absolute-form", "redirect_uri="+au.Query().Get("redirect_uri"))
		})
	})
}

// TestOversizedInput: oversized cookies, headers and parameters get a 4xx (or the login redirect), never a 500.
func TestOversizedInput(t *testing.T) {
	o := newOutcomes(t)
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		h, up := build(t, tg, baseConfig(idp, map[string]any{"allowBearerTokens": true}))
		api := func() http.Header { return http.Header{"Accept": {"application/json"}} }
		huge := strings.Repeat("A", 200<<10)
		var chunked []string
		for i := 0; i < 8; i++ {
			chunked = append(chunked, strings.Repeat("B", 100<<10))
		}
		chunked[0] = "8." + chunked[0]
		var junk []string
		for i := 0; i < 1000; i++ {
			junk = append(junk, fmt.Sprintf("%s_state_%04d=%s", cookieName, i, strings.Repeat("C", 40)))
		}
		cases := []struct {
			name string
			req  func() *http.Request
			want func(int) bool
		}{
			{"200 KB session cookie (browser)", func() *http.Request { return withCookie(navigation(), cookieName+"="+huge) }, redirectOr4xx},
			{"200 KB session cookie (API)", func() *http.Request { return withCookie(api(), cookieName+"="+huge) }, is4xx},
			{"8 chunks of 100 KB (API)", func() *http.Request { return withCookie(api(), chunkHeader(chunked)) }, is4xx},
			{"1000 login cookies (API)", func() *http.Request { return withCookie(api(), strings.Join(junk, "; ")) }, is4xx},
			{"100 KB bearer token", func() *http.Request {
				hd := api()
				hd.Set("Authorization", "Bearer "+huge[:100<<10])
				return appRequest(http.MethodGet, "/app", hd)
			}, is4xx},
			{"bearer token of 3 huge segments", func() *http.Request {
				hd := api()
				hd.Set("Authorization", "Bearer "+huge[:5000]+"."+huge[:5000]+"."+huge[:5000])
				return appRequest(http.MethodGet, "/app", hd)
			}, is4xx},
			{"64 KB forged identity header (API)", func() *http.Request {
				hd := api()
				hd.Set("X-Forwarded-User", huge[:64<<10])
				return appRequest(http.MethodGet, "/app", hd)
			}, is4xx},
			{"64 KB state and code on the callback", func() *http.Request {
				return appRequest(http.MethodGet, "/oauth2/callback?state="+huge[:64<<10]+"&code="+huge[:64<<10], navigation())
			}, is4xx},
			{"100 KB error_description on the callback", func() *http.Request {
				return appRequest(http.MethodGet, "/oauth2/callback?error=access_denied&error_description="+huge[:100<<10], navigation())
			}, is4xx},
			{"10 KB path", func() *http.Request { return appRequest(http.MethodGet, "/"+huge[:10<<10], navigation()) }, redirectOr4xx},
		}
		for _, c := range cases {
			c := c
			t.Run(c.name, func(t *testing.T) {
				before := up.count()
				resp := serve(t, h, c.req())
				if !c.want(resp.Status) || up.count() != before || resp.sessionSet() {
					t.Errorf("%s, upstream +%d, session %v", resp, up.count()-before, resp.sessionSet())
				}
				if len(resp.Body) > 4096 {
					t.Errorf("answer of %d bytes: the input is echoed?", len(resp.Body))
				}
				for _, ck := range resp.Cookies {
					if len(ck.Value) > 4000 {
						t.Errorf("cookie %s of %d bytes set", ck.Name, len(ck.Value))
					}
				}
				o.record(tg.Name(), "oversized: "+c.name, fmt.Sprintf("status=%d", resp.Status))
			})
		}
	})
}

func is4xx(s int) bool         { return s >= 400 && s < 500 }
func redirectOr4xx(s int) bool { return s == http.StatusFound || is4xx(s) }
