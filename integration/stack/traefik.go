// Package stack runs the real traefik binary with the configuration files under examples/local, in local plugin
// mode with a copy of this repository as the plugin. The demo, the end-to-end tests and the benchmark use it.
package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// Default ports of examples/local/traefik.yml; the launcher rewrites them when others are asked for.
const (
	DefaultWebAddr = "127.0.0.1:8000"
	DefaultAPIAddr = "127.0.0.1:8080"
)

// Options for one Traefik process.
type Options struct {
	Bin        string   // traefik binary; default <repo>/bin/traefik
	ExampleDir string   // directory with traefik.yml and dynamic.yml; default <repo>/examples/local
	Dir        string   // working directory to create; default a temp dir
	WebAddr    string   // default DefaultWebAddr; "127.0.0.1:0" picks a free port
	APIAddr    string   // default DefaultAPIAddr; "127.0.0.1:0" picks a free port
	Env        []string // environment for Traefik (the plugin's ${...} values, ECHO_URL)
	LogTo      io.Writer
	NoPlugin   bool // plain Traefik: the router without the middleware (benchmark baseline)
	// ExtraPlugins are more local plugins to lay out: module name -> source directory (copied like this plugin).
	ExtraPlugins map[string]string
	// ReadyRouter is the router whose presence means Traefik is ready; default "echo@file".
	ReadyRouter string
	// Dynamic, when not nil, is written as dynamic.yml instead of the example's (tests derive it from the example
	// with DeriveDynamic). NoPlugin still applies to it.
	Dynamic []byte
	// ProvidersThrottle, when not zero, sets providers.providersThrottleDuration in traefik.yml (Traefik applies at
	// most one configuration change per provider in that time; its default, 2s, makes a 50-reload test slow).
	ProvidersThrottle time.Duration
}

// Traefik is a running traefik process.
type Traefik struct {
	Dir     string
	WebURL  string
	APIURL  string
	cmd     *exec.Cmd
	logs    *LogBuffer
	waitErr chan error
}

// BinPath is where `make traefik` builds the binary.
func BinPath() string { return filepath.Join(harness.RepoRoot(), "bin", "traefik") }

// BuildTraefik builds Traefik v3.6.12 from the integration module into bin/traefik unless it is there already.
func BuildTraefik() (string, error) {
	bin := BinPath()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.Command("go", "build", "-o", bin, "github.com/traefik/traefik/v3/cmd/traefik")
	cmd.Dir = filepath.Join(harness.RepoRoot(), "integration")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // static, like `make traefik`: it also runs in FROM-scratch images
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building traefik: %v\n%s", err, out)
	}
	return bin, nil
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// CheckFree fails with a clear message when addr is taken.
func CheckFree(addr, what string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: address %s is already in use (stop what uses it, or choose another port)", what, addr)
	}
	return l.Close()
}

func (o *Options) defaults() error {
	root := harness.RepoRoot()
	if o.Bin == "" {
		o.Bin = BinPath()
	}
	if o.ExampleDir == "" {
		o.ExampleDir = filepath.Join(root, "examples", "local")
	}
	if o.WebAddr == "" {
		o.WebAddr = DefaultWebAddr
	}
	if o.APIAddr == "" {
		o.APIAddr = DefaultAPIAddr
	}
	var err error
	for _, p := range []*string{&o.WebAddr, &o.APIAddr} {
		if strings.HasSuffix(*p, ":0") {
			if *p, err = FreeAddr(); err != nil {
				return err
			}
		}
	}
	if o.Dir == "" {
		o.Dir, err = os.MkdirTemp("", "descopeoidc-traefik-")
	}
	return err
}

// Prepare lays out the working directory: the plugin copy, traefik.yml with the ports set, dynamic.yml verbatim
// (or Options.Dynamic).
func Prepare(o *Options) error {
	if err := o.defaults(); err != nil {
		return err
	}
	plugin := filepath.Join(o.Dir, "plugins-local", "src", harness.ModuleName)
	if err := os.RemoveAll(plugin); err != nil {
		return err
	}
	if err := harness.CopyPlugin(harness.RepoRoot(), plugin); err != nil {
		return err
	}
	for module, src := range o.ExtraPlugins {
		dst := filepath.Join(o.Dir, "plugins-local", "src", module)
		if err := os.RemoveAll(dst); err != nil {
			return err
		}
		if err := harness.CopyPlugin(src, dst); err != nil {
			return err
		}
	}
	static, err := os.ReadFile(filepath.Join(o.ExampleDir, "traefik.yml"))
	if err != nil {
		return err
	}
	s := strings.Replace(string(static), DefaultWebAddr, o.WebAddr, 1)
	s = strings.Replace(s, DefaultAPIAddr, o.APIAddr, 1)
	if o.ProvidersThrottle > 0 {
		if !strings.Contains(s, "\nproviders:\n") {
			return errors.New("traefik.yml: no top-level providers: section to set providersThrottleDuration in")
		}
		s = strings.Replace(s, "\nproviders:\n", "\nproviders:\n  providersThrottleDuration: "+o.ProvidersThrottle.String()+"\n", 1)
	}
	if err := os.WriteFile(filepath.Join(o.Dir, "traefik.yml"), []byte(s), 0o644); err != nil {
		return err
	}
	dynamic := o.Dynamic
	if dynamic == nil {
		if dynamic, err = os.ReadFile(filepath.Join(o.ExampleDir, "dynamic.yml")); err != nil {
			return err
		}
	}
	if o.NoPlugin {
		dynamic = []byte(strings.Replace(string(dynamic), "middlewares: [descope-login]", "middlewares: []", 1))
	}
	return os.WriteFile(filepath.Join(o.Dir, "dynamic.yml"), dynamic, 0o644)
}

// Start prepares the directory and starts Traefik, returning once it answers its ping and has the echo router.
func Start(o Options) (*Traefik, error) { return StartContext(context.Background(), o) }

// StartContext is Start, abandoned (Traefik stopped) when ctx ends before Traefik is ready.
func StartContext(ctx context.Context, o Options) (*Traefik, error) {
	if err := Prepare(&o); err != nil {
		return nil, err
	}
	logs := &LogBuffer{}
	var out io.Writer = logs
	if o.LogTo != nil {
		out = io.MultiWriter(logs, o.LogTo)
	}
	cmd := exec.Command(o.Bin, "--configFile="+filepath.Join(o.Dir, "traefik.yml"))
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting traefik: %v", err)
	}
	t := &Traefik{Dir: o.Dir, WebURL: "http://" + o.WebAddr, APIURL: "http://" + o.APIAddr, cmd: cmd, logs: logs, waitErr: make(chan error, 1)}
	ready := o.ReadyRouter
	if ready == "" {
		ready = "echo@file"
	}
	go func() { t.waitErr <- cmd.Wait() }()
	if err := t.waitReady(ctx, ready, 60*time.Second); err != nil {
		_ = t.Stop()
		return nil, fmt.Errorf("%v\ntraefik log:\n%s", err, t.Logs())
	}
	return t, nil
}

func (t *Traefik) waitReady(ctx context.Context, router string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-t.waitErr:
			t.waitErr <- err
			return fmt.Errorf("traefik exited early: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("traefik start abandoned: %v", ctx.Err())
		default:
		}
		enabled, errs := t.routerState(router)
		if enabled {
			return nil
		}
		// Traefik disabled the router: a middleware's New refused its configuration (the plugin's error names the
		// key), or another error of the router. It stays so until the configuration changes: fail now, quoting it.
		if len(errs) > 0 {
			return fmt.Errorf("traefik disabled the router %s: %s", router, strings.Join(errs, "; "))
		}
		// The file provider does not retry a configuration it could not build: fail now rather than at the timeout.
		if strings.Contains(t.Logs(), "Error while building configuration") {
			return errors.New("traefik could not build the dynamic configuration (dynamic.yml)")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("traefik did not become ready in time")
}

// routerState asks Traefik's API about a router: whether it is enabled, and the errors of a disabled one (none while
// Traefik has not loaded it yet).
func (t *Traefik) routerState(name string) (bool, []string) {
	resp, err := http.Get(t.APIURL + "/api/http/routers/" + name)
	if err != nil {
		return false, nil
	}
	defer resp.Body.Close()
	var r struct {
		Status string   `json:"status"`
		Error  []string `json:"error"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r) != nil {
		return false, nil
	}
	if r.Status == "disabled" {
		return false, r.Error
	}
	return r.Status == "enabled", nil
}

// Wait blocks until the process has ended and returns its exit error (nil for a clean exit).
func (t *Traefik) Wait() error {
	err := <-t.waitErr
	t.waitErr <- err
	return err
}

// PID is the Traefik process ID.
func (t *Traefik) PID() int { return t.cmd.Process.Pid }

// Logs returns everything Traefik printed so far.
func (t *Traefik) Logs() string { return t.logs.String() }

// Stop sends SIGTERM and waits (then SIGKILL).
func (t *Traefik) Stop() error {
	if t.cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case err := <-t.waitErr:
		t.waitErr <- err
		return nil
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
		return errors.New("traefik did not stop on SIGTERM")
	}
}

// Exited reports whether the process has ended.
func (t *Traefik) Exited() bool {
	select {
	case err := <-t.waitErr:
		t.waitErr <- err
		return true
	default:
		return false
	}
}

// Goroutines reads Traefik's goroutine count from its pprof endpoint.
func (t *Traefik) Goroutines(ctx context.Context) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.APIURL+"/debug/pprof/goroutine?debug=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	line, err := readLine(resp.Body)
	if err != nil {
		return 0, err
	}
	const prefix = "goroutine profile: total "
	if !strings.HasPrefix(line, prefix) {
		return 0, fmt.Errorf("unexpected pprof answer %q", line)
	}
	return strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, prefix)))
}

func readLine(r io.Reader) (string, error) {
	b := make([]byte, 256)
	n, err := io.ReadAtLeast(r, b, 1)
	if err != nil {
		return "", err
	}
	line := string(b[:n])
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	return line, nil
}

// RSSKiB reads the resident set size of the Traefik process from /proc.
func (t *Traefik) RSSKiB() (int, error) { return ProcRSSKiB(t.PID()) }

// ProcRSSKiB reads VmRSS of a process from /proc.
func ProcRSSKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				return strconv.Atoi(f[1])
			}
		}
	}
	return 0, errors.New("no VmRSS")
}

// CPUTicks reads user+system CPU time of a process in clock ticks (1/100 s) from /proc.
func CPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	sys, _ := strconv.ParseInt(f[12], 10, 64)
	return u + sys, nil
}

// WriteDynamic replaces dynamic.yml (the file provider watches it and reloads).
func (t *Traefik) WriteDynamic(content []byte) error {
	tmp := filepath.Join(t.Dir, ".dynamic.yml.tmp")
	if err := os.WriteFile(tmp, content, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(t.Dir, "dynamic.yml"))
}

// LogBuffer collects a process's output; safe to read while the process writes (harness.LogBuffer).
type LogBuffer = harness.LogBuffer
