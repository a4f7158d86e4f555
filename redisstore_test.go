package descopeoidc

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func testRedisStore(t *testing.T, addr, prefix string) *redisStore {
	t.Helper()
	o, err := testRedisConfig("standalone", addr).options("redis.")
	if err != nil {
		t.Fatal(err)
	}
	return newRedisStore(o, prefix, time.Hour)
}

// TestRedisStoreBuildsNothing: a store (what New would build) holds options only; the process-wide client appears
// at its first command.
func TestRedisStoreBuildsNothing(t *testing.T) {
	srv := startRedisServer(t, nil)
	s := testRedisStore(t, srv.addr, "t:")
	redisClients.Lock()
	_, built := redisClients.m[s.o.key]
	redisClients.Unlock()
	if built {
		t.Fatal("building a store created its client")
	}
	if n := connectedClients(t, srv.addr) - 1; n != 0 {
		t.Fatalf("building a store connected: %d connections", n)
	}
	if _, _, err := s.load(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if s.client() != sharedRedis(s.o) || connectedClients(t, srv.addr)-1 != 1 {
		t.Error("the first command did not go through the process-wide client's pool")
	}
}

// TestRedisStoreClaimRace: of many concurrent claims on one key (replicas refreshing one session chain) exactly one
// wins; everyone sees the winner's claim, then the value it settled with; a loser cannot settle.
func TestRedisStoreClaimRace(t *testing.T) {
	srv := startRedisServer(t, nil)
	s := testRedisStore(t, srv.addr, "t:")
	ctx := context.Background()
	var wg sync.WaitGroup
	holders := make([]string, 20)
	errs := make([]error, 20)
	for i := range holders {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			holders[i], errs[i] = s.claim(ctx, "chain", "owner-"+strconv.Itoa(i), time.Minute)
		}(i)
	}
	wg.Wait()
	winners := 0
	for i, h := range holders {
		if errs[i] != nil {
			t.Fatalf("claim %d: %v", i, errs[i])
		}
		if h == "owner-"+strconv.Itoa(i) {
			winners++
		}
		if h != holders[0] {
			t.Errorf("claim %d saw holder %q, claim 0 saw %q", i, h, holders[0])
		}
	}
	if winners != 1 {
		t.Fatalf("%d claims won, want exactly 1", winners)
	}
	if pttl := rawRedis(t, srv.addr, "PTTL", "t:chain").num; pttl <= 0 || pttl > 60000 {
		t.Errorf("the claim's PTTL is %d, want the claim's ttl", pttl)
	}
	loser := "owner-x"
	if ok, err := s.settle(ctx, "chain", loser, "stolen", time.Minute); err != nil || ok {
		t.Errorf("a loser settled: %v %v", ok, err)
	}
	for i := 0; i < 2; i++ { // settling twice (a retried script) answers the same
		if ok, err := s.settle(ctx, "chain", holders[0], "tokens", time.Minute); err != nil || !ok {
			t.Fatalf("the winner settling (%d): %v %v", i, ok, err)
		}
	}
	if v, ok, err := s.load(ctx, "chain"); err != nil || !ok || v != "tokens" {
		t.Errorf("load after settle: %q %v %v", v, ok, err)
	}
	if h, err := s.claim(ctx, "chain", "late", time.Minute); err != nil || h != "tokens" {
		t.Errorf("a late claim: %q %v, want the settled value", h, err)
	}
	if _, err := s.settle(ctx, "chain", "same", "same", time.Minute); err == nil {
		t.Error("a settle value equal to the claim was accepted")
	}
}

// TestRedisStoreSpendOnce: a key is spent once, for its ttl; prefixes keep stores apart.
func TestRedisStoreSpendOnce(t *testing.T) {
	srv := startRedisServer(t, nil)
	a, b := testRedisStore(t, srv.addr, "a:"), testRedisStore(t, srv.addr, "b:")
	ctx := context.Background()
	for i, want := range []bool{true, false} {
		if ok, err := a.spendOnce(ctx, "state", time.Minute); err != nil || ok != want {
			t.Fatalf("spend %d: %v %v, want %v", i, ok, err, want)
		}
	}
	if pttl := rawRedis(t, srv.addr, "PTTL", "a:state").num; pttl <= 0 || pttl > 60000 {
		t.Errorf("a spent key's PTTL is %d, want its ttl", pttl)
	}
	if ok, err := b.spendOnce(ctx, "state", time.Minute); err != nil || !ok {
		t.Errorf("another prefix's key: %v %v", ok, err)
	}
	if ok, err := a.spendOnce(ctx, "short", 50*time.Millisecond); err != nil || !ok {
		t.Fatalf("spend: %v %v", ok, err)
	}
	time.Sleep(200 * time.Millisecond)
	if ok, err := a.spendOnce(ctx, "short", time.Minute); err != nil || !ok {
		t.Errorf("after its ttl the key is not spent any more: %v %v", ok, err)
	}
}

// TestRedisStoreRevocations: every replica reads the revocations with one command per poll, in order, from its own
// cursor; a new replica reads them all.
func TestRedisStoreRevocations(t *testing.T) {
	srv := startRedisServer(t, nil)
	s := testRedisStore(t, srv.addr, "t:")
	ctx := context.Background()
	ids, cursor, err := s.revocations(ctx, "")
	if err != nil || len(ids) != 0 || cursor != "" {
		t.Fatalf("empty: %v %q %v", ids, cursor, err)
	}
	for i := 0; i < 3; i++ {
		if err := s.revoke(ctx, "sid-"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	before := rawRedis(t, srv.addr, "INFO", "commandstats").str
	ids, next, err := s.revocations(ctx, cursor)
	if err != nil || len(ids) != 3 || ids[0] != "sid-0" || ids[2] != "sid-2" {
		t.Fatalf("revocations: %v %v", ids, err)
	}
	after := rawRedis(t, srv.addr, "INFO", "commandstats").str
	if redisXrangeCalls(after)-redisXrangeCalls(before) != 1 {
		t.Errorf("a poll took %d XRANGE calls, want 1", redisXrangeCalls(after)-redisXrangeCalls(before))
	}
	if ids, again, err := s.revocations(ctx, next); err != nil || len(ids) != 0 || again != next {
		t.Errorf("nothing new: %v %q %v", ids, again, err)
	}
	if err := s.revoke(ctx, "sid-3"); err != nil {
		t.Fatal(err)
	}
	if ids, _, err := s.revocations(ctx, next); err != nil || len(ids) != 1 || ids[0] != "sid-3" {
		t.Errorf("after the cursor: %v %v", ids, err)
	}
	if ids, _, err := testRedisStore(t, srv.addr, "t:").revocations(ctx, ""); err != nil || len(ids) != 4 {
		t.Errorf("a new replica reads %v %v, want all 4", ids, err)
	}
	if n := redisCommandCalls(t, srv.addr, "wait"); n != 0 {
		t.Errorf("standalone revocations sent %d WAIT, want none (no replica to wait for)", n)
	}
}

func redisXrangeCalls(info string) int { return redisStatCalls(info, "cmdstat_xrange") }

// redisStatCalls is the calls= of stat (e.g. cmdstat_xrange) in INFO commandstats.
func redisStatCalls(info, stat string) int {
	p := stat + ":calls="
	i := strings.Index(info, p)
	if i < 0 {
		return 0
	}
	n := 0
	for j := i + len(p); j < len(info) && info[j] >= '0' && info[j] <= '9'; j++ {
		n = n*10 + int(info[j]-'0')
	}
	return n
}
