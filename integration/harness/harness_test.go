package harness

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBothTargetsLoadAndFailClosed loads the plugin under Yaegi and compiled, with an issuer on a closed port:
// New must succeed without network, and a request must get 503 (provider unreachable), never reach upstream.
func TestBothTargetsLoadAndFailClosed(t *testing.T) {
	targets, err := Targets()
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		t.Run(tg.Name(), func(t *testing.T) {
			reached := false
			next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })
			cfg := map[string]any{
				"issuer":        "http://127.0.0.1:1/P2x",
				"clientID":      "P2x",
				"sessionSecret": strings.Repeat("s", 32),
				"scopes":        "openid,email",
			}
			h, err := tg.Build(cfg, next, "smoke")
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://app.example/echo", nil))
			if rec.Code != http.StatusServiceUnavailable || reached {
				t.Fatalf("status %d reached=%v, want 503 and not reached", rec.Code, reached)
			}
			if rec.Header().Get("Retry-After") == "" {
				t.Fatal("no Retry-After")
			}
		})
	}
}

// TestBadConfigNamesTheKey checks that an invalid configuration fails in New with the key's name, under both.
func TestBadConfigNamesTheKey(t *testing.T) {
	targets, err := Targets()
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		_, err := tg.Build(map[string]any{"projectID": "P2x", "sessionSecret": "short"}, http.NotFoundHandler(), "bad")
		if err == nil || !strings.Contains(err.Error(), "sessionSecret") {
			t.Fatalf("%s: err = %v, want a sessionSecret error", tg.Name(), err)
		}
	}
}
