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

// TestSecurityEventsJSON: with logFormat json every event is one record of Traefik's logger (under Yaegi) or one
// JSON line (compiled) with the same fields, at the event's level (a plain write to Traefik's logger would be
// "error" whatever the plugin meant), and nothing secret.
func TestSecurityEventsJSON(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true})
		e := newEnv(t, tg, idp, merge(baseConfig(idp), map[string]any{"logFormat": "json", "logLevel": "info"}))
		b := e.browser()
		out, stop := harness.CaptureLogs()
		r := b.Get("/oauth2/callback?state=nosuchstate&code=THECODE")
		b.mustLogin("/echo/x")
		session := b.sessionCookie()
		lo := b.Do(http.MethodPost, "/oauth2/logout", map[string]string{"Origin": e.srv.URL})
		stop()
		if r.Status != http.StatusBadRequest || lo.Status != http.StatusSeeOther {
			t.Fatalf("forged callback %d, logout %d: want 400 and 303", r.Status, lo.Status)
		}
		var events []map[string]any
		for _, rec := range logRecords(t, out.String(), "scenario") {
			if viaTraefik := rec["plugin"] == "plugin-descopeoidc"; viaTraefik != (tg.Name() == "yaegi") {
				t.Errorf("%s: record %v: through Traefik's plugin logger %v", tg.Name(), rec, viaTraefik)
			}
			if rec["time"] == nil || rec["message"] == "" {
				t.Errorf("record %v: no time or message", rec)
			}
			if rec["event"] != nil {
				events = append(events, rec)
			}
		}
		want := []struct{ event, level string }{{"signin_failed", "warn"}, {"signin", "info"}, {"logout", "info"}}
		if len(events) != len(want) {
			t.Fatalf("%d events, want %d: %v", len(events), len(want), events)
		}
		for i, w := range want {
			if ev := events[i]; ev["event"] != w.event || ev["level"] != w.level || ev["client_ip"] != "127.0.0.1" || ev["host"] == "" {
				t.Errorf("event %d: %v, want %s at %s with client_ip and host", i, ev, w.event, w.level)
			}
		}
		if in, outEv := events[1], events[2]; in["sub"] != devidp.DemoSubject || in["path"] != "/oauth2/callback" ||
			in["session"] == nil || outEv["session"] != in["session"] || outEv["sub"] != in["sub"] {
			t.Errorf("signin %v and logout %v: want the demo subject and one session", in, outEv)
		}
		for _, secret := range []string{"THECODE", session, sessionSecret, idp.ClientSecret()} {
			if strings.Contains(out.String(), secret) {
				t.Errorf("the log holds a secret (%.10s…)", secret)
			}
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
