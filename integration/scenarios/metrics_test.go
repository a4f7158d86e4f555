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

// TestMetricsCountUnderYaegi: a login, a bearer token and a logout are counted under both targets (under Yaegi the
// counters are atomic adds on slice elements of an interpreted struct), and the provider requests with them.
func TestMetricsCountUnderYaegi(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		name := "metrics-count-" + tg.Name()
		cfg := merge(baseConfig(idp), map[string]any{"metricsPath": metricsPath, "allowBearerTokens": true})
		e := newEnvAs(t, tg, idp, cfg, name)
		mw := map[string]string{"middleware": name}
		with := func(k, v string) map[string]string { return map[string]string{"middleware": name, k: v} }
		before := e.scrapeMetrics()
		b := e.browser()
		b.mustLogin("/echo/a")
		if v, ok := e.scrapeMetrics().value("descopeoidc_cache_entries", with("cache", "sessions")); !ok || v != 1 {
			t.Errorf("sessions cache after the login: %v entries (present %t), want 1", v, ok)
		}
		if r := b.Get("/oauth2/callback?state=x"); r.Status != http.StatusBadRequest {
			t.Fatalf("callback without code: status %d", r.Status)
		}
		if r := b.Do(http.MethodPost, "/oauth2/logout", map[string]string{"Origin": e.srv.URL}); r.Status != http.StatusSeeOther {
			t.Fatalf("logout: status %d", r.Status)
		}
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/echo/api", nil)
		req.Header.Set("Authorization", "Bearer not.a.jwt")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		after := e.scrapeMetrics()
		for _, c := range []struct {
			fam    string
			labels map[string]string
			delta  float64
		}{
			{"descopeoidc_signins_started_total", mw, 1},
			{"descopeoidc_signins_completed_total", mw, 1},
			{"descopeoidc_signins_failed_total", with("reason", "bad_callback"), 1},
			{"descopeoidc_logouts_total", with("kind", "local"), 1},
			{"descopeoidc_bearer_verifications_total", with("outcome", "rejected"), 1},
			{"descopeoidc_provider_requests_total", map[string]string{"endpoint": "token", "outcome": "ok"}, 1},
			{"descopeoidc_provider_request_duration_seconds", map[string]string{"endpoint": "token"}, 1},
		} {
			a, ok := after.value(c.fam, c.labels)
			bf, _ := before.value(c.fam, c.labels)
			if !ok || a-bf != c.delta {
				t.Errorf("%s%v: %v -> %v, want +%v", c.fam, c.labels, bf, a, c.delta)
			}
		}
		if v, ok := after.value("descopeoidc_cache_entries", with("cache", "sessions")); !ok || v != 0 {
			t.Errorf("sessions cache after the logout: %v entries (present %t), want 0", v, ok)
		}
	})
}
