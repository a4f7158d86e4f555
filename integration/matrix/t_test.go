package matrix

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// T is what a scenario reports to: the subtest itself (realT), or, for a pending cell, a probe that records the
// outcome without failing the test (probeT).
type T interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Fatal(args ...any)
}

// first keeps the first failure message, shortened, for the report's notes.
type first struct{ msg string }

func (f *first) keep(format string, args ...any) {
	if f.msg == "" {
		msg := strings.Join(strings.Fields(fmt.Sprintf(format, args...)), " ")
		if i := strings.Index(msg, " (body "); i > 0 {
			msg = msg[:i] // the page is in the test log
		}
		if len(msg) > 160 {
			msg = msg[:160] + "…"
		}
		f.msg = msg
	}
}

// realT is the subtest, keeping the first failure message.
type realT struct {
	*testing.T
	first *first
}

func (t realT) Errorf(format string, args ...any) {
	t.T.Helper()
	t.first.keep(format, args...)
	t.T.Errorf(format, args...)
}

func (t realT) Fatalf(format string, args ...any) {
	t.T.Helper()
	t.first.keep(format, args...)
	t.T.Fatalf(format, args...)
}

func (t realT) Fatal(args ...any) {
	t.T.Helper()
	t.Fatalf("%s", fmt.Sprint(args...))
}

// probeT runs a pending cell: failures are recorded (and logged to the subtest), Fatal ends the scenario's
// goroutine as testing.T's FailNow does, and the subtest itself does not fail.
type probeT struct {
	t      *testing.T
	first  *first
	failed bool
}

func (p *probeT) Helper() {}

func (p *probeT) Errorf(format string, args ...any) {
	p.failed = true
	p.first.keep(format, args...)
	p.t.Logf("pending cell: "+format, args...)
}

func (p *probeT) Fatalf(format string, args ...any) {
	p.Errorf(format, args...)
	runtime.Goexit()
}

func (p *probeT) Fatal(args ...any) { p.Fatalf("%s", fmt.Sprint(args...)) }

// probe runs sc against c with a probeT in a goroutine of its own (Fatal ends it) and reports whether it passed.
func probe(t *testing.T, c *cell, sc scenario, f *first) (ok bool, note string) {
	p := &probeT{t: t, first: f}
	done := make(chan struct{})
	go func() {
		defer close(done)
		note = sc.run(p, c)
	}()
	<-done
	return !p.failed, note
}
