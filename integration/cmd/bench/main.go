// Command bench is the load benchmark of `make bench` (bench/run.sh): it runs the real Traefik v3.6.12 binary with
// bench/traefik.yml and bench/dynamic.yml, the descopeoidc plugin and a pass-through Yaegi plugin loaded in local
// plugin mode, the Descope-like provider (devidp) and a fast upstream in this process, logs in once per load row, and
// drives wrk against every row, interleaved over several rounds, reading Traefik's CPU time from /proc around each
// run. It then checks memory against a Traefik without plugins, runs configuration reloads and a soak, prints a
// Markdown table with PASS/MISS per target and saves it to bench/RESULTS.md.
//
// Settings (environment, as passed through by bench/run.sh; flags of the same name win):
//
//	BENCH_ROUNDS=5 BENCH_DURATION=6s BENCH_THREADS=2 BENCH_CONNS=32 BENCH_SOAK=5m BENCH_RELOADS=100
//	BENCH_ROWS=plain,cookie,...   only these rows (plus plain, always)
//	BENCH_PEER=auto|off|<path>    oauth2-proxy peer row: auto uses oauth2-proxy from PATH or $(go env GOPATH)/bin
//	BENCH_OUT=bench/RESULTS.md    where to save the report ("" or "-": do not save)
//	BENCH_PROFILE=cookie,bearer   also save Traefik CPU profiles under load to bench/profile-<row>.prof
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

type settings struct {
	rounds   int
	duration time.Duration
	threads  int
	conns    int
	soak     time.Duration
	reloads  int
	rows     map[string]bool // nil: all
	profile  []string        // rows to take a Traefik CPU profile of (BENCH_PROFILE)
	peer     string
	out      string
	command  string
}

func envString(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
		fatalf("%s=%q is not a number", name, v)
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
		if n, err := strconv.Atoi(v); err == nil {
			return time.Duration(n) * time.Second
		}
		fatalf("%s=%q is not a duration such as 60s or 5m", name, v)
	}
	return def
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

func parseSettings() settings {
	var s settings
	var rows string
	flag.IntVar(&s.rounds, "rounds", envInt("BENCH_ROUNDS", 5), "rounds over all rows (BENCH_ROUNDS)")
	flag.DurationVar(&s.duration, "duration", envDuration("BENCH_DURATION", 6*time.Second), "wrk duration per row and round (BENCH_DURATION)")
	flag.IntVar(&s.threads, "threads", envInt("BENCH_THREADS", 2), "wrk threads (BENCH_THREADS)")
	flag.IntVar(&s.conns, "conns", envInt("BENCH_CONNS", 32), "wrk connections (BENCH_CONNS)")
	flag.DurationVar(&s.soak, "soak", envDuration("BENCH_SOAK", 5*time.Minute), "soak duration; 0 skips it (BENCH_SOAK)")
	flag.IntVar(&s.reloads, "reloads", envInt("BENCH_RELOADS", 100), "configuration reloads; 0 skips them (BENCH_RELOADS)")
	flag.StringVar(&rows, "rows", envString("BENCH_ROWS", ""), "comma-separated rows to run (BENCH_ROWS; default all)")
	flag.StringVar(&s.peer, "peer", envString("BENCH_PEER", "auto"), "oauth2-proxy peer row: auto, off or a binary path (BENCH_PEER)")
	var profile string
	flag.StringVar(&profile, "profile", envString("BENCH_PROFILE", ""), "comma-separated rows to CPU-profile Traefik on, into bench/profile-<row>.prof (BENCH_PROFILE)")
	flag.StringVar(&s.out, "out", envString("BENCH_OUT", filepath.Join(harness.RepoRoot(), "bench", "RESULTS.md")), "report file (BENCH_OUT; - for none)")
	flag.Parse()
	if s.rounds < 1 || s.duration < time.Second || s.threads < 1 || s.conns < s.threads {
		fatalf("invalid settings: rounds %d, duration %s, threads %d, conns %d", s.rounds, s.duration, s.threads, s.conns)
	}
	for _, p := range strings.Split(profile, ",") {
		if p = strings.TrimSpace(p); p != "" {
			s.profile = append(s.profile, p)
		}
	}
	if rows != "" {
		s.rows = map[string]bool{"plain": true}
		for _, r := range strings.Split(rows, ",") {
			s.rows[strings.TrimSpace(r)] = true
		}
	}
	s.command = envString("BENCH_COMMAND", "go run ./cmd/bench "+strings.Join(os.Args[1:], " "))
	return s
}

func main() {
	s := parseSettings()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	b := &bench{s: s, ctx: ctx}
	err := b.run()
	b.cleanup()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fatalf("interrupted")
		}
		fatalf("%v", err)
	}
	if b.missed > 0 {
		fmt.Printf("\n%d target(s) missed (see above)\n", b.missed)
	}
}
