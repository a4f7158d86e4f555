package matrix

import (
	"fmt"
	"strings"
	"testing"
)

// T is what a scenario reports to: the subtest itself, through realT, which keeps the first failure for the report.
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
