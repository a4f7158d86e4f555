package stack

import (
	"regexp"
	"strings"
	"time"
)

var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

// logLines splits a Traefik log into lines without colour escapes.
func logLines(log string) []string {
	return strings.Split(ansiEscape.ReplaceAllString(log, ""), "\n")
}

// LogPanics returns Traefik's log lines that report a panic: Traefik's own ("panic:" with the interpreter's position
// in the plugin, or a recovered handler panic) and the plugin's own error lines about one it contained (e.g.
// "descopeoidc[...] level=error token refresh panicked: ..."). A panic recovered inside the interpreted plugin leaves
// the interpreter in an unknown state: every test of the real binary treats it as a failure (TB cleanup below).
func LogPanics(log string) []string {
	var out []string
	for _, line := range logLines(log) {
		if strings.Contains(strings.ToLower(line), "panic") {
			out = append(out, line)
		}
	}
	return out
}

// LogProblems returns Traefik's log lines that show a failure: any panic (LogPanics), any error-level line of
// Traefik (common format "ERR"/"FTL" or JSON "level":"error"/"fatal"), and the plugin's own error lines
// ("descopeoidc[...] level=error"). Tests whose scenario makes errors expected check LogPanics only.
func LogProblems(log string) []string {
	var out []string
	for _, line := range logLines(log) {
		lower := strings.ToLower(line)
		fields := strings.Fields(line)
		switch {
		case strings.Contains(lower, "panic"),
			strings.Contains(lower, `"level":"error"`), strings.Contains(lower, `"level":"fatal"`),
			len(fields) > 1 && (fields[1] == "ERR" || fields[1] == "FTL"),
			strings.Contains(line, "descopeoidc[") && strings.Contains(line, "level=error"):
			out = append(out, line)
		}
	}
	return out
}

// TB is the part of testing.TB that StartForTest and CheckPanicsAtCleanup use (this package is also linked into
// the demo and the benchmark, which do not import testing).
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Failed() bool
}

// CheckPanicsAtCleanup registers a cleanup that fails t when the log of a Traefik process (logs, read at cleanup)
// reports a panic, and prints the log's tail when t failed. Every test that runs the real binary goes through it:
// StartForTest calls it; a test that starts Traefik another way (the Kubernetes example) calls it itself.
func CheckPanicsAtCleanup(t TB, what string, logs func() string) {
	t.Helper()
	t.Cleanup(func() {
		log := logs()
		if p := LogPanics(log); len(p) > 0 {
			t.Errorf("%s logged %d panic line(s):\n%s", what, len(p), strings.Join(p, "\n"))
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", what, Tail(log, 30000))
		}
	})
}

// StartForTest starts Traefik for a test (Start), failing it when Traefik does not start; at cleanup Traefik is
// stopped and the test fails when its log reports a panic (CheckPanicsAtCleanup; checked after the stop, so a panic
// of the last moments counts too).
func StartForTest(t TB, o Options) *Traefik {
	t.Helper()
	start := time.Now()
	tr, err := Start(o)
	if err != nil {
		t.Fatalf("starting traefik: %v", err)
	}
	t.Logf("traefik pid %d on %s (API %s) ready in %s", tr.PID(), tr.WebURL, tr.APIURL, time.Since(start).Round(time.Millisecond))
	// Cleanups run last-registered first: the stop is registered second so that it runs before the log check.
	CheckPanicsAtCleanup(t, "traefik "+tr.WebURL, tr.Logs)
	t.Cleanup(func() {
		if err := tr.Stop(); err != nil {
			t.Errorf("stopping traefik: %v", err)
		}
	})
	return tr
}

// Tail is the last n bytes of s, marked when cut.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
