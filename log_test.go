package descopeoidc

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestLogsNeverContainSecrets(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) { logsNeverContainSecrets(t, format) })
	}
}

func logsNeverContainSecrets(t *testing.T, format string) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.rotateRefresh = true })
	cfg := f.config()
	cfg.LogLevel, cfg.LogFormat = "debug", format
	cfg.AllowBearerTokens = true
	m, _ := newMW(t, f, cfg)
	b := newBrowser(t, m)
	var secrets []string
	out := captureOutput(t, func() {
		b.login("/")
		d := b.session()
		secrets = append(secrets, d.IDToken, d.AccessToken, d.RefreshToken, b.cookie(m.s.cookieName).Value)
		// a failing refresh, a rejected bearer token, a replayed code and a broken cookie
		f.set(func(f *fakeIdP) { f.refreshError = "invalid_grant" })
		f.clock.Advance(250 * time.Second)
		b.get("/")
		settleRefreshes(t, m) // it runs in the background: its log lines belong to this capture
		expired := f.idClaims("")
		expired["exp"] = f.clock.Now().Unix() - 3600
		bad := f.mint(expired)
		secrets = append(secrets, bad)
		serve(m, bearerRequest(bad))
		b2 := newBrowser(t, m)
		cb := startLogin(t, b2, "/")
		u, _ := url.Parse(cb)
		secrets = append(secrets, u.Query().Get("code"))
		f.set(func(f *fakeIdP) {
			f.tokenHook = func(w http.ResponseWriter, r *http.Request, _ url.Values) bool {
				writeJSON(w, 400, map[string]string{"error": "invalid_grant"})
				return true
			}
		})
		b2.get(cb)
		r := httptest.NewRequest(http.MethodGet, appOrigin+"/", nil)
		r.AddCookie(&http.Cookie{Name: m.s.cookieName, Value: "broken-cookie-value"})
		serve(m, r)
		secrets = append(secrets, "broken-cookie-value", testClientSecret, testSessionKey)
	})
	mark := map[string]string{"text": "descopeoidc[test] level=", "json": `"middleware":"test"`}[format]
	if !strings.Contains(out, mark) {
		t.Fatalf("nothing logged at debug level: %q", out)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("log output contains a secret (%.12s…)", s)
		}
	}
	if format == "json" {
		got := "," + eventNames(eventsIn(t, out)) + ","
		for _, ev := range []string{evSignIn, evRefreshRefused, evBearerRefused, evSignInFailed} {
			if !strings.Contains(got, ","+ev+",") {
				t.Errorf("events %s: no %s", got, ev)
			}
		}
	}
}

func TestLogLevelFilters(t *testing.T) {
	f := newFakeIdP(t)
	for _, tc := range []struct {
		level string
		want  bool
	}{{"error", false}, {"warn", true}} {
		cfg := f.config()
		cfg.LogLevel = tc.level
		m, _ := newMW(t, f, cfg)
		out := captureOutput(t, func() {
			newBrowser(t, m).get("/oauth2/callback?error=access_denied") // logged at warn
		})
		if got := strings.Contains(out, "level=warn"); got != tc.want {
			t.Errorf("logLevel %s: warning logged = %v (%q)", tc.level, got, out)
		}
	}
}

// fakeLeveled is a leveled logger shaped like zerolog's Logger (what Traefik gives the interpreter as Stdout and
// Stderr): Error/Warn/Info/Debug return an event, nil below min; the event takes Str fields and is written by Msg.
type fakeLeveled struct {
	min     int
	records []fakeRecord
	plain   bytes.Buffer // what was written to it as an io.Writer
}

type fakeRecord struct {
	level  string
	fields map[string]string
	msg    string
}

type fakeEvent struct {
	l   *fakeLeveled
	rec fakeRecord
}

func (l *fakeLeveled) Write(p []byte) (int, error) { return l.plain.Write(p) }
func (l *fakeLeveled) event(level int) *fakeEvent {
	if level > l.min {
		return nil
	}
	return &fakeEvent{l: l, rec: fakeRecord{level: levelNames[level], fields: map[string]string{}}}
}
func (l *fakeLeveled) Error() *fakeEvent { return l.event(levelError) }
func (l *fakeLeveled) Warn() *fakeEvent  { return l.event(levelWarn) }
func (l *fakeLeveled) Info() *fakeEvent  { return l.event(levelInfo) }
func (l *fakeLeveled) Debug() *fakeEvent { return l.event(levelDebug) }
func (e *fakeEvent) Str(k, v string) *fakeEvent {
	e.rec.fields[k] = v
	return e
}
func (e *fakeEvent) Msg(msg string) {
	e.rec.msg = msg
	e.l.records = append(e.l.records, e.rec)
}

// withLogOutput points the standard logger (where the compiled plugin logs) at w for the test.
func withLogOutput(t *testing.T, w io.Writer) {
	old := log.Writer()
	log.SetOutput(w)
	t.Cleanup(func() { log.SetOutput(old) })
}

func TestLogThroughLeveledLogger(t *testing.T) {
	l := &fakeLeveled{min: levelInfo}
	withLogOutput(t, l)
	m := &logger{name: "mw@file", level: levelDebug}
	m.logf(levelWarn, "provider slow: %d ms", 1500)
	m.logf(levelInfo, "line\nbreak")
	m.logf(levelDebug, "filtered by the logger's own level")
	if l.plain.Len() != 0 {
		t.Errorf("plain write to a leveled logger: %q", l.plain.String())
	}
	if len(l.records) != 2 {
		t.Fatalf("%d records, want 2: %+v", len(l.records), l.records)
	}
	if r := l.records[0]; r.level != "warn" || r.msg != "descopeoidc[mw@file] provider slow: 1500 ms" || len(r.fields) != 0 {
		t.Errorf("record %+v", r)
	}
	if r := l.records[1]; r.level != "info" || r.msg != `descopeoidc[mw@file] line\nbreak` {
		t.Errorf("record %+v: the message must be one escaped line", r)
	}
}

func TestLogJSONThroughLeveledLogger(t *testing.T) {
	l := &fakeLeveled{min: levelDebug}
	withLogOutput(t, l)
	m := &logger{name: "mw@file", level: levelInfo, json: true}
	m.emit(levelInfo, "sign-in completed", []string{"event", evSignIn, "sub", "u\r1"})
	m.logf(levelDebug, "below the plugin's logLevel")
	if len(l.records) != 1 {
		t.Fatalf("%d records, want 1: %+v", len(l.records), l.records)
	}
	r := l.records[0]
	want := map[string]string{"middleware": "mw@file", "event": "signin", "sub": `u\r1`}
	if r.level != "info" || r.msg != "sign-in completed" || len(r.fields) != len(want) {
		t.Fatalf("record %+v", r)
	}
	for k, v := range want {
		if r.fields[k] != v {
			t.Errorf("field %s = %q, want %q", k, r.fields[k], v)
		}
	}
}

func TestLogPlainWriterText(t *testing.T) {
	var buf bytes.Buffer
	withLogOutput(t, &buf)
	m := &logger{name: "a", level: levelInfo}
	m.emit(levelInfo, "signed out", []string{"event", evLogout, "reason", "user's choice", "path", "/x"})
	m.logf(levelError, "boom")
	want := "descopeoidc[a] level=info signed out event=logout reason=\"user's choice\" path=/x\n" +
		"descopeoidc[a] level=error boom\n"
	if buf.String() != want {
		t.Errorf("got\n%q\nwant\n%q", buf.String(), want)
	}
}

func TestLogPlainWriterJSON(t *testing.T) {
	var buf bytes.Buffer
	withLogOutput(t, &buf)
	m := &logger{name: "a", level: levelWarn, json: true}
	m.logf(levelWarn, "quote \" and\nnewline")
	var obj map[string]string
	if err := json.Unmarshal(buf.Bytes(), &obj); err != nil || strings.Count(buf.String(), "\n") != 1 {
		t.Fatalf("not one JSON line: %q (%v)", buf.String(), err)
	}
	if obj["level"] != "warn" || obj["middleware"] != "a" || obj["message"] != `quote " and\nnewline` || obj["time"] == "" {
		t.Errorf("record %v", obj)
	}
}

// valueLeveled is held by value in the io.Writer, its leveled methods have pointer receivers: zerolog's Logger as
// Traefik hands it to the interpreter.
type valueLeveled struct{ l *fakeLeveled }

func (v valueLeveled) Write(p []byte) (int, error) { return v.l.Write(p) }
func (v *valueLeveled) Error() *fakeEvent          { return v.l.Error() }
func (v *valueLeveled) Warn() *fakeEvent           { return v.l.Warn() }
func (v *valueLeveled) Info() *fakeEvent           { return v.l.Info() }
func (v *valueLeveled) Debug() *fakeEvent          { return v.l.Debug() }

func TestLogThroughLeveledLoggerValue(t *testing.T) {
	l := &fakeLeveled{min: levelDebug}
	withLogOutput(t, valueLeveled{l: l})
	m := &logger{name: "v", level: levelInfo}
	m.logf(levelInfo, "hello")
	if len(l.records) != 1 || l.records[0].level != "info" || l.plain.Len() != 0 {
		t.Errorf("records %+v, plain %q: want one info record", l.records, l.plain.String())
	}
}

// A writer with some of the methods but not zerolog's shapes is written to as a plain writer.
type halfLeveled struct{ bytes.Buffer }

func (h *halfLeveled) Info() string { return "not an event" }

func TestLogNotLeveledFallsBack(t *testing.T) {
	h := &halfLeveled{}
	withLogOutput(t, h)
	m := &logger{name: "a", level: levelInfo}
	m.logf(levelInfo, "hello")
	if h.String() != "descopeoidc[a] level=info hello\n" {
		t.Errorf("got %q", h.String())
	}
}

func TestLogFormatSetting(t *testing.T) {
	if s := settingsWith(t, func(c *Config) { c.LogFormat = "JSON" }, ""); !s.logJSON {
		t.Error("logFormat JSON: not json")
	}
	if s := settingsWith(t, func(c *Config) {}, ""); s.logJSON || s.logLevel != levelInfo {
		t.Errorf("defaults: logJSON %v, logLevel %d; want text, info", s.logJSON, s.logLevel)
	}
	settingsWith(t, func(c *Config) { c.LogFormat = "logfmt" }, "logFormat")
}
