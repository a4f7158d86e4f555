package descopeoidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Real Redis servers for the client's tests: Debian's redis-server and redis-sentinel (.ci/deps.sh installs them),
// each on a free loopback port, run in the foreground so that the test owns the process and reaps it.

// redisBinary is the path of a Redis program; the test is skipped, saying why, when it is not installed.
func redisBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (apt-get install redis-server redis-sentinel; make deps does it): %v", name, err)
	}
	return p
}

// testRedis is one server process.
type testRedis struct {
	t    *testing.T
	addr string
	port int
	dir  string
	bin  string
	args []string
	cmd  *exec.Cmd
	once *sync.Once
}

func freeRedisPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

// startRedisServer runs redis-server without persistence on a free loopback port (plain, or TLS when tlsArgs are
// given: they then name the certificates), with extra arguments.
func startRedisServer(t *testing.T, tlsArgs []string, extra ...string) *testRedis {
	t.Helper()
	bin := redisBinary(t, "redis-server")
	dir := t.TempDir()
	port := freeRedisPort(t)
	args := []string{"--port", strconv.Itoa(port)}
	if tlsArgs != nil {
		args = append([]string{"--port", "0", "--tls-port", strconv.Itoa(port)}, tlsArgs...)
	}
	args = append(args, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
		"--logfile", filepath.Join(dir, "log"))
	s := &testRedis{t: t, port: port, addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir, bin: bin, args: append(args, extra...)}
	s.start()
	return s
}

// startRedisSentinel runs redis-sentinel watching master as "mymaster", with a one-second down-after.
func startRedisSentinel(t *testing.T, master *testRedis) *testRedis {
	t.Helper()
	bin := redisBinary(t, "redis-sentinel")
	dir := t.TempDir()
	port := freeRedisPort(t)
	conf := strings.Join([]string{
		"port " + strconv.Itoa(port), "bind 127.0.0.1", "dir " + dir, "logfile " + filepath.Join(dir, "log"),
		"sentinel monitor mymaster 127.0.0.1 " + strconv.Itoa(master.port) + " 1",
		"sentinel down-after-milliseconds mymaster 1000", "sentinel failover-timeout mymaster 3000", ""}, "\n")
	file := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &testRedis{t: t, port: port, addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir, bin: bin, args: []string{file}}
	s.start()
	return s
}

// start runs the process and waits until its log says it is ready (so the port is its own, not another test's
// server that took it first) and the port accepts connections; it is stopped when the test ends.
func (s *testRedis) start() {
	s.t.Helper()
	logFile := filepath.Join(s.dir, "log")
	_ = os.Remove(logFile) // a restart's readiness is read from its own log lines
	s.cmd = exec.Command(s.bin, s.args...)
	s.once = &sync.Once{}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		s.stop()
		if s.t.Failed() {
			b, _ := os.ReadFile(filepath.Join(s.dir, "log"))
			s.t.Logf("log of %s %s:\n%s", filepath.Base(s.bin), s.addr, redisLogTail(string(b), 30))
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(logFile)
		ready := strings.Contains(string(b), "Ready to accept connections") || strings.Contains(string(b), "Sentinel ID is")
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			_ = c.Close()
			if ready {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s is not ready on %s (ready in its log: %v): %v", s.bin, s.addr, ready, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the process (SIGKILL: a crash, not a clean shutdown) and reaps it.
func (s *testRedis) stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	})
}

// restart starts the same server again on the same port, with no data.
func (s *testRedis) restart() {
	s.stop()
	s.start()
}

func redisLogTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// testRedisConfig is a RedisConfig for addrs in mode, with short timeouts.
func testRedisConfig(mode string, addrs ...string) *RedisConfig {
	return &RedisConfig{Mode: mode, Addresses: addrs, DialTimeout: "1s", ReadTimeout: "2s", WriteTimeout: "2s"}
}

// testRedisClient validates rc and returns a new client of its own (not the process-wide one: tests stay apart).
func testRedisClient(t *testing.T, rc *RedisConfig) *redisClient {
	t.Helper()
	o, err := rc.options("redis.")
	if err != nil {
		t.Fatal(err)
	}
	cl := newRedisClient(o)
	t.Cleanup(cl.close)
	return cl
}

// redisTestPKI is a CA made for the test with a server certificate for 127.0.0.1 and a client certificate, as files.
type redisTestPKI struct {
	dir, ca, serverCert, serverKey, clientCert, clientKey string
}

func newRedisTestPKI(t *testing.T) *redisTestPKI {
	t.Helper()
	dir := t.TempDir()
	p := &redisTestPKI{dir: dir, ca: filepath.Join(dir, "ca.pem")}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test redis CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	writeRedisPEM(t, p.ca, "CERTIFICATE", caDER)
	p.serverCert, p.serverKey = p.issue(t, caCert, caKey, "server", x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = p.issue(t, caCert, caKey, "client", x509.ExtKeyUsageClientAuth)
	return p
}

func (p *redisTestPKI) issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, usage x509.ExtKeyUsage) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+"-key.pem")
	writeRedisPEM(t, certFile, "CERTIFICATE", der)
	writeRedisPEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func writeRedisPEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startRedisCluster runs three cluster-enabled servers, joins them into a cluster of 3 masters (no replicas) with
// redis-cli and waits until every node says cluster_state:ok.
func startRedisCluster(t *testing.T) []*testRedis {
	t.Helper()
	cli := redisBinary(t, "redis-cli")
	var nodes []*testRedis
	args := []string{"--cluster", "create"}
	for i := 0; i < 3; i++ {
		n := startRedisServer(t, nil, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000")
		nodes = append(nodes, n)
		args = append(args, n.addr)
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range nodes {
		for !strings.Contains(rawRedis(t, n.addr, "CLUSTER", "INFO").str, "cluster_state:ok") {
			if time.Now().After(deadline) {
				t.Fatalf("the cluster is not ok at %s", n.addr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nodes
}

func mustRedisOK(t *testing.T, rep redisReply) {
	t.Helper()
	if rep.kind != '+' || rep.str != "OK" {
		t.Fatalf("reply %+v, want OK", rep)
	}
}

// redisCommandCalls is how many times addr ran cmd (INFO commandstats).
func redisCommandCalls(t *testing.T, addr, cmd string) int {
	t.Helper()
	return redisStatCalls(rawRedis(t, addr, "INFO", "commandstats").str, "cmdstat_"+cmd)
}
