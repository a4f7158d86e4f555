package adversarial

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/badidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestProviderDownAtStartHeals: the provider is down when the middleware is built; requests get 503 with
// Retry-After, and once it is back the middleware heals by itself, within its backoff (<= 10s).
func TestProviderDownAtStartHeals(t *testing.T) {
	t.Parallel()
	o := newOutcomes(t)
	forEachTargetConcurrently(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		idp.Stop()
		h, up := build(t, tg, baseConfig(idp, nil))
		down := time.Now()
		n := 0
		for time.Since(down) < 3*time.Second {
			r := serve(t, h, appRequest(http.MethodGet, "/app", navigation()))
			if r.Status != http.StatusServiceUnavailable {
				t.Fatalf("provider down: %s, want 503", r)
			}
			if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 11 {
				t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
			}
			checkGeneric(t, r.Body)
			n++
			time.Sleep(100 * time.Millisecond)
		}
		if err := idp.Start(); err != nil {
			t.Fatal(err)
		}
		back := time.Now()
		var healed time.Duration
		for {
			r := serve(t, h, appRequest(http.MethodGet, "/app", navigation()))
			if r.Status == http.StatusFound && strings.HasPrefix(r.location(), idp.Issuer()+"/authorize?") {
				healed = time.Since(back)
				break
			}
			if r.Status != http.StatusServiceUnavailable {
				t.Fatalf("while healing: %s", r)
			}
			if time.Since(back) > 12*time.Second {
				t.Fatalf("not healed %s after the provider came back", time.Since(back))
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("%d requests got 503 while down; healed %s after the provider came back", n, healed.Round(time.Millisecond))
		if healed > 11*time.Second {
			t.Errorf("healing took %s, more than the 10s maximum backoff", healed)
		}
		newBrowser(t, h).mustLogin(idp, "/app")
		if up.count() != 0 {
			t.Errorf("upstream reached %d times", up.count())
		}
		o.record(tg.Name(), "down at start", fmt.Sprintf("503s=%v healed<=11s=%v", n > 0, healed <= 11*time.Second))
	})
}

// loadStats counts what a load run saw.
type loadStats struct {
	// flapping: clients keep logging in until the deadline; one that never got through is the provider's fault
	flapping                                 bool
	logins, requests, providerFaults, errors atomic.Int64
	mu                                       sync.Mutex
	samples                                  []string
}

func (s *loadStats) fail(format string, args ...any) {
	s.errors.Add(1)
	s.mu.Lock()
	if len(s.samples) < 10 {
		s.samples = append(s.samples, fmt.Sprintf(format, args...))
	}
	s.mu.Unlock()
}

// loginOnce runs one login for b, classifying a failure as the provider's fault (503, or the provider unreachable)
// or not (anything else). It returns true when the browser holds a session.
func loginOnce(b *browser, idp *badidp.Server, target string, st *loadStats) bool {
	st.requests.Add(1)
	r := b.get(target)
	switch {
	case r.Status == http.StatusServiceUnavailable:
		st.providerFaults.Add(1)
		return false
	case r.Status != http.StatusFound || !strings.HasPrefix(r.location(), idp.Issuer()+"/authorize?"):
		st.fail("GET %s: %s", target, r)
		return false
	}
	au, err := url.Parse(r.location())
	if err != nil {
		st.fail("authorize URL: %v", err)
		return false
	}
	cb, err := b.authorize(au)
	if err != nil {
		st.providerFaults.Add(1) // the browser could not reach the provider
		return false
	}
	st.requests.Add(1)
	r = b.callback(cb)
	switch {
	case r.Status == http.StatusServiceUnavailable:
		st.providerFaults.Add(1)
		return false
	case r.Status != http.StatusFound || !r.sessionSet() || r.location() != target:
		st.fail("callback: %s Location %q", r, r.location())
		return false
	}
	st.logins.Add(1)
	return true
}

// useSession makes one request with the session and checks that the upstream saw this client's identity.
func useSession(b *browser, target string, st *loadStats) bool {
	st.requests.Add(1)
	r := b.get(target)
	if r.Status != http.StatusOK || r.Body != "upstream ok "+b.hint {
		st.fail("GET %s with a session as %s: %s", target, b.hint, r)
		return false
	}
	return true
}

// runClients runs n browsers at once, each logging in then making perClient requests; a failed login is retried
// (a new login) until deadline. With st.flapping, each client keeps going (new browser, new login) until deadline.
func runClients(t *testing.T, h http.Handler, idp *badidp.Server, n, perClient int, deadline time.Time, st *loadStats) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for round := 0; round == 0 || (st.flapping && time.Now().Before(deadline)); round++ {
				b := newBrowser(t, h)
				b.hint = fmt.Sprintf("user-%d", i)
				target := fmt.Sprintf("/app/%d", i)
				for !loginOnce(b, idp, target, st) {
					if time.Now().After(deadline) {
						if !st.flapping {
							st.fail("client %d: no login before the deadline", i)
						}
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
				for j := 0; j < perClient && time.Now().Before(deadline); j++ {
					if !useSession(b, target, st) {
						return
					}
				}
			}
		}(i)
	}
	wg.Wait()
}

// TestProviderFlappingUnderLoad: the provider goes down and up while clients log in. Every failure must be the
// provider's fault (503), sessions keep working while it is down, and everybody is logged in once it stays up.
func TestProviderFlappingUnderLoad(t *testing.T) {
	o := newOutcomes(t)
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		warmInterpreter(t, tg)
		idp := newIdP(t)
		h, _ := build(t, tg, baseConfig(idp, nil))
		stop := make(chan struct{})
		var flaps atomic.Int64
		var fw sync.WaitGroup
		fw.Add(1)
		go func() {
			defer fw.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(400 * time.Millisecond):
				}
				idp.Stop()
				flaps.Add(1)
				select {
				case <-stop:
				case <-time.After(200 * time.Millisecond):
				}
				if err := idp.Start(); err != nil {
					t.Errorf("restart: %v", err)
					return
				}
			}
		}()
		st := &loadStats{flapping: true}
		start := time.Now()
		runClients(t, h, idp, 40, 5, start.Add(4*time.Second), st)
		close(stop)
		fw.Wait()
		flapping := time.Since(start)
		// now it stays up: every client logs in within the plugin's backoff
		healed := &loadStats{}
		runClients(t, h, idp, 40, 2, time.Now().Add(20*time.Second), healed)
		t.Logf("%s: flapping %d times in %s: %d requests, %d logins, %d provider faults (503 or unreachable), %d other errors",
			tg.Name(), flaps.Load(), flapping.Round(time.Millisecond), st.requests.Load(), st.logins.Load(), st.providerFaults.Load(), st.errors.Load())
		t.Logf("%s: after flapping: %d requests, %d logins, %d provider faults, %d errors", tg.Name(),
			healed.requests.Load(), healed.logins.Load(), healed.providerFaults.Load(), healed.errors.Load())
		for _, s := range append(st.samples, healed.samples...) {
			t.Errorf("not the provider's fault: %s", s)
		}
		if healed.logins.Load() != 40 {
			t.Errorf("%d of 40 clients logged in after the flapping", healed.logins.Load())
		}
		o.record(tg.Name(), "flapping", fmt.Sprintf("errors=%d healedLogins=%d", st.errors.Load()+healed.errors.Load(), healed.logins.Load()))
	})
}

// TestSlowJWKS: a JWKS endpoint that takes 2s delays concurrent logins once, with one fetch, not one per login.
func TestSlowJWKS(t *testing.T) {
	o := newOutcomes(t)
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		warmInterpreter(t, tg)
		idp := newIdP(t)
		idp.SetJWKSDelay(2 * time.Second)
		h, _ := build(t, tg, baseConfig(idp, nil))
		st := &loadStats{}
		start := time.Now()
		runClients(t, h, idp, 30, 1, start.Add(30*time.Second), st)
		took := time.Since(start)
		t.Logf("%s: 30 concurrent logins with a 2s JWKS: %s, %d JWKS fetch(es), %d errors", tg.Name(), took.Round(time.Millisecond), idp.JWKSFetches(), st.errors.Load())
		for _, s := range st.samples {
			t.Error(s)
		}
		if st.logins.Load() != 30 || st.providerFaults.Load() != 0 {
			t.Errorf("%d logins, %d provider faults; want 30 and 0", st.logins.Load(), st.providerFaults.Load())
		}
		if idp.JWKSFetches() != 1 {
			t.Errorf("JWKS fetched %d times, want 1 (concurrent fetches are shared)", idp.JWKSFetches())
		}
		if took > 15*time.Second {
			t.Errorf("logins took %s: the slow JWKS was waited for once per login?", took)
		}
		o.record(tg.Name(), "slow JWKS", fmt.Sprintf("logins=%d jwks=%d", st.logins.Load(), idp.JWKSFetches()))
	})
}

// TestJWKSSlowerThanTimeout: a JWKS endpoint slower than 10s fails the login with 503 (not a hang), and the
// middleware recovers once the JWKS is fast again.
func TestJWKSSlowerThanTimeout(t *testing.T) {
	t.Parallel()
	o := newOutcomes(t)
	forEachTargetConcurrently(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		idp.SetJWKSDelay(badidp.DefaultSlowDelay)
		h, up := build(t, tg, baseConfig(idp, nil))
		b := newBrowser(t, h)
		start := time.Now()
		resp, cb, err := b.login(idp, "/app")
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		expectRejected(t, resp, up, idp, cb, http.StatusServiceUnavailable)
		if took > badidp.DefaultSlowDelay+time.Second {
			t.Errorf("callback took %s", took)
		}
		idp.SetJWKSDelay(0)
		st := &loadStats{}
		runClients(t, h, idp, 1, 1, time.Now().Add(15*time.Second), st)
		if st.logins.Load() != 1 || st.errors.Load() != 0 {
			t.Errorf("no recovery after the JWKS got fast: %v", st.samples)
		}
		o.record(tg.Name(), "JWKS > timeout", fmt.Sprintf("callback=%d recovered=%v", resp.Status, st.logins.Load() == 1))
	})
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// settleGoroutines waits (up to 15s) for the goroutine count to come back to at most want, returning the last count.
func settleGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(15 * time.Second); n > want && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		idpTransport.CloseIdleConnections()
		runtime.GC()
		time.Sleep(100 * time.Millisecond)
	}
	return n
}

// stableGoroutines waits until the goroutine count stops falling (the previous tests' servers and connections are
// gone) and returns it.
func stableGoroutines() int {
	idpTransport.CloseIdleConnections()
	n := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		time.Sleep(200 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m >= n {
			return m
		}
		n = m
	}
	return n
}

// loadRound runs clients browsers against idp through a fresh middleware, dropped afterwards.
func loadRound(t *testing.T, tg harness.Target, idp *badidp.Server, clients, perClient int) (*loadStats, time.Duration) {
	h, up := build(t, tg, baseConfig(idp, nil))
	st := &loadStats{}
	start := time.Now()
	runClients(t, h, idp, clients, perClient, start.Add(2*time.Minute), st)
	took := time.Since(start)
	if want := int64(clients * perClient); up.count() != want {
		t.Errorf("upstream saw %d requests, want %d", up.count(), want)
	}
	idpTransport.CloseIdleConnections()
	return st, took
}

// TestConcurrentClients: 200 browsers with their own cookie jars log in and make requests at once, through each
// target (run with -race). No error, goroutines back to the baseline, heap not growing.
func TestConcurrentClients(t *testing.T) {
	const clients, perClient = 200, 5
	o := newOutcomes(t)
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		warmInterpreter(t, tg)
		idp := newIdP(t)             // one provider (one issuer) for every round: the per-issuer cache does not grow
		loadRound(t, tg, idp, 20, 2) // warm-up: transports, interpreter caches
		idp.DropConnections()
		g0 := stableGoroutines()
		h0 := heapInUse()
		st, took := loadRound(t, tg, idp, clients, perClient)
		idp.DropConnections()
		g1 := settleGoroutines(g0)
		h1 := heapInUse()
		st2, took2 := loadRound(t, tg, idp, clients, perClient)
		idp.DropConnections()
		g2 := settleGoroutines(g0)
		h2 := heapInUse()
		for i, s := range []*loadStats{st, st2} {
			d := []time.Duration{took, took2}[i]
			t.Logf("%s round %d: %d clients, %d logins, %d requests, %d errors, %d provider faults in %s (%.0f req/s)",
				tg.Name(), i+1, clients, s.logins.Load(), s.requests.Load(), s.errors.Load(), s.providerFaults.Load(),
				d.Round(time.Millisecond), float64(s.requests.Load())/d.Seconds())
			for _, e := range s.samples {
				t.Errorf("round %d: %s", i+1, e)
			}
			if s.logins.Load() != clients || s.providerFaults.Load() != 0 {
				t.Errorf("round %d: %d logins, %d provider faults", i+1, s.logins.Load(), s.providerFaults.Load())
			}
		}
		t.Logf("%s goroutines: baseline %d, after round 1 %d, after round 2 %d", tg.Name(), g0, g1, g2)
		t.Logf("%s heap: baseline %.1f MB, after round 1 %.1f MB, after round 2 %.1f MB", tg.Name(), mb(h0), mb(h1), mb(h2))
		if g1 > g0 || g2 > g0 {
			t.Errorf("goroutines not back to the baseline %d: %d, %d", g0, g1, g2)
			buf := make([]byte, 1<<20)
			t.Logf("%s", buf[:runtime.Stack(buf, true)])
		}
		// one round may leave bounded, per-issuer state (the provider cache entry); two rounds must not add more
		// than one round did, and neither may keep the round's sessions alive.
		const slack = 4 << 20
		if h2 > h1+slack || h1 > h0+slack {
			t.Errorf("heap grows: %.1f MB -> %.1f MB -> %.1f MB", mb(h0), mb(h1), mb(h2))
		}
		o.record(tg.Name(), "200 clients", fmt.Sprintf("logins=%d errors=%d goroutinesBack=%v",
			st.logins.Load()+st2.logins.Load(), st.errors.Load()+st2.errors.Load(), g1 <= g0 && g2 <= g0))
	})
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }
