package stack

import (
	"fmt"
	"strings"
	"testing"
)

// The two lines Traefik v3.6.12 printed in issue 16 (a refresh goroutine of the interpreted plugin panicked and the
// plugin recovered it), between ordinary lines.
const issue16Log = "2026-12-01T10:00:00Z INF Starting provider *file.Provider\n" +
	"2026-12-01T10:00:12Z ERR \x1b[1mplugins-local/src/github.com/traefik-descope/descopeoidc/refresh.go:137:9: panic: github.com/traefik-descope/descopeoidc.settleRefresh(...)\x1b[0m\n" +
	"descopeoidc[oidc@file] level=error token refresh panicked: reflect: New(nil)\n" +
	"descopeoidc[oidc@file] level=info refresh refused; session lasts until its tokens expire\n"

func TestLogPanics(t *testing.T) {
	got := LogPanics(issue16Log)
	if len(got) != 2 || !strings.Contains(got[0], "refresh.go:137:9: panic:") || !strings.Contains(got[1], "token refresh panicked") {
		t.Fatalf("LogPanics = %q, want the interpreter's panic line and the plugin's error line", got)
	}
	if strings.Contains(got[0], "\x1b") {
		t.Errorf("colour escapes kept: %q", got[0])
	}
	clean := "2026-12-01T10:00:00Z INF ok\ndescopeoidc[oidc@file] level=error token refresh failed\n"
	if p := LogPanics(clean); len(p) != 0 {
		t.Errorf("LogPanics(no panic) = %q", p)
	}
	if p := LogProblems(clean); len(p) != 1 || !strings.Contains(p[0], "refresh failed") {
		t.Errorf("LogProblems = %q, want the plugin's error line", p)
	}
	// The plugin's lines as Traefik's logger prints them (level in Traefik's format, the plugin's fields after).
	traefikFormat := "2026-12-07T05:43:03Z ERR descopeoidc[oidc@file] token refresh panicked: reflect: New(nil) module=github.com/traefik-descope/descopeoidc runtime=yaegi\n"
	if p := LogPanics(traefikFormat); len(p) != 1 {
		t.Errorf("LogPanics(Traefik's format) = %q", p)
	}
	if p := LogProblems(issue16Log); len(p) != 2 {
		t.Errorf("LogProblems(issue 16's log) = %q, want the two panic lines (the info line is no problem)", p)
	}
}

// fakeTB records what CheckPanicsAtCleanup does with a test.
type fakeTB struct {
	cleanups []func()
	errors   []string
	logs     []string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Errorf(format string, a ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, a...))
}
func (f *fakeTB) Fatalf(format string, a ...any) { f.Errorf(format, a...) }
func (f *fakeTB) Logf(format string, a ...any)   { f.logs = append(f.logs, fmt.Sprintf(format, a...)) }
func (f *fakeTB) Failed() bool                   { return len(f.errors) > 0 }

func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// TestCheckPanicsAtCleanup: the log is read at cleanup (a panic logged after the check was registered counts), a
// panic fails the test and prints the log, a clean log does neither.
func TestCheckPanicsAtCleanup(t *testing.T) {
	log := "INF started\n"
	tb := &fakeTB{}
	CheckPanicsAtCleanup(tb, "traefik A", func() string { return log })
	log += issue16Log
	tb.runCleanups()
	if len(tb.errors) != 1 || !strings.Contains(tb.errors[0], "traefik A logged 2 panic line(s)") {
		t.Fatalf("errors = %q, want one naming the two panic lines", tb.errors)
	}
	if len(tb.logs) != 1 || !strings.Contains(tb.logs[0], "INF started") {
		t.Errorf("the failed test's log was not printed: %q", tb.logs)
	}

	clean := &fakeTB{}
	CheckPanicsAtCleanup(clean, "traefik B", func() string { return "INF started\n" })
	clean.runCleanups()
	if len(clean.errors)+len(clean.logs) != 0 {
		t.Errorf("a clean log: errors %q, logs %q", clean.errors, clean.logs)
	}
}
