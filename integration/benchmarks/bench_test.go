package benchmarks

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

var noop = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

func mustFixture(tb testing.TB) *fixture {
	tb.Helper()
	f, err := getFixture()
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// serveLoop serves b.N requests carrying cred through h.
func serveLoop(b *testing.B, h http.Handler, cred credential) {
	base, hdr := baseRequest(cred)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request(base, hdr)) // warm: fills the session or token cache
	if rec.Code != http.StatusOK {
		b.Fatalf("warm-up request: status %d", rec.Code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, request(base, hdr))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
	cpu.report(b)
}

// BenchmarkHarness is the cost of the benchmark loop itself (request copy, header clone, recorder) with a no-op
// handler: subtract it from the others.
func BenchmarkHarness(b *testing.B) {
	f := mustFixture(b)
	serveLoop(b, noop, f.cookies[len(f.cookies)-1])
}

// BenchmarkPassthrough is bench/passthrough, a Yaegi middleware that only calls next, with the same request as the
// cookie benchmark: the floor of any Yaegi middleware (compiled: a handler that calls next).
func BenchmarkPassthrough(b *testing.B) {
	f := mustFixture(b)
	b.Run("compiled", func(b *testing.B) {
		serveLoop(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { noop.ServeHTTP(w, r) }), f.cookies[0])
	})
	b.Run("yaegi", func(b *testing.B) {
		pt, err := loadPassthrough()
		if err != nil {
			b.Fatal(err)
		}
		h, err := pt.Build(map[string]any{}, noop, "bench")
		if err != nil {
			b.Fatal(err)
		}
		serveLoop(b, h, f.cookies[0])
	})
}

// BenchmarkCookieSession is a request with a valid session cookie already in the session cache: the hot path of
// browser traffic.
func BenchmarkCookieSession(b *testing.B) {
	f := mustFixture(b)
	for _, tg := range f.targets {
		for _, c := range f.cookies {
			b.Run(tg.Name()+"/"+c.label, func(b *testing.B) {
				h, err := tg.Build(f.config(nil), noop, "bench")
				if err != nil {
					b.Fatal(err)
				}
				serveLoop(b, h, c)
			})
		}
	}
}

// BenchmarkBearerCached is a request with a bearer token already verified and cached: the hot path of API traffic.
func BenchmarkBearerCached(b *testing.B) {
	f := mustFixture(b)
	for _, tg := range f.targets {
		for _, c := range f.tokens {
			b.Run(tg.Name()+"/"+c.label, func(b *testing.B) {
				h, err := tg.Build(f.config(map[string]any{"allowBearerTokens": true}), noop, "bench")
				if err != nil {
					b.Fatal(err)
				}
				serveLoop(b, h, c)
			})
		}
	}
}

// TestSetup checks what the benchmarks rely on, under both targets: every credential authenticates, the upstream
// sees the user and not the session cookie, and the sizes are the advertised ones.
func TestSetup(t *testing.T) {
	f := mustFixture(t)
	if len(f.cookies) != 2 || len(f.tokens) != 2 {
		t.Fatalf("%d cookies and %d tokens, want 2 and 2", len(f.cookies), len(f.tokens))
	}
	if f.cookies[1].size < 7<<10 || f.cookies[1].size > 9<<10 || f.tokens[1].size < 7<<10 || f.tokens[1].size > 9<<10 {
		t.Errorf("large credentials are %d and %d bytes, want ~8 KB", f.cookies[1].size, f.tokens[1].size)
	}
	for _, tg := range f.targets {
		for _, tc := range []struct {
			kind  string
			cfg   map[string]any
			creds []credential
		}{
			{"cookie", f.config(nil), f.cookies},
			{"bearer", f.config(map[string]any{"allowBearerTokens": true}), f.tokens},
		} {
			for _, c := range tc.creds {
				t.Run(tg.Name()+"/"+tc.kind+"/"+c.label, func(t *testing.T) {
					up := &upstreamCheck{want: c.subject}
					h, err := tg.Build(tc.cfg, up, "setup")
					if err != nil {
						t.Fatal(err)
					}
					base, hdr := baseRequest(c)
					for i := 0; i < 3; i++ { // first sight, then cached
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, request(base, hdr))
						if rec.Code != http.StatusOK {
							t.Fatalf("request %d: status %d (Location %q)", i, rec.Code, rec.Header().Get("Location"))
						}
					}
					if up.ok != 3 || up.bad != 0 {
						t.Fatalf("upstream: %d authenticated, %d not", up.ok, up.bad)
					}
				})
			}
		}
	}
}
