package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

// logExample writes examples/local/traefik.yml into a directory of its own with its log section replaced by logYAML
// (the rest of the file as it is), for a Traefik that logs somewhere else or in another format.
func logExample(t *testing.T, logYAML string) string {
	t.Helper()
	src := filepath.Join(harness.RepoRoot(), "examples", "local")
	static, err := os.ReadFile(filepath.Join(src, "traefik.yml"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(static), "\nlog:\n")
	if i < 0 {
		t.Fatal("examples/local/traefik.yml has no top-level log: section")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "traefik.yml"), []byte(string(static)[:i+1]+logYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pluginRecords reads Traefik's JSON log file and returns its records from the plugin's middlewares.
func pluginRecords(t *testing.T, path string) (recs []map[string]any, raw string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("traefik log file: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("traefik log line is not JSON: %q", line)
		}
		if rec["plugin"] == "plugin-descopeoidc" {
			recs = append(recs, rec)
		}
	}
	return recs, string(b)
}

func findEvent(recs []map[string]any, event string) map[string]any {
	for _, r := range recs {
		if r["event"] == event {
			return r
		}
	}
	return nil
}

// TestLogsInTraefikLogFile: with log.filePath and log.format json, the plugin's lines are records of Traefik's
// own log file (its timestamp, a level it filters), with logFormat json the security events are fields of those
// records, and nothing of the plugin reaches the terminal.
func TestLogsInTraefikLogFile(t *testing.T) {
	t.Parallel()
	idp := startIDP(t, devidp.Options{})
	up := startEcho(t)
	logFile := filepath.Join(t.TempDir(), "traefik.log")
	base, err := stack.ExampleDynamic()
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := stack.DeriveDynamic(base, "sessionSecret:", "logFormat: json", "sessionInfoPath: /oauth2/session")
	if err != nil {
		t.Fatal(err)
	}
	tr := startTraefik(t, idp, up, stack.Options{Dynamic: dyn,
		ExampleDir: logExample(t, "log:\n  level: INFO\n  format: json\n  filePath: "+logFile+"\n")})
	site := tr.WebURL
	c := newClient(t)
	bad := c.Get(site + "/oauth2/callback?state=forged-state-0123456789&code=THE-AUTH-CODE")
	if bad.Status < 400 || bad.Status > 499 {
		t.Fatalf("callback with a forged state: status %d, want 4xx", bad.Status)
	}
	c.login(idp, site, "/echo/page")
	session := c.CookieAt(site, cookieName)
	info := c.Do(http.MethodGet, site+"/oauth2/session", map[string]string{"Sec-Fetch-Site": "same-origin"})
	if info.Status != http.StatusOK || !strings.Contains(info.Body, `"sub":"`+devidp.DemoSubject+`"`) {
		t.Errorf("session endpoint through Traefik: %d %q", info.Status, info.Body)
	}
	c.logout(idp, site)

	var recs []map[string]any
	var raw string
	deadline := time.Now().Add(10 * time.Second) // the file is written by Traefik's logger as it goes
	for time.Now().Before(deadline) {
		if recs, raw = pluginRecords(t, logFile); findEvent(recs, "logout") != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	signin := findEvent(recs, "signin")
	if signin == nil || signin["level"] != "info" || signin["sub"] != devidp.DemoSubject || signin["middleware"] != "descope-login@file" ||
		signin["client_ip"] != "127.0.0.1" || signin["path"] != "/oauth2/callback" || !hex16.MatchString(signin["session"].(string)) {
		t.Errorf("signin record %v", signin)
	}
	if _, err := time.Parse(time.RFC3339, asString(signin["time"])); err != nil {
		t.Errorf("signin record time %v: %v", signin["time"], err)
	}
	logout := findEvent(recs, "logout")
	if logout == nil || logout["level"] != "info" || logout["session"] != signin["session"] || logout["sub"] != devidp.DemoSubject {
		t.Errorf("logout record %v (signin %v)", logout, signin)
	}
	if failed := findEvent(recs, "signin_failed"); failed == nil || failed["level"] != "warn" || failed["reason"] == "" {
		t.Errorf("signin_failed record %v", failed)
	}
	for _, secret := range []string{"THE-AUTH-CODE", session, sessionSecret, idp.ClientSecret()} {
		if secret != "" && strings.Contains(raw, secret) {
			t.Errorf("traefik's log file holds a secret (%.12s…)", secret)
		}
	}
	if strings.Contains(tr.Logs(), "descopeoidc") {
		t.Errorf("plugin output reached the terminal instead of log.filePath:\n%s", tr.Logs())
	}
	if t.Failed() {
		t.Logf("plugin records: %v", recs)
	}
}

// TestLogLevelsFollowTraefik: in Traefik's text format at WARN, the plugin's info events are filtered by Traefik
// and its warnings are shown as WRN with Traefik's timestamp.
func TestLogLevelsFollowTraefik(t *testing.T) {
	t.Parallel()
	idp := startIDP(t, devidp.Options{})
	up := startEcho(t)
	dyn, err := stack.ExampleDynamic()
	if err != nil {
		t.Fatal(err)
	}
	tr := startTraefik(t, idp, up, stack.Options{Dynamic: dyn, ExampleDir: logExample(t, "log:\n  level: WARN\n  noColor: true\n")})
	site := tr.WebURL
	c := newClient(t)
	c.Get(site + "/oauth2/callback?state=forged-state-0123456789&code=x") // signin_failed, at warn
	c.login(idp, site, "/echo/page")                                      // signin, at info: filtered at WARN
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(tr.Logs(), "sign-in failed") {
		time.Sleep(100 * time.Millisecond)
	}
	line := ""
	for _, l := range strings.Split(tr.Logs(), "\n") {
		if strings.Contains(l, "descopeoidc[descope-login@file] sign-in failed event=signin_failed") {
			line = l
		}
	}
	f := strings.Fields(line)
	if len(f) < 3 || f[1] != "WRN" {
		t.Fatalf("sign-in failure line %q: want Traefik's timestamp and WRN\n%s", line, tr.Logs())
	}
	if _, err := time.Parse(time.RFC3339, f[0]); err != nil {
		t.Errorf("sign-in failure line %q: no timestamp: %v", line, err)
	}
	t.Logf("in Traefik's log: %s", line)
	if strings.Contains(tr.Logs(), "sign-in completed") || strings.Contains(tr.Logs(), "level=") {
		t.Errorf("info events at Traefik WARN, or a raw plugin line:\n%s", tr.Logs())
	}
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}
