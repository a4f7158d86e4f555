package descopeoidc

import (
	"fmt"
	"os"
)

// Logging: errors and warnings go to stderr (Traefik logs them at error level), info and debug to stdout (Traefik's
// debug level). Never log tokens, codes, secrets or cookie values.
const (
	levelError = iota
	levelWarn
	levelInfo
	levelDebug
)

var logLevels = map[string]int{"error": levelError, "warn": levelWarn, "info": levelInfo, "debug": levelDebug}

var levelNames = []string{"error", "warn", "info", "debug"}

// logger writes one middleware's log lines. The middleware and its session manager share it. It is a type, not a
// func field: under Yaegi v0.16.1 a call through a variadic func-typed struct field with more arguments than
// parameters (sm.logf(level, format, a, b)) fails when the package loads (index out of range in callBin), which
// disables the middleware.
type logger struct {
	name  string // the middleware's name, as Traefik gave it to New
	level int    // the most verbose level written
}

func (l *logger) logf(level int, format string, args ...any) {
	if level > l.level {
		return
	}
	out := os.Stdout
	if level <= levelWarn {
		out = os.Stderr
	}
	msg := logEscaper.Replace(fmt.Sprintf(format, args...)) // one message, one line: see logescape.go
	fmt.Fprintf(out, "descopeoidc[%s] level=%s %s\n", l.name, levelNames[level], msg)
}

func (m *Middleware) logf(level int, format string, args ...any) {
	m.log.logf(level, format, args...)
}
