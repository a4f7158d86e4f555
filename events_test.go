package descopeoidc

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestEventJSONFields(t *testing.T) {
	var buf bytes.Buffer
	withLogOutput(t, &buf)
	m := &logger{name: "oidc@file", level: levelInfo, json: true}
	r := httptest.NewRequest("GET", "https://app.example/admin/x?code=SECRETCODE", nil)
	r.RemoteAddr = "192.0.2.7:51234"
	r.Header.Set("X-Forwarded-For", "203.0.113.9") // a client can send it: not what the event reports
	d := &sessionData{Claims: map[string]any{"sub": "U1"}, ID: "chain-id-raw", RefreshToken: "RT-SECRET"}
	m.event(r, evDenied, d, strings.Repeat("x", 300))
	var obj map[string]string
	if err := json.Unmarshal(buf.Bytes(), &obj); err != nil {
		t.Fatalf("not JSON: %q", buf.String())
	}
	want := map[string]string{"level": "info", "middleware": "oidc@file", "event": "access_denied", "sub": "U1",
		"session": chainDigest("chain-id-raw"), "client_ip": "192.0.2.7", "host": "app.example", "path": "/admin/x",
		"message": "access denied"}
	for k, v := range want {
		if obj[k] != v {
			t.Errorf("%s = %q, want %q", k, obj[k], v)
		}
	}
	if len(obj["reason"]) > maxReasonLen+len("…") || obj["time"] == "" || len(obj) != len(want)+2 {
		t.Errorf("reason %d bytes, %d fields: %v", len(obj["reason"]), len(obj), obj)
	}
	for _, secret := range []string{"chain-id-raw", "RT-SECRET", "SECRETCODE", "203.0.113.9"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("event line holds %q: %s", secret, buf.String())
		}
	}
}

func TestEventWithoutSessionOrRequest(t *testing.T) {
	var buf bytes.Buffer
	withLogOutput(t, &buf)
	m := &logger{name: "a", level: levelInfo}
	m.event(nil, evSignInFailed, nil, "state mismatch")
	m.event(nil, evBearerRefused, &sessionData{Claims: map[string]any{"sub": "svc-1"}}, "")
	want := "descopeoidc[a] level=warn sign-in failed event=signin_failed reason=\"state mismatch\"\n" +
		"descopeoidc[a] level=info bearer token refused event=bearer_refused sub=svc-1\n"
	if buf.String() != want {
		t.Errorf("got\n%q\nwant\n%q", buf.String(), want)
	}
}

func TestEventsFollowLogLevel(t *testing.T) {
	var buf bytes.Buffer
	withLogOutput(t, &buf)
	m := &logger{name: "a", level: levelWarn}
	m.event(nil, evLogout, nil, "")
	if buf.Len() != 0 {
		t.Errorf("logLevel warn logged an info event: %q", buf.String())
	}
}

func TestEventNamesHaveMessages(t *testing.T) {
	for _, ev := range []string{evSignIn, evSignInFailed, evLogout, evRefreshRefused, evDenied, evStepUpRequired,
		evStepUpAchieved, evBearerRefused, evBackchannelLogout} {
		if eventMessages[ev] == "" {
			t.Errorf("event %s has no message", ev)
		}
	}
	if chainDigest("") != "" || len(chainDigest("x")) != 16 || chainDigest("x") == chainDigest("y") {
		t.Error("chainDigest")
	}
}

// eventsIn returns the JSON event records in captured log output, in order.
func eventsIn(t *testing.T, out string) []map[string]string {
	t.Helper()
	var recs []map[string]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]string
		if line == "" || json.Unmarshal([]byte(line), &rec) != nil {
			continue // another format or another writer
		}
		if rec["event"] != "" {
			recs = append(recs, rec)
		}
	}
	return recs
}

func eventNames(recs []map[string]string) string {
	names := make([]string, 0, len(recs))
	for _, r := range recs {
		names = append(names, r["event"])
	}
	return strings.Join(names, ",")
}

func TestStepUpEvents(t *testing.T) {
	f := newFakeIdP(t)
	_, _, b := stepUpMW(t, f, func(c *Config) { c.MaxAuthAge, c.LogFormat, c.LogLevel = "5m", "json", "info" })
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"auth_time": f.clock.Now().Unix()} })
	out := captureOutput(t, func() {
		b.login("/pay")
		f.clock.Advance(6 * time.Minute)
		rec := b.get("/pay") // too old: a step-up login
		f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"auth_time": f.clock.Now().Unix()} })
		b.get(b.authorize(rec.Header().Get("Location")))
	})
	recs := eventsIn(t, out)
	if got := eventNames(recs); got != "signin,stepup_required,signin,stepup_achieved" {
		t.Fatalf("events %q, want signin,stepup_required,signin,stepup_achieved", got)
	}
	if r := recs[1]; r["sub"] != f.sub || r["session"] == "" || r["path"] != "/pay" || !strings.Contains(r["reason"], "older than 300s") {
		t.Errorf("stepup_required %v", r)
	}
	if recs[3]["session"] != recs[2]["session"] || recs[3]["session"] == recs[0]["session"] {
		t.Errorf("stepup_achieved names the new session: %v", recs)
	}
}

func TestSessionEvents(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.LogFormat, cfg.LogLevel, cfg.RequiredRoles = "json", "info", []string{"admin"}
	m, _ := newMW(t, f, cfg)
	b := newBrowser(t, m)
	out := captureOutput(t, func() {
		b.login("/")
		b.get("/admin") // no admin role: 403
		r := b.request(http.MethodPost, "/oauth2/logout")
		r.Header.Set("Origin", appOrigin)
		b.do(r)
	})
	recs := eventsIn(t, out)
	if got := eventNames(recs); got != "signin,access_denied,logout" {
		t.Fatalf("events %q, want signin,access_denied,logout", got)
	}
	for _, r := range recs {
		if r["sub"] != f.sub || r["session"] != recs[0]["session"] || r["session"] == "" || r["host"] != "app.example" {
			t.Errorf("event %v: want sub %s and the login's session", r, f.sub)
		}
	}
	if !strings.Contains(recs[1]["reason"], "admin") || recs[1]["path"] != "/admin" || recs[2]["path"] != "/oauth2/logout" {
		t.Errorf("access_denied %v, logout %v", recs[1], recs[2])
	}
}
