// Package examples runs the examples a user copies, unchanged, on real engines: examples/compose under podman-compose
// (TestCompose) and examples/kubernetes on a real kube-apiserver with etcd (TestKubernetes), each with a login in
// headless Chromium through the plugin. Static files that no engine runs here (examples/static, the Helm values)
// go through Traefik's own loaders (static_test.go).
//
// The tools are installed by the project's own files (`make deps`: .ci/deps.sh; `make kube`): a missing one fails
// the test with the command that installs it.
package examples

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/traefik-descope/descopeoidc/integration/harness"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

const (
	cookieName    = "_descopeoidc" // the plugin's default
	loginTitle    = "Descope demo login"
	sessionSecret = "examples-session-secret-0123456789abcdef-0123456789"
)

func TestMain(m *testing.M) {
	// Traefik's loaders (static_test.go) log through zerolog's global logger at debug level; the tests assert on
	// results.
	zerolog.SetGlobalLevel(zerolog.ErrorLevel)
	// The in-process dev provider (zitadel's op) logs every route and rejected request at info level.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	os.Exit(m.Run())
}

// needRoot skips when not root: podman's rootful networks, network namespaces and veth pairs need it (CI runs as
// root).
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (rootful podman networks, network namespaces): CI runs `bash .ci/run` as root")
	}
}

// needTool fails the test when a program is missing, naming how the project installs it.
func needTool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found on PATH: %s", name, install)
	}
	return p
}

// repoFile is a path below the repository root.
func repoFile(parts ...string) string {
	return filepath.Join(append([]string{harness.RepoRoot()}, parts...)...)
}

// needBin fails the test when bin/<name> (a `make` target) is missing.
func needBin(t *testing.T, name, target string) string {
	t.Helper()
	p := repoFile("bin", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s missing: run `make %s` first (`make integration` does)", p, target)
	}
	return p
}

var (
	traefikOnce sync.Once
	traefikErr  error
)

// needTraefik makes sure bin/traefik exists (`make integration` builds it; a bare `go test` builds it here).
func needTraefik(t *testing.T) string {
	t.Helper()
	traefikOnce.Do(func() { _, traefikErr = stack.BuildTraefik() })
	if traefikErr != nil {
		t.Fatalf("traefik binary: %v", traefikErr)
	}
	return stack.BinPath()
}

// hostLock holds an exclusive lock of this machine (flock on a file in the temp directory) until the test ends:
// two runs of the suite at once (a developer's and CI's) would otherwise share image tags, the compose project and
// the network namespace, and one's cleanup would remove the other's. It waits up to 15 minutes.
func hostLock(t *testing.T, name string) {
	t.Helper()
	path := filepath.Join(os.TempDir(), "descopeoidc-"+name+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Minute)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			f.Close()
			t.Fatalf("%s: held by another run for 15 minutes: %v", path, err)
		}
		time.Sleep(time.Second)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}

// freePort is a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	addr, err := stack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// cmdResult is a finished command.
type cmdResult struct {
	out string // stdout and stderr
	err error
	dur time.Duration
}

// runCmd runs a command with extra environment entries, at most for timeout.
func runCmd(timeout time.Duration, env []string, dir, name string, args ...string) cmdResult {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	err := cmd.Run()
	return cmdResult{out: buf.String(), err: err, dur: time.Since(start)}
}

// mustRun runs a command and fails the test with its output when it fails.
func mustRun(t *testing.T, timeout time.Duration, env []string, dir, name string, args ...string) cmdResult {
	t.Helper()
	r := runCmd(timeout, env, dir, name, args...)
	if r.err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), r.err, tail(r.out, 6000))
	}
	return r
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// logProblems returns the log lines that show a failure: a panic, an error-level line of Traefik (common format
// "ERR"/"FTL" or JSON "level":"error") or of the plugin ("level=error").
func logProblems(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		lower := strings.ToLower(line)
		fields := strings.Fields(line)
		if strings.Contains(lower, "panic") || strings.Contains(lower, `"level":"error"`) ||
			strings.Contains(line, "level=error") || (len(fields) > 1 && (fields[1] == "ERR" || fields[1] == "FTL")) {
			out = append(out, line)
		}
	}
	return out
}

// timing logs how long a part took, in a form the closing note can quote.
func timing(t *testing.T, part string, d time.Duration) {
	t.Helper()
	t.Logf("TIME %s: %s", part, d.Round(100*time.Millisecond))
	fmt.Fprintf(os.Stderr, "TIME %s %s: %s\n", t.Name(), part, d.Round(100*time.Millisecond))
}
