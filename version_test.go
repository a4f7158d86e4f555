package descopeoidc

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestVersionReportedOncePerProcess: the first New of the process logs the version, later ones (other routers,
// reloads) do not.
func TestVersionReportedOncePerProcess(t *testing.T) {
	versionReported.Lock()
	versionReported.done = false
	versionReported.Unlock()
	cfg := CreateConfig()
	cfg.ProjectID = "P2testProject0000000000000000"
	cfg.SessionSecret = "test-session-secret-of-at-least-32-bytes"
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	out := captureOutput(t, func() {
		for i := 0; i < 3; i++ {
			if _, err := New(context.Background(), next, cfg, "r"); err != nil {
				t.Fatal(err)
			}
		}
	})
	want := "descopeoidc[r] level=info descopeoidc " + version + " started\n"
	if !strings.HasSuffix(out, want) || strings.Count(out, "started") != 1 {
		t.Errorf("output of three New calls = %q, want exactly %q", out, want)
	}
}

func TestVersionIsSemantic(t *testing.T) {
	v := strings.TrimPrefix(version, "v")
	parts := strings.Split(v, ".")
	if !strings.HasPrefix(version, "v") || len(parts) != 3 {
		t.Fatalf("version %q is not vMAJOR.MINOR.PATCH", version)
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" || (len(p) > 1 && p[0] == '0') {
			t.Errorf("version %q: %q is not a number without leading zeros", version, p)
		}
	}
}
