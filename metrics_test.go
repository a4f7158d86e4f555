package descopeoidc

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMetricCountersTable keeps the counter table in step with its constants: one row per counter, a known family,
// label values of the bounded kind, and histogram bounds that say what their labels say.
func TestMetricCountersTable(t *testing.T) {
	if len(metricCounters) != nCounters {
		t.Fatalf("%d rows in metricCounters, %d counters", len(metricCounters), nCounters)
	}
	if len(metricFamilies) != nFamilies || len(endpointNames) != nEndpoints || len(outcomeNames) != nOutcomes {
		t.Fatal("a name table is out of step with its constants")
	}
	label := regexp.MustCompile(`^([a-z]+="[a-z_]+")?$`)
	seen := map[string]bool{}
	for i, c := range metricCounters {
		if c.fam <= famBuildInfo || c.fam >= nFamilies || !label.MatchString(c.labels) {
			t.Errorf("counter %d: family %d, labels %q", i, c.fam, c.labels)
		}
		if key := fmt.Sprint(c.fam, c.labels); seen[key] {
			t.Errorf("counter %d: %s{%s} twice", i, metricFamilies[c.fam].name, c.labels)
		} else {
			seen[key] = true
		}
	}
	for i, c := range cacheNames {
		if want := `cache="` + c + `"`; metricCounters[mEvictSessions+i].labels != want {
			t.Errorf("eviction counter %d is %q, want %q", i, metricCounters[mEvictSessions+i].labels, want)
		}
	}
	if len(durationBuckets) != len(durationBounds) {
		t.Fatal("durationBuckets and durationBounds differ in length")
	}
	for i, s := range durationBuckets {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || time.Duration(f*float64(time.Second)) != durationBounds[i] {
			t.Errorf("bucket %s is not %s", s, durationBounds[i])
		}
	}
	name := regexp.MustCompile(`^descopeoidc_[a-z_]+$`)
	for _, f := range metricFamilies {
		if !name.MatchString(f.name) || (f.typ == "counter") != strings.HasSuffix(f.name, "_total") {
			t.Errorf("family %s (%s): not a conventional name", f.name, f.typ)
		}
	}
}

// newNamedMW is newMW with a middleware name of the test's own, so that its counters start at zero.
func newNamedMW(t testing.TB, f *fakeIdP, cfg *Config, name string) (*Middleware, *upstream) {
	t.Helper()
	up := &upstream{}
	h, err := New(context.Background(), up, cfg, name)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	m := h.(*Middleware)
	m.now, m.since = f.clock.Now, f.clock.Since
	m.p.mu.Lock()
	m.p.now = f.clock.Now
	m.p.mu.Unlock()
	return m, up
}

// scrape asks m's metricsPath from addr and returns the parsed samples (series -> value), checking the format.
func scrape(t testing.TB, m *Middleware, addr string) map[string]float64 {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "https://app.example"+m.s.metricsPath, nil)
	r.RemoteAddr = addr
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape from %s: status %d: %s", addr, rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	samples, err := parseExposition(rec.Body.String())
	if err != nil {
		t.Fatalf("exposition: %v\n%s", err, rec.Body.String())
	}
	return samples
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^{}]*\})? ([-+0-9.eE]+|\+Inf|NaN)$`)
	labelPair  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"$`)
	pairSplit  = regexp.MustCompile(`,([a-zA-Z_][a-zA-Z0-9_]*=")`)
)

// parseExposition checks text against the text format 0.0.4 as Prometheus reads it (HELP and TYPE once per family,
// before its samples; each sample of a declared family; no series twice; cumulative histogram buckets ending in
// +Inf equal to _count) and returns its samples.
func parseExposition(text string) (map[string]float64, error) {
	types := map[string]string{}
	samples := map[string]float64{}
	if !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("no final newline")
	}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && (f[1] == "HELP" || f[1] == "TYPE") {
			if f[1] == "TYPE" {
				if _, dup := types[f[2]]; dup || len(f) != 4 {
					return nil, fmt.Errorf("TYPE line %q: repeated or malformed", line)
				}
				types[f[2]] = f[3]
			}
			continue
		}
		g := sampleLine.FindStringSubmatch(line)
		if g == nil {
			return nil, fmt.Errorf("line %q is not a sample", line)
		}
		family := g[1]
		if types[family] == "" {
			family = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(family, "_bucket"), "_sum"), "_count")
			if types[family] != "histogram" {
				return nil, fmt.Errorf("sample %q of no declared family", line)
			}
		}
		if g[2] != "" {
			for _, p := range strings.Split(pairSplit.ReplaceAllString(strings.Trim(g[2], "{}"), "\x00$1"), "\x00") {
				if !labelPair.MatchString(p) {
					return nil, fmt.Errorf("line %q: label %q", line, p)
				}
			}
		}
		series := g[1] + g[2]
		if _, dup := samples[series]; dup {
			return nil, fmt.Errorf("series %s twice", series)
		}
		v, err := strconv.ParseFloat(g[3], 64)
		if err != nil {
			return nil, err
		}
		samples[series] = v
	}
	return samples, checkHistograms(types, samples)
}

// checkHistograms checks that each histogram's buckets never decrease and that +Inf equals _count.
func checkHistograms(types map[string]string, samples map[string]float64) error {
	for series, v := range samples {
		i := strings.Index(series, "_bucket{")
		if i < 0 || types[series[:i]] != "histogram" || !strings.HasSuffix(series, `le="+Inf"}`) {
			continue
		}
		prefix := strings.TrimSuffix(series, `le="+Inf"}`) // name_bucket{ and the other labels with their comma
		others := strings.TrimSuffix(prefix[i+len("_bucket{"):], ",")
		count := series[:i] + "_count"
		if others != "" {
			count += "{" + others + "}"
		}
		if c, ok := samples[count]; !ok || c != v {
			return fmt.Errorf("%s is %v, %s %v", series, v, count, c)
		}
		prev := -1.0
		for _, le := range durationBuckets {
			b, ok := samples[prefix+`le="`+le+`"}`]
			if !ok || b < prev || b > v {
				return fmt.Errorf("%s: bucket %s is %v after %v", series, le, b, prev)
			}
			prev = b
		}
	}
	return nil
}

func metricsConfig(f *fakeIdP) *Config {
	c := f.config()
	c.MetricsPath = "/internal/metrics"
	return c
}

// TestMetricsEndpointRefusesOthers: metricsPath answers loopback clients by default and only them, whatever a
// forwarded header says; metricsSourceRange replaces the default; only GET and HEAD.
func TestMetricsEndpointRefusesOthers(t *testing.T) {
	f := newFakeIdP(t)
	m, up := newNamedMW(t, f, metricsConfig(f), "metrics-endpoint")
	_ = scrape(t, m, "127.0.0.1:5555")
	_ = scrape(t, m, "[::1]:5555")
	try := func(m *Middleware, method, addr string, hdr map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "https://app.example/internal/metrics", nil)
		r.RemoteAddr = addr
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, r)
		return rec
	}
	for _, addr := range []string{"10.1.2.3:4000", "192.0.2.7:80", "[2001:db8::1]:443", "garbage"} {
		rec := try(m, http.MethodGet, addr, map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Real-Ip": "127.0.0.1"})
		if rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), "descopeoidc_") {
			t.Errorf("from %s: status %d, body %q; want 403 without metrics", addr, rec.Code, rec.Body.String())
		}
	}
	if rec := try(m, http.MethodPost, "127.0.0.1:1", nil); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", rec.Code)
	}
	if rec := try(m, http.MethodHead, "127.0.0.1:1", nil); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD: status %d, %d bytes", rec.Code, rec.Body.Len())
	}
	c := metricsConfig(f)
	c.MetricsSourceRange = []string{"10.0.0.0/8", "192.0.2.7"}
	m2, _ := newNamedMW(t, f, c, "metrics-endpoint")
	_ = scrape(t, m2, "10.1.2.3:4000")
	_ = scrape(t, m2, "192.0.2.7:80")
	if rec := try(m2, http.MethodGet, "127.0.0.1:1", nil); rec.Code != http.StatusForbidden {
		t.Errorf("loopback with a metricsSourceRange without it: status %d, want 403", rec.Code)
	}
	if up.count() != 0 {
		t.Errorf("%d metrics requests went upstream", up.count())
	}
}

// TestMetricsSettings: every way to misconfigure the metrics fails in New naming the key.
func TestMetricsSettings(t *testing.T) {
	cases := []struct {
		key string
		set func(*Config)
	}{
		{"metricsPath", func(c *Config) { c.MetricsPath = "metrics" }},
		{"metricsPath", func(c *Config) { c.MetricsPath = "/oauth2/callback" }},
		{"metricsPath", func(c *Config) { c.MetricsPath = "/oauth2/login" }},
		{"metricsSourceRange", func(c *Config) { c.MetricsPath = "/m"; c.MetricsSourceRange = []string{"10.0.0.0/33"} }},
		{"metricsSourceRange", func(c *Config) { c.MetricsPath = "/m"; c.MetricsSourceRange = []string{"localhost"} }},
		{"metricsSourceRange", func(c *Config) { c.MetricsSourceRange = []string{"10.0.0.0/8"} }},
	}
	for _, tc := range cases {
		settingsWith(t, tc.set, tc.key)
	}
	s := settingsWith(t, func(c *Config) { c.MetricsPath = "/m" }, "")
	if !s.ownPaths["/m"] || len(s.metricsSources) != 2 {
		t.Errorf("metricsPath /m: own %v, %d default sources", s.ownPaths["/m"], len(s.metricsSources))
	}
	// ${...} is expanded once: a value that itself holds "${...}" stays as it is.
	t.Setenv("METRICS_PATH_TEST", "/env-metrics${NOT_SET_ANYWHERE}")
	if s := settingsWith(t, func(c *Config) { c.MetricsPath = "${METRICS_PATH_TEST}" }, ""); s.metricsPath != "/env-metrics${NOT_SET_ANYWHERE}" {
		t.Errorf("metricsPath expanded twice: %q", s.metricsPath)
	}
	t.Setenv("METRICS_PATH_TEST", "/env-metrics")
	if s := settingsWith(t, func(c *Config) { c.MetricsPath = "${METRICS_PATH_TEST}" }, ""); s.metricsPath != "/env-metrics" {
		t.Errorf("metricsPath from the environment: %q", s.metricsPath)
	}
	if s := settingsWith(t, func(*Config) {}, ""); s.metricsPath != "" || len(s.ownPaths) != 3 {
		t.Errorf("without metricsPath: %q, own paths %v", s.metricsPath, s.ownPaths)
	}
}

// TestMetricsSurviveReloads: New again with the same name (a reload, another router) counts into the same series,
// which neither reset nor appear twice; the cache gauges follow the newest instance, whose caches are the ones every
// instance of the same configuration shares.
func TestMetricsSurviveReloads(t *testing.T) {
	f := newFakeIdP(t)
	m1, _ := newNamedMW(t, f, metricsConfig(f), "metrics-reload")
	count(m1.met, mSigninStarted)
	count(m1.met, mSigninStarted)
	m1.sessions.put("k", &entry{endAt: never}, 0)
	m1.bearers.put("b", &entry{endAt: never}, 0)
	m2, _ := newNamedMW(t, f, metricsConfig(f), "metrics-reload")
	if m2.met != m1.met {
		t.Fatal("a second instance of the name has a metric set of its own")
	}
	count(m2.met, mSigninStarted)
	s := scrape(t, m2, "127.0.0.1:1")
	if v := s[`descopeoidc_signins_started_total{middleware="metrics-reload"}`]; v != 3 {
		t.Errorf("started after a reload: %v, want 3", v)
	}
	gauge := func(s map[string]float64, cache string) float64 {
		v, ok := s[`descopeoidc_cache_entries{middleware="metrics-reload",cache="`+cache+`"}`]
		if !ok {
			t.Fatalf("no %s gauge", cache)
		}
		return v
	}
	if b, ss := gauge(s, "bearer_tokens"), gauge(s, "sessions"); b != 1 || ss != 1 {
		t.Errorf("gauges: bearer_tokens %v, sessions %v (want the shared caches' 1 each)", b, ss)
	}
	m2.bearers.put("a", &entry{endAt: never}, 0)
	m2.bearers.put("c", &entry{endAt: never}, 0)
	if v := gauge(scrape(t, m1, "127.0.0.1:1"), "bearer_tokens"); v != 3 {
		t.Errorf("bearer_tokens gauge %v, want 3 (one cache, served by the older instance too)", v)
	}
	if _, ok := s[`descopeoidc_build_info{version="`+version+`"}`]; !ok {
		t.Error("no build info")
	}
}

// TestMetricSetsBounded: names beyond maxMetricSets share one set; the registry does not grow.
func TestMetricSetsBounded(t *testing.T) {
	metricSets.Lock()
	savedM, savedNames := metricSets.m, metricSets.names
	metricSets.m, metricSets.names = map[string]*metricSet{}, nil
	metricSets.Unlock()
	defer func() {
		metricSets.Lock()
		metricSets.m, metricSets.names = savedM, savedNames
		metricSets.Unlock()
	}()
	for i := 0; i < maxMetricSets+50; i++ {
		metricsFor("mw" + strconv.Itoa(i))
	}
	if n := len(metricSets.m); n != maxMetricSets+1 {
		t.Errorf("%d sets after %d names, want %d", n, maxMetricSets+50, maxMetricSets+1)
	}
	if metricsFor("another") != metricSets.m["_other"] || metricsFor("mw3") == metricSets.m["_other"] {
		t.Error("a name beyond the bound does not share _other, or an early one does")
	}
	var b strings.Builder
	writeMetrics(&b)
	if _, err := parseExposition(b.String()); err != nil {
		t.Error(err)
	}
}

// TestMetricsLabelEscaping: a middleware name with quotes, backslashes and newlines stays one label value.
func TestMetricsLabelEscaping(t *testing.T) {
	ms := metricsFor("odd\"name\\with\nnewline@file")
	count(ms, mLogoutLocal)
	var b strings.Builder
	writeMetrics(&b)
	s, err := parseExposition(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if v := s[`descopeoidc_logouts_total{middleware="odd\"name\\with\nnewline@file",kind="local"}`]; v != 1 {
		t.Errorf("escaped series: %v, want 1", v)
	}
}

// TestProviderObservations: outcome by status, histogram bucket by duration, sum in seconds.
func TestProviderObservations(t *testing.T) {
	var b strings.Builder
	writeMetrics(&b)
	before, err := parseExposition(b.String())
	if err != nil {
		t.Fatal(err)
	}
	observeProvider(epRevocation, 200, 3*time.Millisecond)
	observeProvider(epRevocation, 400, 30*time.Millisecond)
	observeProvider(epRevocation, 503, 3*time.Second)
	observeProvider(epRevocation, 0, 20*time.Second)
	b.Reset()
	writeMetrics(&b)
	after, err := parseExposition(b.String())
	if err != nil {
		t.Fatal(err)
	}
	delta := func(series string) float64 { return after[series] - before[series] }
	for out, want := range map[string]float64{"ok": 1, "refused": 1, "error": 1, "unreachable": 1} {
		if d := delta(`descopeoidc_provider_requests_total{endpoint="revocation",outcome="` + out + `"}`); d != want {
			t.Errorf("%s: +%v, want +%v", out, d, want)
		}
	}
	h := `descopeoidc_provider_request_duration_seconds`
	for le, want := range map[string]float64{"0.005": 1, "0.025": 1, "0.05": 2, "2.5": 2, "5": 3, "10": 3, "+Inf": 4} {
		if d := delta(h + `_bucket{endpoint="revocation",le="` + le + `"}`); d != want {
			t.Errorf("le=%s: +%v, want +%v", le, d, want)
		}
	}
	if d := delta(h + `_sum{endpoint="revocation"}`); d < 23.032 || d > 23.034 {
		t.Errorf("sum +%v s, want +23.033", d)
	}
}

// TestDenialRule: the rule kind of each reason authzRules.check gives.
func TestDenialRule(t *testing.T) {
	cases := []struct {
		cfg    func(*Config)
		claims map[string]any
		want   int
	}{
		{func(c *Config) { c.RequiredRoles = []string{"admin"} }, map[string]any{"roles": []any{"x"}}, mDeniedRoles},
		{func(c *Config) { c.RequiredPermissions = []string{"p"} }, map[string]any{}, mDeniedPermissions},
		{func(c *Config) { c.Tenant = "T1" }, map[string]any{"tenants": map[string]any{}}, mDeniedTenant},
		{func(c *Config) { c.Tenant = "current" }, map[string]any{}, mDeniedTenant},
		{func(c *Config) { c.ClaimRules = []ClaimRule{{Claim: "org", Equals: []string{"a"}}} }, map[string]any{"org": "b"}, mDeniedClaim},
		{func(c *Config) { c.ClaimRules = []ClaimRule{{Claim: "org", Equals: []string{"a"}}} }, map[string]any{}, mDeniedClaim},
	}
	for i, tc := range cases {
		s := settingsWith(t, tc.cfg, "")
		err := s.authz.check(tc.claims)
		if err == nil {
			t.Fatalf("case %d: allowed", i)
		}
		if got := denialRule(err.Error()); got != tc.want {
			t.Errorf("case %d (%v): rule %q, want %q", i, err, metricCounters[got].labels, metricCounters[tc.want].labels)
		}
	}
}

// TestParseExpositionRejects: the format check above fails on what Prometheus would refuse or misread.
func TestParseExpositionRejects(t *testing.T) {
	head := "# HELP a_total x\n# TYPE a_total counter\n"
	hist := "# TYPE h histogram\n"
	var buckets []string
	for _, le := range durationBuckets {
		buckets = append(buckets, `h_bucket{le="`+le+`"} 1`)
	}
	okHist := hist + strings.Join(buckets, "\n") + "\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.1\nh_count 1\n"
	if _, err := parseExposition(head + "a_total{m=\"x\"} 1\n" + okHist); err != nil {
		t.Fatalf("a valid exposition: %v", err)
	}
	for _, bad := range []string{
		head + "a_total 1",               // no final newline
		head + "a_total 1\na_total 2\n",  // a series twice
		head + "b_total 1\n",             // undeclared family
		head + "a_total{m=\"x\ny\"} 1\n", // raw newline in a label
		head + head + "a_total 1\n",      // TYPE twice
		head + "a_total{m=x} 1\n",        // unquoted label value
		strings.Replace(okHist, "h_count 1", "h_count 2", 1),
		strings.Replace(okHist, `h_bucket{le="10"} 1`, `h_bucket{le="10"} 0`, 1),
	} {
		if _, err := parseExposition(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestMetricsDocumented: README's Monitoring table has a row for every family, naming its labels and their values.
func TestMetricsDocumented(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	labels := map[int][]string{famBuildInfo: {"version"}, famProviderRequests: {"endpoint", "outcome"},
		famProviderDuration: {"endpoint"}, famCacheEntries: {"middleware", "cache"}}
	for _, c := range metricCounters {
		if i := strings.IndexByte(c.labels, '='); i > 0 {
			labels[c.fam] = []string{"middleware", c.labels[:i]}
		} else if labels[c.fam] == nil {
			labels[c.fam] = []string{"middleware"}
		}
	}
	for fam, f := range metricFamilies {
		i := strings.Index(readme, "| `"+f.name+"` | "+f.typ+" | ")
		if i < 0 {
			t.Errorf("README: no row for %s (%s)", f.name, f.typ)
			continue
		}
		row := readme[i : i+strings.IndexByte(readme[i:], '\n')]
		for _, l := range labels[fam] {
			if !strings.Contains(row, "`"+l+"`") {
				t.Errorf("README: the row of %s does not name its label %s", f.name, l)
			}
		}
		for _, c := range metricCounters {
			if v := strings.Trim(c.labels[strings.IndexByte(c.labels, '=')+1:], `"`); c.fam == fam && v != "" && !strings.Contains(row, "`"+v+"`") {
				t.Errorf("README: the row of %s does not explain %s", f.name, c.labels)
			}
		}
	}
}
