package scenarios

import (
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

const metricsPath = "/internal/metrics"

// metrics is one scrape, parsed by Prometheus' own text parser.
type metrics map[string]*dto.MetricFamily

// scrapeMetrics reads metricsPath through the middleware (the test's TLS server: a loopback client).
func (e *env) scrapeMetrics() metrics {
	e.t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + metricsPath)
	if err != nil {
		e.t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		e.t.Fatalf("scrape: status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		e.t.Fatalf("scrape: Prometheus' parser refuses the exposition: %v", err)
	}
	return fams
}

// value is the sample of family name whose labels include want, and whether there is one.
func (ms metrics) value(name string, want map[string]string) (float64, bool) {
	f := ms[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		n := 0
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
				n++
			}
		}
		if n != len(want) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsEndpoint: under both targets the exposition parses with Prometheus' parser, has the build info and one
// set of series for the middleware's name, and a second instance of the name (a reload) adds none.
func TestMetricsEndpoint(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		name := "metrics-endpoint-" + tg.Name()
		cfg := merge(baseConfig(idp), map[string]any{"metricsPath": metricsPath})
		e := newEnvAs(t, tg, idp, cfg, name)
		before := e.scrapeMetrics()
		if _, ok := before.value("descopeoidc_build_info", map[string]string{}); !ok {
			t.Error("no descopeoidc_build_info")
		}
		e2 := newEnvAs(t, tg, idp, cfg, name) // a reload, or another router with the middleware
		after := e2.scrapeMetrics()
		for fam, f := range after {
			if len(f.GetMetric()) != len(before[fam].GetMetric()) {
				t.Errorf("%s: %d series after a second instance, %d before", fam, len(f.GetMetric()), len(before[fam].GetMetric()))
			}
		}
		if _, ok := after.value("descopeoidc_signins_started_total", map[string]string{"middleware": name}); !ok {
			t.Errorf("no sign-in series for %s", name)
		}
		if e.upstream.Load() != 0 {
			t.Errorf("%d metrics requests reached the upstream", e.upstream.Load())
		}
	})
}
