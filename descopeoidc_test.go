package descopeoidc

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestNewBuildsMiddleware(t *testing.T) {
	h, err := New(context.Background(), http.NotFoundHandler(), baseConfig(), "router-a")
	if err != nil {
		t.Fatal(err)
	}
	m, ok := h.(*Middleware)
	if !ok || m.name != "router-a" || m.next == nil || m.p == nil || m.sessions == nil || m.bearers == nil || m.sm.states == nil {
		t.Fatalf("New returned %T %+v", h, h)
	}
	if _, err := New(context.Background(), http.NotFoundHandler(), nil, "x"); err == nil {
		t.Error("nil config accepted")
	}
}

func TestServeHTTPRoutesOwnPaths(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.CallbackPath, cfg.LogoutPath = "/auth/cb", "/auth/out"
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)

	rec := b.get("/oauth2/callback?code=x&state=y") // the default path is an ordinary page now
	if rec.Code != http.StatusFound {
		t.Errorf("default callback path: %d", rec.Code)
	}
	if got := mustLocation(t, rec).Query().Get("redirect_uri"); got != appOrigin+"/auth/cb" {
		t.Errorf("redirect_uri %q", got)
	}
	if rec := b.get("/auth/cb?code=x&state=y"); rec.Code != http.StatusBadRequest {
		t.Errorf("callback path: %d", rec.Code)
	}
	if rec := b.get("/auth/out"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `action="/auth/out"`) {
		t.Errorf("logout path: %d", rec.Code)
	}
	b.login("/somewhere")
	if rec := b.get("/somewhere"); rec.Code != http.StatusOK || up.count() != 1 {
		t.Errorf("after login with custom paths: %d", rec.Code)
	}
}

func TestExcludedPathsPassThroughWithoutIdentity(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.ExcludedPaths = []string{"/health", `^/static/.*\.css$`}
	cfg.ForwardHeaders = map[string]string{"X-Forwarded-User": "sub", "X-Legacy-User": ""}
	m, up := newMW(t, f, cfg)
	cases := []struct {
		path     string
		excluded bool
	}{
		{"/health", true},
		{"/health/live", true},
		{"/static/site.css", true},
		{"/static/site.js", false},
		{"/app/static/site.css", false},
		{"/", false},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			before := up.count()
			r := httptest.NewRequest(http.MethodGet, appOrigin+tc.path, nil)
			r.Header.Set("Accept", "text/html")
			r.Header.Set("X-Forwarded-User", "admin")
			r.Header.Set("x-legacy-user", "admin")
			rec := serve(m, r)
			if !tc.excluded {
				if rec.Code != http.StatusFound || up.count() != before {
					t.Errorf("protected path: status %d", rec.Code)
				}
				return
			}
			if rec.Code != http.StatusOK || up.count() != before+1 {
				t.Fatalf("excluded path: status %d", rec.Code)
			}
			h := up.last()
			if _, ok := h["X-Forwarded-User"]; ok {
				t.Error("forged X-Forwarded-User reached upstream on an excluded path")
			}
			if _, ok := h["X-Legacy-User"]; ok {
				t.Error("strip-only header reached upstream")
			}
		})
	}
	if f.discoveryHits.Load() == 0 {
		t.Error("protected paths never started a login")
	}
}

// captureOutput returns what fn writes to stdout, stderr and the standard logger (compiled, the plugin logs to
// log.Writer(): logger.go).
func captureOutput(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, logOut := os.Stdout, os.Stderr, log.Writer()
	os.Stdout, os.Stderr = w, w
	log.SetOutput(w)
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	defer func() {
		os.Stdout, os.Stderr = stdout, stderr
		log.SetOutput(logOut)
	}()
	fn()
	os.Stdout, os.Stderr = stdout, stderr
	log.SetOutput(logOut)
	w.Close()
	return <-done
}
