package adversarial

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestPreflightIsNoWayIn (issue 18 item 5), under Yaegi and compiled: with allowPreflight, an OPTIONS with Origin and
// Access-Control-Request-Method reaches a method-agnostic upstream (one that honours X-HTTP-Method-Override and
// answers any method with its content) without its body or override headers (nor forged identity headers or the
// plugin's cookies), and only the status and the
// Access-Control-*/Vary headers come back: no content, no Set-Cookie.
func TestPreflightIsNoWayIn(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		var mu sync.Mutex
		var sawMethod, sawBody, sawUser, sawCookie string
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			sawMethod, sawBody = r.Method, string(b)
			sawUser, sawCookie = r.Header.Get("X-Forwarded-User"), r.Header.Get("Cookie")
			if o := r.Header.Get("X-HTTP-Method-Override"); o != "" {
				sawMethod = o
			}
			mu.Unlock()
			w.Header().Set("Access-Control-Allow-Origin", "https://spa.example")
			w.Header().Add("Vary", "Origin")
			w.Header().Set("Set-Cookie", "upstream_session=secret")
			_, _ = io.WriteString(w, "protected content")
		})
		idp := newIdP(t)
		h, err := tg.Build(baseConfig(idp, map[string]any{"allowPreflight": "true"}), next, "adversarial")
		if err != nil {
			t.Fatal(err)
		}
		r := appRequest(http.MethodOptions, "/api/items", http.Header{
			"Origin": {"https://spa.example"}, "Access-Control-Request-Method": {"PUT"},
			"X-Http-Method-Override": {"DELETE"}, "X-Http-Method": {"DELETE"}, "Content-Type": {"application/json"},
			"X-Forwarded-User": {"mallory"}, "Cookie": {cookieName + "=forged; theme=dark"},
		})
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader(`{"drop":"all"}`)), 14
		resp := serve(t, h, r)
		mu.Lock()
		defer mu.Unlock()
		if sawMethod != http.MethodOptions || sawBody != "" {
			t.Errorf("upstream acted as %s with body %q; want OPTIONS and no body", sawMethod, sawBody)
		}
		if sawUser != "" || sawCookie != "theme=dark" {
			t.Errorf("upstream saw X-Forwarded-User %q, Cookie %q; want none and theme=dark", sawUser, sawCookie)
		}
		if resp.Status != http.StatusOK || resp.Body != "" || len(resp.Cookies) != 0 {
			t.Errorf("answer %s, cookies %v; want 200 with no body and no Set-Cookie", resp, resp.Cookies)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "https://spa.example" || resp.Header.Get("Vary") != "Origin" {
			t.Errorf("CORS headers lost: %v", resp.Header)
		}
	})
}
