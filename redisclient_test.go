package descopeoidc

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawRedis runs one command on its own plain connection to addr (the tests' view of the server, beside the client).
func rawRedis(t *testing.T, addr string, args ...string) redisReply {
	t.Helper()
	d := &redisDialer{dialTimeout: time.Second}
	c, err := d.dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	rep, err := c.roundTrip(args, time.Now().Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// connectedClients is the server's connected_clients, the asking connection included.
func connectedClients(t *testing.T, addr string) int {
	t.Helper()
	info := rawRedis(t, addr, "INFO", "clients").str
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "connected_clients:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatalf("no connected_clients in %q", info)
	return 0
}

// TestRedisPoolBounded: more concurrent commands than poolSize wait for a connection instead of opening more.
func TestRedisPoolBounded(t *testing.T) {
	srv := startRedisServer(t, nil)
	rc := testRedisConfig("standalone", srv.addr)
	rc.PoolSize, rc.DialTimeout = 2, "5s" // the dial timeout also bounds the wait for a free connection
	cl := testRedisClient(t, rc)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// BLPOP on an empty list holds its connection for 150 ms.
			_, err := cl.do(ctx, redisCmd{args: []string{"BLPOP", "empty", "0.15"}, key: "empty"})
			errs <- err
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	peak := 0
	for running := true; running; {
		if n := connectedClients(t, srv.addr) - 1; n > peak {
			peak = n
		}
		select {
		case <-done:
			running = false
		case <-time.After(10 * time.Millisecond):
		}
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a command waiting for a pooled connection failed: %v", err)
		}
	}
	if peak < 1 || peak > 2 {
		t.Errorf("the server saw %d connections of the client at once, want 1-2 (poolSize 2)", peak)
	}
}

// TestRedisIdleConnectionsClosedLazily: a connection idle past idleTimeout is closed when the pool is next used,
// and the command gets a new one.
func TestRedisIdleConnectionsClosedLazily(t *testing.T) {
	srv := startRedisServer(t, nil)
	rc := testRedisConfig("standalone", srv.addr)
	rc.IdleTimeout = "400ms"
	cl := testRedisClient(t, rc)
	ctx := context.Background()
	id := func() int64 {
		n, err := cl.integer(ctx, redisCmd{args: []string{"CLIENT", "ID"}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	first, again := id(), id()
	if first != again {
		t.Fatalf("an idle connection within idleTimeout was not reused: client ids %d then %d", first, again)
	}
	time.Sleep(800 * time.Millisecond)
	if n := connectedClients(t, srv.addr) - 1; n != 1 {
		t.Fatalf("before the next command the idle connection should still be open (nothing runs in the background): %d", n)
	}
	if later := id(); later == first {
		t.Fatalf("a connection idle past idleTimeout was reused (client id %d)", later)
	}
	if n := connectedClients(t, srv.addr) - 1; n != 1 {
		t.Errorf("the expired connection was not closed: the server has %d of the client's connections", n)
	}
}

// TestRedisRetriesAfterRestart: after the server restarts, pooled connections are dead; idempotent and
// non-idempotent commands both succeed because the server surely did not read them, and the pool recovers.
func TestRedisRetriesAfterRestart(t *testing.T) {
	srv := startRedisServer(t, nil)
	cl := testRedisClient(t, testRedisConfig("standalone", srv.addr))
	ctx := context.Background()
	if _, err := cl.set(ctx, "k", "v", 0, false); err != nil {
		t.Fatal(err)
	}
	srv.restart()
	if _, ok, err := cl.get(ctx, "k"); err != nil || ok {
		t.Fatalf("GET after a restart: ok=%v err=%v, want a miss (no persistence) and no error", ok, err)
	}
	if _, err := cl.set(ctx, "k", "v", 0, false); err != nil {
		t.Fatal(err)
	}
	// Several idle connections, all dead after the restart: the first failure closes the others.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = cl.do(ctx, redisCmd{args: []string{"BLPOP", "empty", "0.05"}, key: "empty"})
		}()
	}
	wg.Wait()
	cl.mu.Lock()
	idle := len(cl.pools[srv.addr].idle)
	cl.mu.Unlock()
	if idle < 2 {
		t.Fatalf("%d idle connections, want several", idle)
	}
	srv.restart()
	if n, err := cl.incr(ctx, "counter"); err != nil || n != 1 {
		t.Fatalf("INCR on a connection the restarted server had closed: %d, %v; want 1 (retried, not sent twice)", n, err)
	}
}

// TestRedisUnreachableFailsFast: with the server gone a command fails after its bounded retries, quickly.
func TestRedisUnreachableFailsFast(t *testing.T) {
	srv := startRedisServer(t, nil)
	cl := testRedisClient(t, testRedisConfig("standalone", srv.addr))
	srv.stop()
	start := time.Now()
	_, _, err := cl.get(context.Background(), "k")
	if err == nil {
		t.Fatal("GET succeeded against a stopped server")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("GET against a stopped server took %v, want the retries' backoff only (~60 ms)", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	time.Sleep(20 * time.Millisecond)
	if _, _, err := cl.get(ctx, "k"); err == nil || err != context.DeadlineExceeded {
		t.Errorf("GET with an expired context: %v, want context.DeadlineExceeded", err)
	}
}

// TestRedisACLUserFromFile: an ACL user whose password is in a file reaches its keys and only them; a wrong
// password is refused at the connection, naming AUTH.
func TestRedisACLUserFromFile(t *testing.T) {
	srv := startRedisServer(t, nil, "--user", "default", "off", "--user", "alice", "on", ">s3cret-pw", "~app:*", "+@all")
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	_ = os.WriteFile(good, []byte("s3cret-pw\n"), 0o600)
	_ = os.WriteFile(bad, []byte("wrong"), 0o600)
	rc := testRedisConfig("standalone", srv.addr)
	rc.Username, rc.PasswordFile = "alice", good
	cl := testRedisClient(t, rc)
	ctx := context.Background()
	if _, err := cl.set(ctx, "app:x", "1", time.Minute, false); err != nil {
		t.Fatalf("alice writing her key: %v", err)
	}
	if _, err := cl.set(ctx, "other:x", "1", time.Minute, false); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("alice writing outside ~app:*: %v, want NOPERM", err)
	}
	rc.PasswordFile = bad
	if _, _, err := testRedisClient(t, rc).get(ctx, "app:x"); err == nil || !strings.Contains(err.Error(), "AUTH refused") {
		t.Fatalf("wrong password: %v, want AUTH refused", err)
	}
	rc.Username, rc.PasswordFile = "", ""
	if _, _, err := testRedisClient(t, rc).get(ctx, "app:x"); err == nil {
		t.Fatal("the disabled default user could read")
	}
}

// TestRedisTLS: TLS with the test CA and a client certificate; without the certificate, or trusting another CA,
// the connection fails.
func TestRedisTLS(t *testing.T) {
	pki := newRedisTestPKI(t)
	srv := startRedisServer(t, []string{"--tls-cert-file", pki.serverCert, "--tls-key-file", pki.serverKey,
		"--tls-ca-cert-file", pki.ca, "--tls-auth-clients", "yes"})
	rc := testRedisConfig("standalone", srv.addr)
	rc.TLS, rc.CAFile, rc.CertFile, rc.KeyFile = true, pki.ca, pki.clientCert, pki.clientKey
	ctx := context.Background()
	cl := testRedisClient(t, rc)
	if _, err := cl.set(ctx, "k", "over tls", time.Minute, false); err != nil {
		t.Fatalf("SET over TLS: %v", err)
	}
	if v, _, err := cl.get(ctx, "k"); err != nil || v != "over tls" {
		t.Fatalf("GET over TLS: %q, %v", v, err)
	}
	noCert := *rc
	noCert.CertFile, noCert.KeyFile = "", ""
	if _, _, err := testRedisClient(t, &noCert).get(ctx, "k"); err == nil {
		t.Error("the server requires a client certificate, yet a client without one got an answer")
	}
	other := *rc
	other.CAFile = newRedisTestPKI(t).ca
	if _, _, err := testRedisClient(t, &other).get(ctx, "k"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a server certificate from an untrusted CA: %v, want a certificate error", err)
	}
}

// TestRedisDatabase: db selects the database on every connection.
func TestRedisDatabase(t *testing.T) {
	srv := startRedisServer(t, nil)
	rc := testRedisConfig("standalone", srv.addr)
	rc.DB = 3
	ctx := context.Background()
	if _, err := testRedisClient(t, rc).set(ctx, "k", "in 3", time.Minute, false); err != nil {
		t.Fatal(err)
	}
	if rep := rawRedis(t, srv.addr, "GET", "k"); !rep.null {
		t.Errorf("the key landed in database 0: %q", rep.str)
	}
	if rep := rawRedis(t, srv.addr, "DBSIZE"); rep.num != 0 {
		t.Errorf("database 0 has %d keys", rep.num)
	}
	if v, ok, err := testRedisClient(t, rc).get(ctx, "k"); err != nil || !ok || v != "in 3" {
		t.Errorf("reading database 3: %q %v %v", v, ok, err)
	}
}

// TestRedisDialBackoff: after a failed dial, commands to that server fail at once (no dial, no wait) until the
// backoff passes; then one dial finds out whether it is back.
func TestRedisDialBackoff(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close() // the AUTH of every dial fails
		}
	}()
	pw := filepath.Join(t.TempDir(), "pw")
	_ = os.WriteFile(pw, []byte("pw"), 0o600)
	rc := testRedisConfig("standalone", l.Addr().String())
	rc.PasswordFile = pw
	cl := testRedisClient(t, rc)
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < 20; i++ {
		if _, _, err := cl.get(ctx, "k"); err == nil {
			t.Fatal("GET through a server that closes every connection succeeded")
		}
	}
	elapsed := time.Since(start)
	if n := accepted.Load(); n < 1 || n > 3 || elapsed > time.Second {
		t.Errorf("20 commands to a failing server dialled %d times in %v, want 1-3 (the backoff) and fast", n, elapsed)
	}
	time.Sleep(500 * time.Millisecond) // past the backoff of at most 3 failed dials (100, 200, 400 ms)
	before := accepted.Load()
	_, _, _ = cl.get(ctx, "k")
	if accepted.Load() == before {
		t.Error("after the backoff the next command did not dial again")
	}
}
