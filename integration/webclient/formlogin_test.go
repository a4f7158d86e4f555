package webclient

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestFormLogin: redirects are followed on the provider, its login page is answered with the submission, and the
// first redirect leaving the provider is returned without being requested; a page that is not a login page fails.
func TestFormLogin(t *testing.T) {
	const rp = "https://rp.example/callback?code=abc"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login?id=7", http.StatusFound)
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<form>")) })
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("id") != "7" || r.FormValue("user") != "ada" {
			http.Error(w, "bad form", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, rp, http.StatusFound)
	})
	mux.HandleFunc("GET /other", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("not a form")) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	submit := func(user string) LoginPage {
		return func(page *url.URL, body []byte) (*http.Request, error) {
			if page.Path != "/login" || string(body) != "<form>" {
				return nil, nil
			}
			return PostForm(srv.URL+"/login", url.Values{"id": {page.Query().Get("id")}, "user": {user}})
		}
	}
	got, err := FormLogin(nil, srv.URL+"/authorize", srv.URL, submit("ada"))
	if err != nil || got != rp {
		t.Fatalf("FormLogin: expected %s, got %q, %v", rp, got, err)
	}
	if _, err := FormLogin(nil, srv.URL+"/authorize", srv.URL, submit("eve")); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("FormLogin with a refused form: expected an error naming 401, got %v", err)
	}
	if _, err := FormLogin(nil, srv.URL+"/other", srv.URL, submit("ada")); err == nil || !strings.Contains(err.Error(), "not a form") {
		t.Errorf("FormLogin on a page that is not a login page: expected an error quoting it, got %v", err)
	}
}
