package descopeoidc

// Copied into the plugin's package by the Yaegi Redis scenario (integration/scenarios/redis_yaegi_test.go), never
// shipped: it drives the Redis client from interpreted code against a real server and returns what went wrong ("").

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// RedisYaegiProbe exercises the client and the store against the deployment (mode, Sentinel's master name, addrs):
// commands, scripts, a claim race between goroutines, revocations, keys spread over many slots.
func RedisYaegiProbe(mode, master string, addrs []string) string {
	rc := &RedisConfig{Mode: mode, MasterName: master, Addresses: addrs, DialTimeout: "2s", ReadTimeout: "2s", WriteTimeout: "2s"}
	o, err := rc.options("redis.")
	if err != nil {
		return "options: " + err.Error()
	}
	cl := sharedRedis(o)
	if cl != sharedRedis(o) {
		return "two clients for one configuration"
	}
	if msg := probeCommands(cl); msg != "" {
		return msg
	}
	if msg := probeClaimRace(newRedisStore(o, "probe:", time.Hour)); msg != "" {
		return msg
	}
	return probeRevocations(newRedisStore(o, "probe:", time.Hour))
}

func probeCommands(cl *redisClient) string {
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		k := "probe:key:" + strconv.Itoa(i)
		if _, err := cl.set(ctx, k, "v"+strconv.Itoa(i), time.Minute, false); err != nil {
			return "SET " + k + ": " + err.Error()
		}
	}
	for i := 0; i < 200; i++ {
		k := "probe:key:" + strconv.Itoa(i)
		v, ok, err := cl.get(ctx, k)
		if err != nil || !ok || v != "v"+strconv.Itoa(i) {
			return fmt.Sprintf("GET %s: %q %v %v", k, v, ok, err)
		}
	}
	won, err := cl.set(ctx, "probe:nx", "a", time.Minute, true)
	again, err2 := cl.set(ctx, "probe:nx", "b", time.Minute, true)
	if err != nil || err2 != nil || !won || again {
		return fmt.Sprintf("SET NX: %v %v %v %v", won, again, err, err2)
	}
	n, err := cl.incr(ctx, "probe:counter")
	if err != nil || n != 1 {
		return fmt.Sprintf("INCR: %d %v", n, err)
	}
	if ok, err := cl.expire(ctx, "probe:counter", 1500*time.Millisecond); err != nil || !ok {
		return fmt.Sprintf("PEXPIRE: %v %v", ok, err)
	}
	if ok, err := cl.del(ctx, "probe:nx"); err != nil || !ok {
		return fmt.Sprintf("DEL: %v %v", ok, err)
	}
	if _, err := cl.publish(ctx, "probe:channel", "hello"); err != nil {
		return "PUBLISH: " + err.Error()
	}
	return ""
}

// claimResults is what probeClaimRace's goroutines found.
type claimResults struct {
	mu      sync.Mutex
	winners int
	errs    []string
}

// claimAs claims the race's key as owner and records the outcome in r.
func claimAs(s sharedStore, owner string, wg *sync.WaitGroup, r *claimResults) {
	defer wg.Done()
	holder, err := s.claim(context.Background(), "refresh:chain1", owner, time.Minute)
	r.mu.Lock()
	if err != nil {
		r.errs = append(r.errs, err.Error())
	} else if holder == owner {
		r.winners++
	}
	r.mu.Unlock()
}

// probeClaimRace: 8 goroutines claim one key; exactly one wins, the others see its claim, then its settled value.
func probeClaimRace(s sharedStore) string {
	ctx := context.Background()
	// Yaegi builds the reflect types of a call path on its first use, racily when that first use is concurrent
	// (../shared/YAEGI.md): the path runs once alone first, as a warm-up.
	if _, err := s.claim(ctx, "refresh:warm-up", "w", time.Minute); err != nil {
		return "claim: " + err.Error()
	}
	// A named function, not a func literal started in the loop: Yaegi v0.16.1 saves and restores a closure's
	// defining frame slot around each run, unlocked on the reading side, so a literal evaluated again while an
	// earlier goroutine of it returns is a data race in the interpreter (-race caught it here).
	var wg sync.WaitGroup
	res := &claimResults{}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go claimAs(s, "owner"+strconv.Itoa(i), &wg, res)
	}
	wg.Wait()
	if len(res.errs) > 0 || res.winners != 1 {
		return fmt.Sprintf("claim race: %d winners, errors %v", res.winners, res.errs)
	}
	holder, err := s.claim(ctx, "refresh:chain1", "late", time.Minute)
	if err != nil {
		return "claim: " + err.Error()
	}
	if ok, err := s.settle(ctx, "refresh:chain1", holder, "tokens", time.Minute); err != nil || !ok {
		return fmt.Sprintf("settle by the winner: %v %v", ok, err)
	}
	if ok, err := s.settle(ctx, "refresh:chain1", "late", "other", time.Minute); err != nil || ok {
		return fmt.Sprintf("settle by a loser: %v %v", ok, err)
	}
	if v, ok, err := s.load(ctx, "refresh:chain1"); err != nil || !ok || v != "tokens" {
		return fmt.Sprintf("load: %q %v %v", v, ok, err)
	}
	first, err := s.spendOnce(ctx, "state:abc", time.Minute)
	second, err2 := s.spendOnce(ctx, "state:abc", time.Minute)
	if err != nil || err2 != nil || !first || second {
		return fmt.Sprintf("spendOnce: %v %v %v %v", first, second, err, err2)
	}
	return ""
}

func probeRevocations(s sharedStore) string {
	ctx := context.Background()
	ids, cursor, err := s.revocations(ctx, "")
	if err != nil || len(ids) != 0 {
		return fmt.Sprintf("revocations of an empty stream: %v %v", ids, err)
	}
	for _, id := range []string{"sid-1", "sid-2"} {
		if err := s.revoke(ctx, id); err != nil {
			return "revoke: " + err.Error()
		}
	}
	ids, cursor, err = s.revocations(ctx, cursor)
	if err != nil || len(ids) != 2 || ids[0] != "sid-1" || ids[1] != "sid-2" {
		return fmt.Sprintf("revocations: %v %v", ids, err)
	}
	ids, _, err = s.revocations(ctx, cursor)
	if err != nil || len(ids) != 0 {
		return fmt.Sprintf("revocations after the cursor: %v %v", ids, err)
	}
	return ""
}

// RedisYaegiProbeDown runs commands against a deployment that is not there: each must fail with an error, soon,
// twice in a row (the second time from the topology error kept for the retry interval).
func RedisYaegiProbeDown(mode, master string, addrs []string) string {
	rc := &RedisConfig{Mode: mode, MasterName: master, Addresses: addrs, DialTimeout: "500ms"}
	o, err := rc.options("redis.")
	if err != nil {
		return "options: " + err.Error()
	}
	s := newRedisStore(o, "probe:", time.Hour)
	for i := 0; i < 2; i++ {
		start := time.Now()
		if _, _, err := s.load(context.Background(), "k"); err == nil {
			return "load from a deployment that is down succeeded"
		}
		if err := s.revoke(context.Background(), "sid"); err == nil {
			return "revoke on a deployment that is down succeeded"
		}
		if d := time.Since(start); d > 5*time.Second {
			return "failing took " + d.String()
		}
	}
	return ""
}

// RedisYaegiProbeTLS runs the commands over TLS with the CA and the client certificate in the files named.
func RedisYaegiProbeTLS(addr, caFile, certFile, keyFile string) string {
	rc := &RedisConfig{Addresses: []string{addr}, TLS: true, CAFile: caFile, CertFile: certFile, KeyFile: keyFile}
	o, err := rc.options("redis.")
	if err != nil {
		return "options: " + err.Error()
	}
	return probeCommands(sharedRedis(o))
}

// RedisYaegiPollCost times n revocation polls that find nothing new (the steady state: one per interval per
// process) and returns the mean in nanoseconds, or -1 when a poll fails.
func RedisYaegiPollCost(addr string, n int) int64 {
	rc := &RedisConfig{Addresses: []string{addr}}
	o, err := rc.options("redis.")
	if err != nil {
		return -1
	}
	s := newRedisStore(o, "cost:", time.Hour)
	if err := s.revoke(context.Background(), "sid"); err != nil {
		return -1
	}
	_, cursor, err := s.revocations(context.Background(), "")
	if err != nil {
		return -1
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, _, err := s.revocations(context.Background(), cursor); err != nil {
			return -1
		}
	}
	return int64(time.Since(start)) / int64(n)
}
