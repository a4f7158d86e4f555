package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

const metricsURLPath = "/internal/metrics" // examples/observability

func observabilityFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "examples", "observability", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPrometheusScrapesThroughTraefik runs examples/observability for real: the real Traefik binary with its
// dynamic.yml (a dedicated metrics router with ipAllowList), Debian's prometheus with its prometheus.yml (target and
// interval rewritten), a login through Traefik, then Prometheus' own query API: the scrape target is up, the login
// is counted, and every query of the Grafana dashboard returns series, each of a family the plugin exposes, and
// every family the plugin exposes is on the dashboard. Then two configuration reloads: the same series, the counter
// kept, and no counter reset in Prometheus' eyes.
func TestPrometheusScrapesThroughTraefik(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus is not installed (.ci/deps.sh installs Debian's): %v", err)
	}
	idp := startIDP(t, devidp.Options{})
	up := startEcho(t)
	dynamic := observabilityFile(t, "dynamic.yml")
	tr := startTraefik(t, idp, up, stack.Options{Dynamic: dynamic, ProvidersThrottle: 100 * time.Millisecond})
	families := scrapeFamilies(t, tr.WebURL+metricsURLPath)
	c := newClient(t)
	c.expectLoginRedirect(tr.WebURL+metricsURLPath+"x", idp, tr.WebURL) // the public router's middleware serves no metrics
	prom := startPrometheus(t, bin, strings.TrimPrefix(tr.WebURL, "http://"))
	c.login(idp, tr.WebURL, "/echo/page")

	signins := `descopeoidc_signins_completed_total{middleware="descope-login@file"}`
	prom.waitFor(t, signins, func(r []promSample) bool { return len(r) == 1 && r[0].value() == 1 })
	prom.checkTargetUp(t)
	checkDashboard(t, prom, families)
	if n := up.hits.Load(); n != 0 {
		t.Errorf("the upstream was reached %d times (the login's target is not requested here; metrics never are)", n)
	}
	checkReloadKeepsSeries(t, tr, c, dynamic)
	prom.waitFor(t, "resets(descopeoidc_signins_completed_total[5m])", func(r []promSample) bool {
		return len(r) > 0 && r[0].value() == 0
	})
	checkLog(t, tr)
}

// checkReloadKeepsSeries reloads Traefik's dynamic configuration twice (a header added, then removed: Traefik calls
// the plugin's New again for every router each time) and checks that the exposition keeps exactly its series and
// the login's counter its value.
func checkReloadKeepsSeries(t *testing.T, tr *stack.Traefik, c *client, base []byte) {
	t.Helper()
	before := scrapeSeries(t, tr.WebURL+metricsURLPath)
	marked, err := stack.DeriveDynamic(base, "X-Forwarded-User:", "X-Reload-Marker: sub")
	if err != nil {
		t.Fatal(err)
	}
	for i, content := range [][]byte{marked, base} {
		if err := tr.WriteDynamic(content); err != nil {
			t.Fatal(err)
		}
		want := i == 0 // the marker header is there after the first reload, gone after the second
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if _, has := c.Echo(tr.WebURL+"/echo", nil).Headers["X-Reload-Marker"]; has == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("reload %d not applied within 15s", i+1)
			}
		}
	}
	after := scrapeSeries(t, tr.WebURL+metricsURLPath)
	signins := `descopeoidc_signins_completed_total{middleware="descope-login@file"}`
	if before[signins] != 1 || after[signins] != 1 {
		t.Errorf("%s: %v before the reloads, %v after; want 1 and 1", signins, before[signins], after[signins])
	}
	for series := range before {
		if _, ok := after[series]; !ok {
			t.Errorf("series %s gone after the reloads", series)
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d series before the reloads, %d after", len(before), len(after))
	}
}

// scrapeSeries reads the exposition and returns each series (name and labels as written) with its value. The text
// parser has checked the format in scrapeFamilies; here a series written twice fails the test.
func scrapeSeries(t *testing.T, u string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, %v", u, resp.StatusCode, err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("GET %s: line %q", u, line)
		}
		if _, dup := out[line[:i]]; dup {
			t.Fatalf("GET %s: series %s twice", u, line[:i])
		}
		out[line[:i]] = v
	}
	return out
}

// scrapeFamilies reads the metrics through Traefik and returns the families, parsed by Prometheus' own parser.
func scrapeFamilies(t *testing.T, u string) map[string]bool {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", u, resp.StatusCode)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: Prometheus' parser refuses it: %v", u, err)
	}
	out := map[string]bool{}
	for name, f := range fams {
		if len(f.GetMetric()) > 0 {
			out[name] = true
		}
	}
	return out
}

// promServer is a running prometheus on loopback.
type promServer struct {
	url  string
	logs *stack.LogBuffer
}

// startPrometheus runs prometheus with examples/observability/prometheus.yml, its target set to target and its
// intervals to 1s, storing in a temp dir; stopped (by its PID) at cleanup.
func startPrometheus(t *testing.T, bin, target string) *promServer {
	t.Helper()
	cfg := string(observabilityFile(t, "prometheus.yml"))
	for old, repl := range map[string]string{`"127.0.0.1:8000"`: strconv.Quote(target), "15s": "1s"} {
		if !strings.Contains(cfg, old) {
			t.Fatalf("prometheus.yml has no %s to rewrite", old)
		}
		cfg = strings.ReplaceAll(cfg, old, repl)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, err := stack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := &promServer{url: "http://" + addr, logs: &stack.LogBuffer{}}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", tail(p.logs.String(), 8000))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready in 60s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// promSample is one element of an instant vector: labels and [time, "value"].
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
}

func (s promSample) value() float64 {
	if len(s.Value) != 2 {
		return -1
	}
	str, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return -1
	}
	return v
}

// query runs an instant query; an error answer fails the test.
func (p *promServer) query(t *testing.T, q string) []promSample {
	t.Helper()
	resp, err := http.Get(p.url + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Status != "success" || out.Data.ResultType != "vector" {
		t.Fatalf("query %s: status %q error %q type %q (%v)", q, out.Status, out.Error, out.Data.ResultType, err)
	}
	return out.Data.Result
}

// waitFor repeats q until ok accepts its result (scrapes run every second), failing after 60s.
func (p *promServer) waitFor(t *testing.T, q string, ok func([]promSample) bool) []promSample {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := p.query(t, q)
		if ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s: still %+v after 60s", q, r)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkTargetUp asserts that Prometheus' only target is the plugin's metrics path and its last scrape succeeded.
func (p *promServer) checkTargetUp(t *testing.T) {
	t.Helper()
	resp, err := http.Get(p.url + "/api/v1/targets")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			Active []struct {
				ScrapeURL string `json:"scrapeUrl"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	a := out.Data.Active
	if len(a) != 1 || !strings.HasSuffix(a[0].ScrapeURL, metricsURLPath) || a[0].Health != "up" || a[0].LastError != "" {
		t.Fatalf("targets %+v: want one, %s, up", a, metricsURLPath)
	}
}

var familyRef = regexp.MustCompile(`descopeoidc_[a-z_]+`)

// checkDashboard runs every query of examples/observability/grafana-dashboard.json: each must return series, and
// name only families the plugin exposed (seen); every exposed family must be on the dashboard.
func checkDashboard(t *testing.T, p *promServer, seen map[string]bool) {
	t.Helper()
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(observabilityFile(t, "grafana-dashboard.json"), &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	used := map[string]bool{}
	n := 0
	for _, panel := range d.Panels {
		for _, tg := range panel.Targets {
			n++
			for _, ref := range familyRef.FindAllString(tg.Expr, -1) {
				fam := histogramFamily(ref, seen)
				if !seen[fam] {
					t.Errorf("panel %q: %s is not a family the plugin exposes", panel.Title, ref)
				}
				used[fam] = true
			}
			// rate() needs two scrapes in its window: wait for them rather than for a fixed time
			p.waitFor(t, tg.Expr, func(r []promSample) bool { return len(r) > 0 })
		}
	}
	var missing []string
	for fam := range seen {
		if !used[fam] {
			missing = append(missing, fam)
		}
	}
	sort.Strings(missing)
	if n == 0 || len(missing) > 0 {
		t.Errorf("%d dashboard queries; families on no panel: %v", n, missing)
	}
	t.Logf("%d dashboard queries answered with series, %d families", n, len(used))
}

// histogramFamily maps name_bucket, name_sum and name_count to name when name is an exposed family.
func histogramFamily(ref string, seen map[string]bool) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base := strings.TrimSuffix(ref, suffix); base != ref && seen[base] {
			return base
		}
	}
	return ref
}
