//go:build redis

package descopeoidc

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// Real Redis Cluster tests: a few seconds each, so they run with -tags redis (make unit does), keeping the root
// package's plain `go test` fast.

// TestRedisClusterSpreadsKeys: given one seed, the client learns the slot table and puts keys on all 3 masters,
// each key on the master that owns its slot (a wrong node would answer MOVED, never store it).
func TestRedisClusterSpreadsKeys(t *testing.T) {
	t.Parallel()
	nodes := startRedisCluster(t)
	cl := testRedisClient(t, testRedisConfig("cluster", nodes[0].addr))
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		k := "session:" + strconv.Itoa(i)
		if _, err := cl.set(ctx, k, strconv.Itoa(i), time.Minute, false); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	total := int64(0)
	for _, n := range nodes {
		size := rawRedis(t, n.addr, "DBSIZE").num
		if size < 50 {
			t.Errorf("master %s holds %d of 300 keys", n.addr, size)
		}
		total += size
	}
	if total != 300 {
		t.Errorf("the masters hold %d keys, want 300", total)
	}
	for i := 0; i < 300; i++ {
		k := "session:" + strconv.Itoa(i)
		if v, ok, err := cl.get(ctx, k); err != nil || !ok || v != strconv.Itoa(i) {
			t.Fatalf("GET %s: %q %v %v", k, v, ok, err)
		}
	}
	s := newRedisStore(cl.o, "{tenant}:", time.Hour)
	if err := s.revoke(ctx, "sid"); err != nil {
		t.Fatalf("the revocation stream in a cluster: %v", err)
	}
}

// TestRedisClusterResharding moves an empty slot from its master A to B as redis-cli --cluster reshard does: while
// the slot is MIGRATING, a new key is refused by A with ASK and the client stores it on B after ASKING; once the slot
// belongs to B, A answers MOVED and the client follows it and records the new owner.
func TestRedisClusterResharding(t *testing.T) {
	t.Parallel()
	nodes := startRedisCluster(t)
	cl := testRedisClient(t, testRedisConfig("cluster", nodes[0].addr))
	ctx := context.Background()
	key := "{moving}:session"
	slot := redisKeySlot(key)
	if _, _, err := cl.get(ctx, key); err != nil { // loads the slot table
		t.Fatal(err)
	}
	cl.mu.Lock()
	owner := cl.slotNode(slot)
	cl.mu.Unlock()
	var a, b *testRedis
	for _, n := range nodes {
		if n.addr == owner {
			a = n
		} else if b == nil {
			b = n
		}
	}
	if a == nil {
		t.Fatalf("slot %d's owner %q is not one of the nodes", slot, owner)
	}
	aID, bID := rawRedis(t, a.addr, "CLUSTER", "MYID").str, rawRedis(t, b.addr, "CLUSTER", "MYID").str
	s := strconv.Itoa(slot)
	mustRedisOK(t, rawRedis(t, b.addr, "CLUSTER", "SETSLOT", s, "IMPORTING", aID))
	mustRedisOK(t, rawRedis(t, a.addr, "CLUSTER", "SETSLOT", s, "MIGRATING", bID))
	askings := redisCommandCalls(t, b.addr, "asking")
	if _, err := cl.set(ctx, key, "during the move", time.Minute, false); err != nil {
		t.Fatalf("SET during the migration: %v", err)
	}
	if redisCommandCalls(t, b.addr, "asking") != askings+1 {
		t.Error("the key did not go to the importing node after ASKING")
	}
	if rawRedis(t, a.addr, "EXISTS", key).num != 0 {
		t.Error("the migrating node stored the key")
	}
	for _, n := range nodes {
		mustRedisOK(t, rawRedis(t, n.addr, "CLUSTER", "SETSLOT", s, "NODE", bID))
	}
	if v, ok, err := cl.get(ctx, key); err != nil || !ok || v != "during the move" {
		t.Fatalf("GET after the move (client's table still names A): %q %v %v", v, ok, err)
	}
	cl.mu.Lock()
	now := cl.slotNode(slot)
	cl.mu.Unlock()
	if now != b.addr {
		t.Errorf("after MOVED the client routes slot %d to %q, want %s", slot, now, b.addr)
	}
}
