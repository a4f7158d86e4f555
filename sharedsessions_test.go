//go:build redis

package descopeoidc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// asProcess gives m a registry of its own, as if it ran in another Traefik process, sharing only the store.
func asProcess(t *testing.T, m *Middleware, name string) {
	t.Helper()
	g := newSessionRegistry()
	g.shared = newStoreState(m.s.store, int64(m.s.maxAge/time.Second))
	c := g.policyFor("process-"+name, m.s.sources.needed, defaultCacheMemory).cache
	m.sm.reg, m.sm.cache, m.sm.states, m.sessions = g, c, g.states, c
	registries.mu.Lock()
	registries.m["test-process-"+name+"-"+strconv.FormatInt(time.Now().UnixNano(), 10)] = g // live: its poller runs
	registries.mu.Unlock()
	t.Cleanup(func() {
		registries.mu.Lock()
		for k, r := range registries.m {
			if r == g {
				delete(registries.m, k)
			}
		}
		registries.mu.Unlock()
	})
}

// eventually polls cond every 50 ms for up to d and reports how long it took, or fails.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

func TestSharedStoreSettings(t *testing.T) {
	s := settingsWith(t, func(c *Config) { c.Redis = &RedisConfig{Addresses: []string{"127.0.0.1:6390"}} }, "")
	if s.store == nil || s.storeID == "" {
		t.Fatal("redis: no store derived")
	}
	other := settingsWith(t, func(c *Config) { c.Redis = &RedisConfig{Addresses: []string{"127.0.0.1:6391"}} }, "")
	plain := settingsWith(t, func(*Config) {}, "")
	if registryFor(s) == registryFor(other) || registryFor(s) == registryFor(plain) || registryFor(s).shared == nil {
		t.Error("sessions shared through different stores, or with none, share a registry")
	}
	settingsWith(t, func(c *Config) { c.Redis = &RedisConfig{Mode: "clustre", Addresses: []string{"127.0.0.1:1"}} }, "redis.mode")
}

// twoProcesses starts Redis and two middlewares, each with a registry of its own (two Traefik processes), logged in
// through a.
func twoProcesses(t *testing.T, mutate func(c *Config)) (r *testRedis, f *fakeIdP, a, b *Middleware, cookie *http.Cookie) {
	t.Helper()
	r = startRedisServer(t, nil)
	f, a, b, cookie = twoProcessesOn(t, testRedisConfig("standalone", r.addr), mutate)
	return r, f, a, b, cookie
}

// twoProcessesOn is twoProcesses with the Redis configuration rc (Sentinel, Cluster).
func twoProcessesOn(t *testing.T, rc *RedisConfig, mutate func(c *Config)) (f *fakeIdP, a, b *Middleware, cookie *http.Cookie) {
	t.Helper()
	f = newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.rotateRefresh = true })
	cfg := func() *Config {
		c := f.config()
		c.Redis = rc
		if mutate != nil {
			mutate(c)
		}
		return c
	}
	a, _ = newMW(t, f, cfg())
	b, _ = newMW(t, f, cfg())
	asProcess(t, a, "a")
	asProcess(t, b, "b")
	br := newBrowser(t, a)
	br.login("/")
	return f, a, b, br.cookie(a.s.cookieName)
}

// logoutAt logs cookie out through m.
func logoutAt(t *testing.T, m *Middleware, cookie *http.Cookie) {
	t.Helper()
	lo := httptest.NewRequest(http.MethodPost, appOrigin+"/oauth2/logout", nil)
	lo.Header.Set("Origin", appOrigin)
	lo.AddCookie(cookie)
	if rec := serve(m, lo); rec.Code != http.StatusSeeOther {
		t.Fatalf("logout: status %d", rec.Code)
	}
}

// TestSharedStoreSentinelFailover: Redis behind Sentinel; the master is killed while the other process serves the
// session in a loop (bounded: until the test ends it, at most 60 s). No request of the valid session is refused or
// answered 5xx; after the failover a logout at one process is refused at the other within a second and a half.
func TestSharedStoreSentinelFailover(t *testing.T) {
	t.Parallel()
	master, _, sentinel := sentinelPair(t)
	rc := testRedisConfig("sentinel", sentinel.addr)
	rc.MasterName = "mymaster"
	_, a, b, cookie := twoProcessesOn(t, rc, nil)
	serve(b, withCookies("/", cookie)) // b's poller runs
	stop := make(chan struct{})
	bad := make(chan int, 1000)
	served := make(chan int, 1)
	go func() {
		n := 0
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); n++ {
			select {
			case <-stop:
				served <- n
				return
			default:
			}
			if code := serve(b, withCookies("/", cookie)).Code; code != http.StatusOK {
				bad <- code
			}
			time.Sleep(20 * time.Millisecond)
		}
		served <- n
	}()
	master.stop()
	eventually(t, 30*time.Second, "the sentinel promotes the replica", func() bool {
		rep := rawRedis(t, sentinel.addr, "SENTINEL", "get-master-addr-by-name", "mymaster")
		return len(rep.elems) == 2 && rep.elems[1].str != strconv.Itoa(master.port)
	})
	time.Sleep(time.Second) // the clients re-discover the master (at most once a second)
	close(stop)
	n := <-served
	close(bad)
	for code := range bad {
		t.Errorf("a valid session answered %d during the failover", code)
	}
	t.Logf("%d requests of a valid session during the failover, all 200", n)
	logoutAt(t, a, cookie)
	took := eventually(t, 5*time.Second, "the other process refuses the logged-out cookie after the failover", func() bool {
		return serve(b, withCookies("/", cookie)).Code == http.StatusFound
	})
	t.Logf("after the failover, logout refused at the other process in %s", took.Round(10*time.Millisecond))
	if took > 1500*time.Millisecond {
		t.Errorf("refused after %s, want within 1.5s", took)
	}
}

// TestSharedStoreCluster: Redis Cluster with 3 masters: one refresh grant for a session asked at both processes, and a
// logout at one refused at the other within a second.
func TestSharedStoreCluster(t *testing.T) {
	t.Parallel()
	nodes := startRedisCluster(t)
	f, a, b, cookie := twoProcessesOn(t, testRedisConfig("cluster", nodes[0].addr), nil)
	before := len(f.tokenRequests())
	f.clock.Advance(301 * time.Second)
	serve(b, withCookies("/", cookie))
	if n := len(f.tokenRequests()) - before; n != 1 {
		t.Fatalf("%d refresh grants, want 1", n)
	}
	if rec := serve(a, withCookies("/", cookie)); rec.Code != http.StatusOK {
		t.Errorf("the other process after the refresh: status %d", rec.Code)
	}
	if n := len(f.tokenRequests()) - before; n != 1 {
		t.Errorf("%d refresh grants for one session at two processes over a cluster, want 1", n)
	}
	logoutAt(t, a, cookie)
	took := eventually(t, 2*time.Second, "the other process refuses the logged-out cookie", func() bool {
		return serve(b, withCookies("/", cookie)).Code == http.StatusFound
	})
	t.Logf("cluster: logout refused at the other process in %s", took.Round(10*time.Millisecond))
}

// TestSharedStoreLogout: a logout at one process is refused at the other within a second (the revocation stream,
// polled every 500 ms), with no round trip on the other's cached hits.
func TestSharedStoreLogout(t *testing.T) {
	_, _, a, b, cookie := twoProcesses(t, nil)
	if rec := serve(b, withCookies("/", cookie)); rec.Code != http.StatusOK {
		t.Fatalf("the session at the other process: status %d", rec.Code)
	}
	logoutAt(t, a, cookie)
	took := eventually(t, 2*time.Second, "the other process refuses the logged-out cookie", func() bool {
		return serve(b, withCookies("/", cookie)).Code == http.StatusFound
	})
	t.Logf("logout at one process refused at the other after %s", took.Round(10*time.Millisecond))
	if took > time.Second+200*time.Millisecond {
		t.Errorf("refused after %s, want within 1s", took)
	}
}

// TestSharedStoreOneRefresh: tokens expired, requests at both processes at once: one refresh grant at a provider
// that rotates refresh tokens; both serve the session, the loser with the winner's cookie.
func TestSharedStoreOneRefresh(t *testing.T) {
	_, f, a, b, cookie := twoProcesses(t, nil)
	before := len(f.tokenRequests())
	f.clock.Advance(301 * time.Second)
	serve(b, withCookies("/", cookie)) // warm b's paths (and start its poller) before the race: YAEGI.md
	codes := make(chan int, 2)
	for _, m := range []*Middleware{a, b} {
		m := m
		go func() { codes <- serve(m, withCookies("/", cookie)).Code }()
	}
	for i := 0; i < 2; i++ {
		if c := <-codes; c != http.StatusOK {
			t.Errorf("request %d with expired tokens: status %d, want 200", i, c)
		}
	}
	if n := len(f.tokenRequests()) - before; n != 1 {
		t.Errorf("%d refresh grants for one session at two processes, want 1", n)
	}
}

// TestSharedStoreDown: Redis stops. Sessions keep working from their cookies, a logout still ends the session where
// it happened and is sent to the other process once Redis is back; no 5xx meanwhile.
func TestSharedStoreDown(t *testing.T) {
	r, _, a, b, cookie := twoProcesses(t, nil)
	serve(b, withCookies("/", cookie))
	r.stop()
	if rec := serve(b, withCookies("/", cookie)); rec.Code != http.StatusOK {
		t.Errorf("a valid session with Redis down: status %d, want 200", rec.Code)
	}
	logoutAt(t, a, cookie) // Redis down: it ends here, and is kept to send
	if rec := serve(a, withCookies("/", cookie)); rec.Code != http.StatusFound {
		t.Errorf("the logged-out cookie where it logged out, Redis down: status %d, want a login", rec.Code)
	}
	if rec := serve(b, withCookies("/", cookie)); rec.Code >= 500 {
		t.Errorf("the other process with Redis down: status %d", rec.Code)
	}
	r.start()
	took := eventually(t, 10*time.Second, "the kept revocation reaches the other process after Redis is back", func() bool {
		return serve(b, withCookies("/", cookie)).Code == http.StatusFound
	})
	t.Logf("revocation delivered %s after Redis came back", took.Round(10*time.Millisecond))
}

// TestSharedStateSpentOnce: a login state spent at one process is refused at another.
func TestSharedStateSpentOnce(t *testing.T) {
	_, _, a, b, _ := twoProcesses(t, nil)
	ctx := context.Background()
	if !a.sm.reg.spendShared(ctx, "state:s1", time.Minute, a.log) {
		t.Fatal("a fresh state refused")
	}
	if b.sm.reg.spendShared(ctx, "state:s1", time.Minute, b.log) {
		t.Error("a state spent at another process accepted again")
	}
}

// TestSharedStoreDown30s: Redis stops for 30 s while the other process serves a session in a loop. Every request of
// the valid session is answered 200, the pollers do not pile up goroutines, a logout made during the outage ends the
// session where it was made at once and at the other process once Redis is back, without a restart.
func TestSharedStoreDown30s(t *testing.T) {
	t.Parallel()
	r, _, a, b, cookie := twoProcesses(t, nil)
	serve(b, withCookies("/", cookie))
	other := twoProcessesCookie(t, a) // a second session, logged out during the outage
	serve(b, withCookies("/", other))
	goroutines := runtime.NumGoroutine()
	r.stop()
	outage := time.Now()
	var failed, requests int
	maxGoroutines := goroutines
	for time.Since(outage) < 30*time.Second {
		if code := serve(b, withCookies("/", cookie)).Code; code != http.StatusOK {
			failed++
		}
		requests++
		if requests == 100 {
			logoutAt(t, a, other) // during the outage: kept, sent once Redis answers
			if serve(a, withCookies("/", other)).Code != http.StatusFound {
				t.Error("a logout during the outage does not end the session where it was made")
			}
		}
		if n := runtime.NumGoroutine(); n > maxGoroutines {
			maxGoroutines = n
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("Redis down 30 s: %d requests of a valid session, %d not 200; goroutines %d before, at most %d during",
		requests, failed, goroutines, maxGoroutines)
	if failed != 0 {
		t.Errorf("%d of %d requests of a valid session failed while Redis was down", failed, requests)
	}
	if maxGoroutines > goroutines+10 {
		t.Errorf("goroutines grew from %d to %d while Redis was down", goroutines, maxGoroutines)
	}
	r.start()
	took := eventually(t, 10*time.Second, "the logout made during the outage reaches the other process", func() bool {
		return serve(b, withCookies("/", other)).Code == http.StatusFound
	})
	t.Logf("the kept logout reached the other process %s after Redis came back", took.Round(10*time.Millisecond))
	if serve(b, withCookies("/", cookie)).Code != http.StatusOK {
		t.Error("the valid session after Redis came back")
	}
}

// twoProcessesCookie logs another browser in through m and returns its session cookie.
func twoProcessesCookie(t *testing.T, m *Middleware) *http.Cookie {
	t.Helper()
	br := newBrowser(t, m)
	br.login("/")
	return br.cookie(m.s.cookieName)
}
