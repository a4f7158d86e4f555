package providers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// startTimeout bounds how long a provider process may take to serve its discovery document (node and dex start in
// well under a second on a quiet machine; the budget is for a 2-core CI machine loaded by chromium, kube-apiserver
// and the race detector, and a wait ends as soon as the provider answers).
const startTimeout = 2 * time.Minute

// process is a provider running as a child process: its output is kept (bounded) for error messages, it is killed
// when the test binary dies (Pdeathsig), and stop ends it and waits for it, so no test leaves an orphan.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *boundedBuffer
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, set before done is closed
	once sync.Once
}

// startProcess runs name with args and env (added to the environment) in dir.
func startProcess(name, dir string, env []string, bin string, args ...string) (*process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out := &boundedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: starting %s: %w", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// output is what the process wrote so far (the last 64 KiB).
func (p *process) output() string { return p.out.String() }

// stop ends the process (SIGTERM, then SIGKILL after 5 s) and waits for it; calling it again is a no-op.
func (p *process) stop() {
	p.once.Do(func() {
		if p.exited() {
			return
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
}

// waitOutput waits until the process's output matches re and returns the first submatch (e.g. the address a
// server prints once it listens).
func (p *process) waitOutput(re *regexp.Regexp) (string, error) {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			return m[1], nil
		}
		if p.exited() {
			return "", fmt.Errorf("%s exited (%v); output:\n%s", p.name, p.err, p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("%s: no %s in its output after %s; output:\n%s", p.name, re, startTimeout, p.output())
}

// waitDiscovery polls the discovery document under base (the issuer, or the process's own address and path)
// until it answers 200 with exactly issuer, the process exits, or startTimeout passes.
func (p *process) waitDiscovery(base, issuer string) error {
	url := strings.TrimSuffix(base, "/") + "/.well-known/openid-configuration"
	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	last := "no answer yet"
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("%s exited before serving discovery (%v); output:\n%s", p.name, p.err, p.output())
		}
		if got, err := fetchIssuer(client, url); err != nil {
			last = err.Error()
		} else if got != issuer {
			return fmt.Errorf("%s: discovery issuer: expected %q, got %q", p.name, issuer, got)
		} else {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s: no discovery at %s after %s (%s); output:\n%s", p.name, url, startTimeout, last, p.output())
}

func fetchIssuer(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery: %s", resp.Status)
	}
	var d struct {
		Issuer string `json:"issuer"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		return "", err
	}
	return d.Issuer, nil
}

// boundedBuffer keeps the last max bytes written to it; safe for concurrent writers.
type boundedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if extra := b.buf.Len() - b.max; extra > 0 {
		b.buf.Next(extra)
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// repoRoot is the repository's top directory (this file is integration/providers/process.go).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// findTool returns the path of a tool the Makefile builds into bin/ (e.g. bin/dex), or the one on PATH; the error
// says how to get it.
func findTool(name, makeTarget string) (string, error) {
	local := filepath.Join(repoRoot(), "bin", name)
	if st, err := os.Stat(local); err == nil && !st.IsDir() {
		return local, nil
	}
	if path, err := exec.LookPath(name); err == nil {
		return path, nil
	}
	return "", errors.New(name + " not found in bin/ nor on PATH: run `make " + makeTarget + "` at the repository root")
}
