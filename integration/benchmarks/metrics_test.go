package benchmarks

import "testing"

// BenchmarkMetrics is the cookie and bearer hot paths (small credentials, both targets) with metricsPath off and on,
// in the same run: the "metrics on vs off" rows. A cached session or token counts nothing (metrics.go counts
// outcomes, which happen off the fast paths), so the rows differ only by noise and the one more own path in the
// map ServeHTTP looks the path up in.
//
//	go test -run '^$' -bench Metrics -benchtime 2000x -count 3 ./benchmarks/
func BenchmarkMetrics(b *testing.B) {
	f := mustFixture(b)
	for _, tg := range f.targets {
		for _, kind := range []string{"cookie", "bearer"} {
			for _, on := range []string{"off", "on"} {
				extra := map[string]any{}
				cred := f.cookies[0]
				if kind == "bearer" {
					extra["allowBearerTokens"] = true
					cred = f.tokens[0]
				}
				if on == "on" {
					extra["metricsPath"] = "/internal/metrics"
				}
				b.Run(tg.Name()+"/"+kind+"/metrics-"+on, func(b *testing.B) {
					h, err := tg.Build(f.config(extra), noop, "bench-metrics-"+on)
					if err != nil {
						b.Fatal(err)
					}
					serveLoop(b, h, cred)
				})
			}
		}
	}
}
