package scenarios

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// logRecords parses captured log output, one JSON object per line, keeping the plugin's records of middleware name.
// Under Yaegi the record is written by the zerolog logger the harness gives the interpreter (as Traefik does), so
// time and level are zerolog's; compiled, the plugin writes the object itself. Both have the same keys.
func logRecords(t *testing.T, out, name string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not one JSON object: %q", line)
		}
		if rec["middleware"] == name {
			recs = append(recs, rec)
		}
	}
	return recs
}

// TestLogJSONThroughTraefikLogger: with logFormat json a free-text line is a record of Traefik's logger with the
// plugin's level (not the fixed debug/error level of a plain write) and the middleware as a field.
func TestLogJSONThroughTraefikLogger(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"logFormat": "json", "logLevel": "info"}))
		out, stop := harness.CaptureLogs()
		r := e.browser().Get("/oauth2/callback?state=nosuchstate&code=THECODE")
		stop()
		if r.Status < 400 || r.Status >= 500 {
			t.Fatalf("callback with an unknown state: status %d, want 4xx", r.Status)
		}
		recs := logRecords(t, out.String(), "scenario")
		if len(recs) == 0 {
			t.Fatalf("no record of middleware scenario in %q", out.String())
		}
		for _, rec := range recs {
			// a plain write to Traefik's logger would be level "error" whatever the plugin meant
			if rec["level"] != "warn" && rec["level"] != "info" || rec["time"] == nil || rec["message"] == "" {
				t.Errorf("record %v: want level warn or info, a time and a message", rec)
			}
			if viaTraefik := rec["plugin"] == "plugin-descopeoidc"; viaTraefik != (tg.Name() == "yaegi") {
				t.Errorf("%s: record %v: through Traefik's plugin logger %v", tg.Name(), rec, viaTraefik)
			}
		}
		if strings.Contains(out.String(), "THECODE") {
			t.Errorf("the log holds the authorization code: %s", out.String())
		}
	})
}

// TestSessionEndpoint: an SPA asks who is signed in; the answer follows the session, same-origin only.
func TestSessionEndpoint(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		cfg := merge(baseConfig(idp), map[string]any{"sessionInfoPath": "/oauth2/session",
			"forwardHeaders": map[string]any{"X-Forwarded-User": "sub", "X-Forwarded-Email": "email"}})
		e := newEnv(t, tg, idp, cfg)
		b := e.browser()
		fetch := map[string]string{"Accept": "application/json", "Sec-Fetch-Site": "same-origin",
			"Sec-Fetch-Mode": "cors", "Origin": e.srv.URL, "Referer": e.srv.URL + "/app/"}
		r := b.Do(http.MethodGet, "/oauth2/session", fetch)
		var body map[string]any
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil || r.Status != http.StatusUnauthorized ||
			body["login_url"] != e.srv.URL+"/oauth2/login?rd=%2Fapp%2F" || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("signed out: %d %q Cache-Control %q", r.Status, r.Body, r.Header.Get("Cache-Control"))
		}
		b.mustLogin("/echo/x")
		upstream := e.upstream.Load()
		r = b.Do(http.MethodGet, "/oauth2/session", fetch)
		body = nil
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil || r.Status != http.StatusOK {
			t.Fatalf("signed in: %d %q", r.Status, r.Body)
		}
		claims, _ := body["claims"].(map[string]any)
		if body["authenticated"] != true || claims["sub"] != devidp.DemoSubject || claims["email"] != devidp.DemoUsername {
			t.Errorf("signed in: %v", body)
		}
		if exp, _ := body["expires_at"].(float64); exp < 1e9 || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("expires_at %v Cache-Control %q", body["expires_at"], r.Header.Get("Cache-Control"))
		}
		cross := map[string]string{"Accept": "application/json", "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
		if r := b.Do(http.MethodGet, "/oauth2/session", cross); r.Status != http.StatusForbidden ||
			strings.Contains(r.Body, devidp.DemoSubject) || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("cross-site: %d %q", r.Status, r.Body)
		}
		if e.upstream.Load() != upstream {
			t.Error("the session endpoint reached the upstream")
		}
	})
}
