package descopeoidc

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRedisCommands runs the store's commands against a real redis-server and checks their effect there.
func TestRedisCommands(t *testing.T) {
	srv := startRedisServer(t, nil)
	cl := testRedisClient(t, testRedisConfig("standalone", srv.addr))
	ctx := context.Background()
	if _, ok, err := cl.get(ctx, "missing"); err != nil || ok {
		t.Fatalf("GET of a missing key: ok=%v %v", ok, err)
	}
	if won, err := cl.set(ctx, "k", "v1", 0, false); err != nil || !won {
		t.Fatalf("SET: %v %v", won, err)
	}
	if won, err := cl.set(ctx, "k", "v2", time.Minute, true); err != nil || won {
		t.Fatalf("SET NX of an existing key: %v %v", won, err)
	}
	if won, err := cl.set(ctx, "n", "v", 1500*time.Millisecond, true); err != nil || !won {
		t.Fatalf("SET NX PX: %v %v", won, err)
	}
	if pttl := rawRedis(t, srv.addr, "PTTL", "n").num; pttl <= 0 || pttl > 1500 {
		t.Errorf("SET PX 1500: PTTL %d", pttl)
	}
	stats := rawRedis(t, srv.addr, "INFO", "commandstats").str
	if ok, err := cl.expire(ctx, "k", 20*time.Second); err != nil || !ok {
		t.Errorf("EXPIRE: %v %v", ok, err)
	}
	if ttl := rawRedis(t, srv.addr, "TTL", "k").num; ttl <= 0 || ttl > 20 {
		t.Errorf("EXPIRE 20s: TTL %d", ttl)
	}
	if ok, err := cl.expire(ctx, "k", 2500*time.Millisecond); err != nil || !ok {
		t.Errorf("PEXPIRE 2500ms: %v %v", ok, err)
	}
	if pttl := rawRedis(t, srv.addr, "PTTL", "k").num; pttl <= 0 || pttl > 2500 {
		t.Errorf("PEXPIRE 2500ms: PTTL %d", pttl)
	}
	now := rawRedis(t, srv.addr, "INFO", "commandstats").str
	if redisStatCalls(now, "cmdstat_expire")-redisStatCalls(stats, "cmdstat_expire") != 1 ||
		redisStatCalls(now, "cmdstat_pexpire")-redisStatCalls(stats, "cmdstat_pexpire") != 1 {
		t.Error("whole seconds should go as EXPIRE, the others as PEXPIRE")
	}
	if ok, err := cl.expire(ctx, "missing", time.Second); err != nil || ok {
		t.Errorf("EXPIRE of a missing key: %v %v", ok, err)
	}
	for want := int64(1); want <= 3; want++ {
		if n, err := cl.incr(ctx, "c"); err != nil || n != want {
			t.Fatalf("INCR: %d %v, want %d", n, err, want)
		}
	}
	if ok, err := cl.del(ctx, "k"); err != nil || !ok || rawRedis(t, srv.addr, "EXISTS", "k").num != 0 {
		t.Errorf("DEL: %v %v", ok, err)
	}
	if ok, err := cl.del(ctx, "k"); err != nil || ok {
		t.Errorf("DEL of a deleted key: %v %v", ok, err)
	}
	if _, err := cl.incr(ctx, "n"); err == nil || !strings.HasPrefix(err.Error(), "redis: ERR") {
		t.Errorf("INCR of a string: %v, want the server's error", err)
	}
}

// TestRedisEvalLoadsScript: EVALSHA runs a cached script; after SCRIPT FLUSH (a restarted or failed-over server)
// the NOSCRIPT answer makes the client send the script with EVAL.
func TestRedisEvalLoadsScript(t *testing.T) {
	srv := startRedisServer(t, nil)
	cl := testRedisClient(t, testRedisConfig("standalone", srv.addr))
	ctx := context.Background()
	s := newRedisScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`)
	for i, want := range []int64{5, 10} {
		rep, err := cl.eval(ctx, s, "sum", false, "5")
		if err != nil || rep.num != want {
			t.Fatalf("eval %d: %+v %v, want %d", i, rep, err, want)
		}
		if rawRedis(t, srv.addr, "SCRIPT", "EXISTS", s.sha).elems[0].num != 1 {
			t.Fatalf("the script is not cached under its SHA-1 %s", s.sha)
		}
		rawRedis(t, srv.addr, "SCRIPT", "FLUSH")
	}
	if _, err := cl.eval(ctx, newRedisScript(`return redis.call('NOPE')`), "k", false); err == nil {
		t.Error("a failing script returned no error")
	}
}

// TestRedisPublish: PUBLISH reaches a subscriber and reports how many received it.
func TestRedisPublish(t *testing.T) {
	srv := startRedisServer(t, nil)
	cl := testRedisClient(t, testRedisConfig("standalone", srv.addr))
	sub, err := (&redisDialer{dialTimeout: time.Second}).dial(srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.close()
	deadline := time.Now().Add(5 * time.Second)
	if _, err := sub.roundTrip([]string{"SUBSCRIBE", "revoked"}, deadline); err != nil {
		t.Fatal(err)
	}
	n, err := cl.publish(context.Background(), "revoked", "sid-1")
	if err != nil || n != 1 {
		t.Fatalf("PUBLISH: %d receivers, %v", n, err)
	}
	msg, err := sub.read(deadline)
	if err != nil || len(msg.elems) != 3 || msg.elems[2].str != "sid-1" {
		t.Errorf("the subscriber got %+v, %v", msg, err)
	}
}

// TestRedisStream: XADD appends with server IDs and trims by MINID; XRANGE reads after an ID, in pages.
func TestRedisStream(t *testing.T) {
	srv := startRedisServer(t, nil)
	cl := testRedisClient(t, testRedisConfig("standalone", srv.addr))
	ctx := context.Background()
	var ids []string
	for _, v := range []string{"a", "b", "c"} {
		id, err := cl.xadd(ctx, "s", "", 0, "id", v)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	page, err := cl.xrange(ctx, "s", "", 2)
	if err != nil || len(page) != 2 || page[0].id != ids[0] || page[1].fields[1] != "b" {
		t.Fatalf("first page: %+v %v", page, err)
	}
	page, err = cl.xrange(ctx, "s", page[1].id, 2)
	if err != nil || len(page) != 1 || page[0].id != ids[2] || page[0].fields[0] != "id" || page[0].fields[1] != "c" {
		t.Fatalf("second page: %+v %v", page, err)
	}
	if page, err := cl.xrange(ctx, "s", ids[2], 2); err != nil || len(page) != 0 {
		t.Fatalf("after the last entry: %+v %v", page, err)
	}
	// MINID trims approximately: whole stream nodes (100 entries each) older than it go, in one XADD.
	for i := 0; i < 300; i++ {
		if _, err := cl.xadd(ctx, "s", "", 0, "id", "old"); err != nil {
			t.Fatal(err)
		}
	}
	minID := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10) + "-0"
	if _, err := cl.xadd(ctx, "s", minID, 0, "id", "new"); err != nil {
		t.Fatal(err)
	}
	if n := rawRedis(t, srv.addr, "XLEN", "s").num; n >= 200 {
		t.Errorf("XADD MINID ~ left %d of 304 entries older than MINID", n)
	}
}
