//go:build redis

package descopeoidc

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Real Sentinel failovers: several seconds each, so they run with -tags redis (make unit does).

// sentinelPair is a master with one replica, watched by one sentinel that knows the replica.
func sentinelPair(t *testing.T) (*testRedis, *testRedis, *testRedis) {
	t.Helper()
	master := startRedisServer(t, nil, "--repl-diskless-sync-delay", "0") // the replica syncs at once, not after 5 s
	replica := startRedisServer(t, nil, "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
	sentinel := startRedisSentinel(t, master)
	deadline := time.Now().Add(30 * time.Second)
	for {
		reps := rawRedis(t, sentinel.addr, "SENTINEL", "replicas", "mymaster")
		if len(reps.elems) == 1 && strings.Contains(sentinelField(reps.elems[0], "flags"), "slave") &&
			!strings.Contains(sentinelField(reps.elems[0], "flags"), "disconnected") &&
			sentinelField(reps.elems[0], "master-link-status") == "ok" {
			return master, replica, sentinel
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sentinel does not see the replica: %+v", reps)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sentinelField reads a field of a SENTINEL replicas entry (a flat name/value array).
func sentinelField(rep redisReply, name string) string {
	for i := 0; i+1 < len(rep.elems); i += 2 {
		if rep.elems[i].str == name {
			return rep.elems[i+1].str
		}
	}
	return ""
}

// writeUntil runs SET until it succeeds or the deadline passes, and returns the failed attempts.
func writeUntil(t *testing.T, cl *redisClient, key string, deadline time.Time) int {
	t.Helper()
	failed := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cl.set(ctx, key, "after", time.Minute, false)
		cancel()
		if err == nil {
			return failed
		}
		failed++
		if time.Now().After(deadline) {
			t.Fatalf("no write succeeded after the failover (%d attempts): %v", failed, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRedisSentinelMasterKilled: the master dies (SIGKILL); the sentinel promotes the replica and the client, after
// connection errors, asks the sentinel again and writes to the new master; what was replicated before is there.
func TestRedisSentinelMasterKilled(t *testing.T) {
	t.Parallel()
	master, replica, sentinel := sentinelPair(t)
	rc := testRedisConfig("sentinel", sentinel.addr)
	rc.MasterName = "mymaster"
	cl := testRedisClient(t, rc)
	ctx := context.Background()
	if _, err := cl.set(ctx, "before", "kept", time.Minute, false); err != nil {
		t.Fatal(err)
	}
	// (Not WAIT on a connection of its own: WAIT waits for that connection's writes, and it made none.)
	for deadline := time.Now().Add(10 * time.Second); rawRedis(t, replica.addr, "GET", "before").str != "kept"; {
		if time.Now().After(deadline) {
			t.Fatal("the write did not reach the replica")
		}
		time.Sleep(10 * time.Millisecond)
	}
	master.stop()
	start := time.Now()
	failed := writeUntil(t, cl, "after", time.Now().Add(45*time.Second))
	t.Logf("first successful write %v after the kill, %d failed attempts before", time.Since(start).Round(time.Millisecond), failed)
	cl.mu.Lock()
	now := cl.master
	cl.mu.Unlock()
	if now != replica.addr {
		t.Fatalf("the client writes to %q, want the promoted replica %s", now, replica.addr)
	}
	if v, ok, err := cl.get(ctx, "before"); err != nil || !ok || v != "kept" {
		t.Errorf("a replicated key after the failover: %q %v %v; the new master has %q, its replication: %s", v, ok, err,
			rawRedis(t, replica.addr, "GET", "before").str, rawRedis(t, replica.addr, "INFO", "replication").str)
	}
	if v := rawRedis(t, replica.addr, "GET", "after").str; v != "after" {
		t.Errorf("the new master has %q", v)
	}
}

// TestRedisSentinelSwitchover: SENTINEL FAILOVER promotes the replica while the old master still runs and accepts
// writes until the sentinel demotes it (when it next sees it, up to ~10 s): the client, asking the sentinel again
// each second, writes to the new master within ~1 s of the promotion, long before the demotion.
func TestRedisSentinelSwitchover(t *testing.T) {
	t.Parallel()
	master, replica, sentinel := sentinelPair(t)
	rc := testRedisConfig("sentinel", sentinel.addr)
	rc.MasterName = "mymaster"
	cl := testRedisClient(t, rc)
	ctx := context.Background()
	if _, err := cl.set(ctx, "k", "v", time.Minute, false); err != nil {
		t.Fatal(err)
	}
	mustRedisOK(t, rawRedis(t, sentinel.addr, "SENTINEL", "FAILOVER", "mymaster"))
	deadline := time.Now().Add(45 * time.Second)
	for rawRedis(t, sentinel.addr, "SENTINEL", "get-master-addr-by-name", "mymaster").elems[1].str != strconv.Itoa(replica.port) {
		if time.Now().After(deadline) {
			t.Fatal("the sentinel did not promote the replica")
		}
		time.Sleep(20 * time.Millisecond)
	}
	promoted := time.Now()
	for i := 0; ; i++ {
		writeUntil(t, cl, "after", deadline)
		cl.mu.Lock()
		now := cl.master
		cl.mu.Unlock()
		if now == replica.addr {
			break
		}
		if time.Since(promoted) > 3*time.Second {
			t.Fatalf("%v after the promotion the client still writes to %q", time.Since(promoted), now)
		}
		time.Sleep(20 * time.Millisecond)
	}
	demoted := strings.Contains(rawRedis(t, master.addr, "ROLE").elems[0].str, "slave")
	t.Logf("writing to the new master %v after its promotion (old master demoted yet: %v)", time.Since(promoted).Round(time.Millisecond), demoted)
	if v := rawRedis(t, replica.addr, "GET", "after").str; v != "after" {
		t.Errorf("the new master has %q", v)
	}
}
