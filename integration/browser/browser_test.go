package browser

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestTab drives the tab through a loopback page: a redirect, a cookie, a fetch asking for JSON from a page whose CSP forbids it, and a host mapped by HostRules.
func TestTab(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "c", Value: "v1", Path: "/"})
		http.Redirect(w, r, "/page", http.StatusFound)
	})
	mux.HandleFunc("/page", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`<!doctype html><title>landed</title><p>hello</p>`))
	})
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'") // as the echo page: no script may connect
		_, _ = w.Write([]byte("accept=" + r.Header.Get("Accept") + " cookie=" + r.Header.Get("Cookie")))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	site := "http://mapped.test:" + port

	b := Start(t, Options{HostRules: "MAP mapped.test 127.0.0.1", Shots: t.TempDir()})
	b.Run("open /start", chromedp.Navigate(site+"/start"))
	p := b.WaitFor("the page after the redirect", func(p Page) bool { return p.Title == "landed" })
	if p.URL != site+"/page" || !strings.Contains(p.Text, "hello") {
		t.Errorf("page = %+v, want %s/page with its text", p, site)
	}
	if got := b.Cookie(site, "c"); got != "v1" {
		t.Errorf("cookie c = %q, want v1", got)
	}
	if status, body := b.FetchJSON(site + "/api"); status != http.StatusOK || body != "accept=application/json cookie=c=v1" {
		t.Errorf("FetchJSON /api = %d %q, want 200 with the JSON Accept header and the cookie", status, body)
	}
	b.Screenshot("landed")
}
