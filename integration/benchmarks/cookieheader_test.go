package benchmarks

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// BenchmarkHugeCookieHeader (issue 18 item 2): a request to an excluded path (no session needed) with a ~1 MiB
// Cookie header of pairs named like the plugin's session chunks, compiled and under Traefik's Yaegi loader. Before
// the linear filter with its cap on plugin-named pairs, one such request cost ~14-25 s of CPU under Yaegi.
func BenchmarkHugeCookieHeader(b *testing.B) {
	targets, err := harness.Targets()
	if err != nil {
		b.Fatal(err)
	}
	line := "a=1; " + strings.Repeat("_descopeoidc_1=x; ", (1<<20)/18)
	cfg := map[string]any{"issuer": "https://idp.example.com", "clientID": "c", "clientSecret": "s",
		"sessionSecret": "bench-session-secret-0123456789abcdef", "excludedPaths": "/public"}
	for _, tg := range targets {
		b.Run(tg.Name(), func(b *testing.B) {
			h, err := tg.Build(cfg, noop, "bench")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu := startCPU()
			for i := 0; i < b.N; i++ {
				r := httptest.NewRequest(http.MethodGet, "/public/x", nil)
				r.Header["Cookie"] = []string{line}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
			cpu.report(b)
		})
	}
}
