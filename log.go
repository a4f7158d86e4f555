package descopeoidc

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Where the plugin's log lines go (README "Logging").
//
// Traefik v3 (pkg/plugins, newInterpreter) builds the plugin's Yaegi interpreter with Stdout and Stderr set to its
// own zerolog logger, wrapped so that a plain write is logged at debug level (Stdout) or error level (Stderr). Inside
// the interpreter (Yaegi fixStdlib) fmt.Print* write to that Stdout and the log package (log.Print*, log.Writer) to
// that Stderr, but os.Stdout and os.Stderr stay the process's own files: Yaegi substitutes them only with streams
// that are *os.File. A line written to os.Stdout/os.Stderr therefore bypasses Traefik's log (its file, its format,
// its level), and a plain write through fmt or log gets one fixed level whatever the line says.
//
// So the plugin writes to log.Writer() (Traefik's logger under Traefik, the process's standard logger compiled) and,
// when that writer is a leveled logger (it has Error/Warn/Info/Debug methods returning an event with Str and Msg,
// which is what zerolog's Logger is), logs through the method of the line's level: Traefik then adds its timestamp,
// filters by its log.level and writes to log.filePath in log.format, with the plugin's fields as fields of its own
// record. Anything else (a compiled build, a host that gives the interpreter plain files) gets one line per record,
// text or JSON, with the time and level in it. Never log tokens, codes, secrets or cookie values.

const (
	levelError = iota
	levelWarn
	levelInfo
	levelDebug
)

var logLevels = map[string]int{"error": levelError, "warn": levelWarn, "info": levelInfo, "debug": levelDebug}

var levelNames = []string{"error", "warn", "info", "debug"}

// leveledMethods are the method names of a leveled logger, by level.
var leveledMethods = []string{"Error", "Warn", "Info", "Debug"}

// logger writes one middleware's log lines. The middleware and its session manager share it. It is a type, not a
// func field: under Yaegi v0.16.1 a call through a variadic func-typed struct field with more arguments than
// parameters (sm.logf(level, format, a, b)) fails when the package loads (index out of range in callBin), which
// disables the middleware.
type logger struct {
	name  string // the middleware's name, as Traefik gave it to New
	level int    // the most verbose level written (logLevel)
	json  bool   // logFormat json: fields are fields of the record, not text
}

// logf logs a free-text line (a detail for the operator, not a security event: those are events.go's).
func (l *logger) logf(level int, format string, args ...any) {
	if level > l.level {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if level <= levelWarn {
		if msg = limitRepeats(l.name, msg); msg == "" { // identical warnings: at most once a minute (outage.go)
			return
		}
	}
	l.emit(level, msg, nil)
}

func (m *Middleware) logf(level int, format string, args ...any) {
	m.log.logf(level, format, args...)
}

// emit writes one record: msg (escaped to one line: logescape.go) and fields (key, value pairs, values escaped
// too). With logFormat text the fields are appended to the message as key=value; with json they are fields of
// the record. The caller has checked the level against logLevel.
func (l *logger) emit(level int, msg string, fields []string) {
	msg = logEscaper.Replace(msg)
	for i := 1; i < len(fields); i += 2 {
		fields[i] = logEscaper.Replace(fields[i])
	}
	if !l.json {
		msg = "descopeoidc[" + l.name + "] " + msg + textFields(fields)
		fields = nil
	} else {
		fields = append([]string{"middleware", l.name}, fields...)
	}
	w := log.Writer()
	if logLeveled(w, level, msg, fields) {
		return
	}
	writeLine(w, level, msg, fields)
}

// textFields renders key, value pairs as " key=value", quoting values that are empty or hold a space, a quote or
// an equals sign.
func textFields(fields []string) string {
	var b strings.Builder
	for i := 1; i < len(fields); i += 2 {
		v := fields[i]
		if v == "" || strings.ContainsAny(v, " \"=\\") {
			v = strconv.Quote(v)
		}
		b.WriteString(" " + fields[i-1] + "=" + v)
	}
	return b.String()
}

// writeLine is the record on a writer that is not a leveled logger: "descopeoidc[name] level=L msg" (msg already
// carries the prefix) or one JSON object with time and level.
func writeLine(w io.Writer, level int, msg string, fields []string) {
	if fields == nil {
		_, _ = io.WriteString(w, strings.Replace(msg, "] ", "] level="+levelNames[level]+" ", 1)+"\n")
		return
	}
	obj := map[string]string{"time": time.Now().UTC().Format(time.RFC3339Nano), "level": levelNames[level]}
	for i := 1; i < len(fields); i += 2 {
		obj[fields[i-1]] = fields[i]
	}
	obj["message"] = msg
	b, err := json.Marshal(obj) // a map of strings: the same result under Yaegi (YAEGI.md)
	if err != nil {
		return
	}
	_, _ = w.Write(append(b, '\n'))
}

// logLeveled logs msg with fields at level through w's leveled methods when w is a leveled logger (the event
// returned by w.Info() and the others has Str(key, value) and Msg(msg); a nil event means the logger filters that
// level). It reports false, having logged nothing, when w is not one. Reflection: the plugin can import no logging
// library, and Yaegi offers no other way to reach Traefik's levels. Not on the hot path: only when a line is logged.
func logLeveled(w io.Writer, level int, msg string, fields []string) bool {
	v := reflect.ValueOf(w)
	if !v.IsValid() {
		return false
	}
	if v.Kind() != reflect.Ptr { // zerolog's Logger is held as a value, its Info() & co. have pointer receivers
		p := reflect.New(v.Type())
		p.Elem().Set(v)
		v = p
	}
	method := v.MethodByName(leveledMethods[level])
	if !method.IsValid() || !leveledSignature(method.Type()) {
		return false
	}
	ev := method.Call(nil)[0]
	if ev.IsNil() {
		return true // below the logger's level
	}
	for i := 1; i < len(fields); i += 2 {
		ev = ev.MethodByName("Str").Call([]reflect.Value{reflect.ValueOf(fields[i-1]), reflect.ValueOf(fields[i])})[0]
	}
	ev.MethodByName("Msg").Call([]reflect.Value{reflect.ValueOf(msg)})
	return true
}

// leveledSignature: func() E, where E is a pointer type with Str(string, string) E and Msg(string).
func leveledSignature(t reflect.Type) bool {
	if t.NumIn() != 0 || t.NumOut() != 1 || t.Out(0).Kind() != reflect.Ptr {
		return false
	}
	e := t.Out(0)
	str, ok := e.MethodByName("Str")
	if !ok || str.Type.NumIn() != 3 || str.Type.NumOut() != 1 || str.Type.Out(0) != e ||
		str.Type.In(1).Kind() != reflect.String || str.Type.In(2).Kind() != reflect.String {
		return false
	}
	msg, ok := e.MethodByName("Msg")
	return ok && msg.Type.NumIn() == 2 && msg.Type.In(1).Kind() == reflect.String
}
