package scenarios

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/harness"
	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
)

// TestRedisClientUnderYaegi runs the plugin's Redis client from interpreted code (the Yaegi interpreter set up as
// Traefik's loader does: stdlib symbols, the plugin and its vendor tree under a GOPATH) against a real redis-server,
// standalone and a 3-master cluster: commands, EVALSHA scripts, a claim race between goroutines, the revocation
// stream, keys over many slots.
func TestRedisClientUnderYaegi(t *testing.T) {
	probe, down, probeTLS, pollCost := loadRedisProbe(t)
	t.Run("standalone", func(t *testing.T) {
		addr := startTestRedis(t)
		if msg := probe("standalone", "", []string{addr}); msg != "" {
			t.Fatal(msg)
		}
		if ns := pollCost(addr, 500); ns < 0 {
			t.Error("a revocation poll failed")
		} else {
			t.Logf("a revocation poll with nothing new (XRANGE over loopback) from interpreted code: %v", time.Duration(ns))
		}
	})
	t.Run("sentinel", func(t *testing.T) {
		master := startTestRedis(t)
		sentinel := startTestSentinel(t, master)
		if msg := probe("sentinel", "mymaster", []string{sentinel}); msg != "" {
			t.Fatal(msg)
		}
		if n := redisCLI(t, master, "DBSIZE"); n == "0" {
			t.Error("the sentinel's master has no keys")
		}
	})
	t.Run("tls", func(t *testing.T) {
		pki := writeRedisPKI(t)
		addr := startTestRedisTLS(t, pki)
		if msg := probeTLS(addr, pki["ca"], pki["client"], pki["client-key"]); msg != "" {
			t.Fatal(msg)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		dead := []string{"127.0.0.1:" + strconv.Itoa(freeRedisPort(t))}
		for _, mode := range []string{"standalone", "sentinel", "cluster"} {
			master := ""
			if mode == "sentinel" {
				master = "mymaster"
			}
			if msg := down(mode, master, dead); msg != "" {
				t.Errorf("%s: %s", mode, msg)
			}
		}
	})
	t.Run("cluster", func(t *testing.T) {
		addrs := startTestRedisCluster(t)
		if msg := probe("cluster", "", addrs[:1]); msg != "" {
			t.Fatal(msg)
		}
		spread := 0
		for _, a := range addrs {
			if n := redisCLI(t, a, "DBSIZE"); n != "0" {
				spread++
			}
		}
		if spread != 3 {
			t.Errorf("the probe's keys reached %d of the 3 masters, want all 3", spread)
		}
	})
}

// loadRedisProbe copies the plugin (as Traefik's loader does) plus testdata/redisprobe.go into a GOPATH, imports it
// into a Yaegi interpreter and returns the interpreted RedisYaegiProbe, RedisYaegiProbeDown, RedisYaegiProbeTLS and
// RedisYaegiPollCost.
func loadRedisProbe(t *testing.T) (probe, down func(string, string, []string) string,
	probeTLS func(string, string, string, string) string, pollCost func(string, int) int64) {
	t.Helper()
	gopath := t.TempDir()
	dst := filepath.Join(gopath, "src", harness.ModuleName)
	if err := harness.CopyPlugin(harness.RepoRoot(), dst); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join("testdata", "redisprobe.go"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "redisprobe.go"), src, 0o600); err != nil {
		t.Fatal(err)
	}
	i := interp.New(interp.Options{GoPath: gopath, Env: os.Environ()})
	if err := i.Use(stdlib.Symbols); err != nil {
		t.Fatal(err)
	}
	if _, err := i.Eval(`import "` + harness.ModuleName + `"`); err != nil {
		t.Fatalf("the plugin with the Redis client does not load under Yaegi: %v", err)
	}
	fns := map[string]any{}
	for _, name := range []string{"RedisYaegiProbe", "RedisYaegiProbeDown", "RedisYaegiProbeTLS", "RedisYaegiPollCost"} {
		v, err := i.Eval("descopeoidc." + name)
		if err != nil {
			t.Fatal(err)
		}
		fns[name] = v.Interface()
	}
	return fns["RedisYaegiProbe"].(func(string, string, []string) string),
		fns["RedisYaegiProbeDown"].(func(string, string, []string) string),
		fns["RedisYaegiProbeTLS"].(func(string, string, string, string) string),
		fns["RedisYaegiPollCost"].(func(string, int) int64)
}

func freeRedisPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func redisBin(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (apt-get install redis-server; make deps does it): %v", name, err)
	}
	return p
}

// startTestRedis runs redis-server on a free loopback port with extra arguments, killed and reaped at the end.
func startTestRedis(t *testing.T, extra ...string) string {
	t.Helper()
	port := strconv.Itoa(freeRedisPort(t))
	dir := t.TempDir()
	args := append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
		"--logfile", filepath.Join(dir, "log")}, extra...)
	return runTestRedis(t, redisBin(t, "redis-server"), port, dir, args...)
}

// startTestSentinel runs redis-sentinel watching master as mymaster.
func startTestSentinel(t *testing.T, master string) string {
	t.Helper()
	port := strconv.Itoa(freeRedisPort(t))
	dir := t.TempDir()
	_, mport, _ := net.SplitHostPort(master)
	conf := "port " + port + "\nbind 127.0.0.1\ndir " + dir + "\nlogfile " + filepath.Join(dir, "log") +
		"\nsentinel monitor mymaster 127.0.0.1 " + mport + " 1\n"
	file := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return runTestRedis(t, redisBin(t, "redis-sentinel"), port, dir, file)
}

// runTestRedis starts bin with args, waits until its log (in dir) says it is ready and port accepts connections
// (the port is then its own), and kills and reaps it at the end.
func runTestRedis(t *testing.T, bin, port, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + port
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(dir, "log"))
		ready := strings.Contains(string(b), "Ready to accept connections") || strings.Contains(string(b), "Sentinel ID is")
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			if ready {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s", bin, addr)
		}
	}
}

// startTestRedisCluster runs three cluster-enabled servers, joins them as a cluster of 3 masters with redis-cli and
// waits for cluster_state:ok.
func startTestRedisCluster(t *testing.T) []string {
	t.Helper()
	cli := redisBin(t, "redis-cli")
	var addrs []string
	for n := 0; n < 3; n++ {
		addrs = append(addrs, startTestRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"))
	}
	args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, a := range addrs {
		for deadline := time.Now().Add(15 * time.Second); !strings.Contains(redisCLI(t, a, "CLUSTER", "INFO"), "cluster_state:ok"); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("cluster not ok at %s", a)
			}
		}
	}
	return addrs
}

// redisCLI runs one command with redis-cli against addr and returns its output, trimmed.
func redisCLI(t *testing.T, addr string, args ...string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command(redisBin(t, "redis-cli"), append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(fmt.Sprint(string(out)))
}
