package descopeoidc

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRedisSentinelDiscovery: the client asks the sentinels for the master (skipping one that is down, and asking
// the one that answered first next time) and sends its commands there.
func TestRedisSentinelDiscovery(t *testing.T) {
	master := startRedisServer(t, nil)
	sentinel := startRedisSentinel(t, master)
	dead := "127.0.0.1:" + strconv.Itoa(freeRedisPort(t))
	rc := testRedisConfig("sentinel", dead, sentinel.addr)
	rc.MasterName = "mymaster"
	cl := testRedisClient(t, rc)
	ctx := context.Background()
	if _, err := cl.set(ctx, "k", "via sentinel", time.Minute, false); err != nil {
		t.Fatal(err)
	}
	if v := rawRedis(t, master.addr, "GET", "k").str; v != "via sentinel" {
		t.Errorf("the master has %q", v)
	}
	cl.mu.Lock()
	first, current := cl.sentinel[0], cl.master
	cl.mu.Unlock()
	if current != master.addr || first != sentinel.addr {
		t.Errorf("master %q (want %s), sentinels asked first %q (want %s)", current, master.addr, first, sentinel.addr)
	}
	rc.MasterName = "unknown"
	if _, _, err := testRedisClient(t, rc).get(ctx, "k"); err == nil || !strings.Contains(err.Error(), "does not know master unknown") {
		t.Errorf("an unknown master name: %v", err)
	}
}

// TestRedisSentinelReadonly: a write that reaches a replica (the client's master is stale: a demoted master whose
// connections survived) is refused with READONLY; the client asks the sentinel again and writes to the master.
func TestRedisSentinelReadonly(t *testing.T) {
	master := startRedisServer(t, nil, "--repl-diskless-sync-delay", "0") // the replica syncs at once, not after 5 s
	replica := startRedisServer(t, nil, "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
	sentinel := startRedisSentinel(t, master)
	if rep := rawRedis(t, replica.addr, "SET", "k", "v"); rep.kind != '-' || !strings.HasPrefix(rep.str, "READONLY") {
		t.Fatalf("the replica accepted a write: %+v", rep)
	}
	rc := testRedisConfig("sentinel", sentinel.addr)
	rc.MasterName = "mymaster"
	cl := testRedisClient(t, rc)
	cl.mu.Lock()
	cl.master, cl.stale, cl.loadedAt = replica.addr, false, time.Now() // as if the sentinel had just named it
	cl.mu.Unlock()
	if _, err := cl.set(context.Background(), "k", "to the master", time.Minute, false); err != nil {
		t.Fatalf("SET after READONLY: %v", err)
	}
	cl.mu.Lock()
	now := cl.master
	cl.mu.Unlock()
	if now != master.addr || rawRedis(t, master.addr, "GET", "k").str != "to the master" {
		t.Errorf("after READONLY the client writes to %q, want the master %s", now, master.addr)
	}
	// One SET refused by the replica is the test's own check above, the other the client's: it did meet READONLY.
	if st := redisStatLine(rawRedis(t, replica.addr, "INFO", "commandstats").str, "cmdstat_set"); !strings.Contains(st, "rejected_calls=2,") {
		t.Errorf("the replica's SET statistics %q: the client's write did not meet READONLY", st)
	}
}

func redisStatLine(info, stat string) string {
	for _, l := range strings.Split(info, "\r\n") {
		if strings.HasPrefix(l, stat+":") {
			return l
		}
	}
	return ""
}

// TestRedisSentinelRevokeReachesReplica: with Sentinel a revocation returns once the replica has it (WAIT on the
// connection that wrote it), so that a failover right after a logout does not lose the revocation.
func TestRedisSentinelRevokeReachesReplica(t *testing.T) {
	master := startRedisServer(t, nil, "--repl-diskless-sync-delay", "0") // the replica syncs at once, not after 5 s
	replica := startRedisServer(t, nil, "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
	sentinel := startRedisSentinel(t, master)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(rawRedis(t, replica.addr, "INFO", "replication").str, "master_link_status:up"); {
		if time.Now().After(deadline) {
			t.Fatal("the replica did not sync")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rc := testRedisConfig("sentinel", sentinel.addr)
	rc.MasterName = "mymaster"
	o, err := rc.options("redis.")
	if err != nil {
		t.Fatal(err)
	}
	s := newRedisStore(o, "t:", time.Hour)
	for i := 0; i < 3; i++ {
		start := time.Now()
		if err := s.revoke(context.Background(), "sid-"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if n := rawRedis(t, replica.addr, "XLEN", "t:revocations").num; n != int64(i+1) {
			if took < redisWaitTimeout {
				t.Fatalf("revocation %d returned after %v, before WAIT's timeout, with %d entries on the replica", i, took, n)
			}
			t.Logf("revocation %d: WAIT timed out on this loaded machine (%v)", i, took)
		}
	}
	if n := redisCommandCalls(t, master.addr, "wait"); n != 3 {
		t.Errorf("%d WAIT calls on the master, want one per revocation", n)
	}
}
