package harness

import (
	"bytes"
	"io"
	"log"
	"sync"

	"github.com/rs/zerolog"
	zlog "github.com/rs/zerolog/log"
)

// The plugin logs to log.Writer() (logger.go in the plugin). Under Traefik that is the interpreter's Stderr, which
// Traefik's pkg/plugins sets to a zerolog logger derived from the global github.com/rs/zerolog/log.Logger (which
// Traefik's setupLogger configures). The Yaegi target here gets such a logger, writing JSON like Traefik's
// `log.format: json`, at debug level. The compiled target logs to the process's standard logger. Both end up in
// pluginLog, which discards until a test captures it.

var pluginLog = &switchWriter{w: io.Discard}

func init() {
	l := zerolog.New(pluginLog).With().Timestamp().Logger().Level(zerolog.DebugLevel)
	zlog.Logger = l
	zerolog.DefaultContextLogger = &l
}

type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *switchWriter) set(w io.Writer) io.Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.w
	s.w = w
	return old
}

// LogBuffer collects log output safely from many goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// CaptureLogs sends what both targets log to a new buffer until the returned stop function runs (tests that
// capture must not run in parallel with each other).
func CaptureLogs() (*LogBuffer, func()) {
	b := &LogBuffer{}
	oldLog := log.Writer()
	log.SetOutput(b)
	old := pluginLog.set(b)
	return b, func() {
		pluginLog.set(old)
		log.SetOutput(oldLog)
	}
}
