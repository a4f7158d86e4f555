package webclient

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/echo"
)

// TestBrowser: paths go to the site, redirects are not followed, cookies are kept per browser (a second browser on
// the same server's client has a jar of its own), On shares them, and Echo decodes the echo service's answer.
func TestBrowser(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "v1", Path: "/"})
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.Handle("/echo", echo.Handler())
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()

	b := NewBrowser(t, srv.Client(), srv.URL)
	r := b.Get("/set")
	if r.Status != http.StatusFound || r.Location() != "/elsewhere" {
		t.Fatalf("GET /set: expected 302 to /elsewhere (not followed), got %d %q", r.Status, r.Location())
	}
	if got := b.Cookie("sid"); got != "v1" {
		t.Fatalf("cookie sid: expected v1, got %q", got)
	}
	if other := NewBrowser(t, srv.Client(), srv.URL); other.Cookie("sid") != "" || b.Cookie("sid") != "v1" {
		t.Fatalf("a second browser: expected its own empty jar and the first one's kept, got %q and %q", other.Cookie("sid"), b.Cookie("sid"))
	}
	if on := b.On(srv.URL); on.Cookie("sid") != "v1" {
		t.Fatalf("On: expected the shared cookie v1, got %q", on.Cookie("sid"))
	}
	b.SetCookie("extra", "x")
	er := b.Echo("/echo?q=1", map[string]string{"X-Test": "yes"})
	if er.Path != "/echo" || er.Query != "q=1" || er.Headers["X-Test"] != "yes" || !strings.Contains(er.Headers["Cookie"], "extra=x") {
		t.Errorf("echo: expected /echo?q=1 with X-Test and the extra cookie, got %+v", er)
	}
}
