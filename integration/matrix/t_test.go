package matrix

import (
	"fmt"
	"strings"
	"testing"
)

// T is a scenario's testing.T that also keeps the first failure message, for the report's notes.
type T struct {
	*testing.T
	first *string
}

func (t T) keep(msg string) {
	if *t.first == "" {
		msg = strings.Join(strings.Fields(msg), " ")
		if len(msg) > 160 {
			msg = msg[:160] + "…"
		}
		*t.first = msg
	}
}

// Errorf records and reports a failure.
func (t T) Errorf(format string, args ...any) {
	t.T.Helper()
	t.keep(fmt.Sprintf(format, args...))
	t.T.Errorf(format, args...)
}

// Fatalf records and reports a failure, and ends the scenario.
func (t T) Fatalf(format string, args ...any) {
	t.T.Helper()
	t.keep(fmt.Sprintf(format, args...))
	t.T.Fatalf(format, args...)
}

// Fatal is Fatalf with the default format.
func (t T) Fatal(args ...any) {
	t.T.Helper()
	t.Fatalf("%s", fmt.Sprint(args...))
}
