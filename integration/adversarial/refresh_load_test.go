package adversarial

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// sessionLoad is what a load run of signed-in users saw: every request's latency, sorted, and the failures.
type sessionLoad struct {
	latencies []time.Duration
	failures  []string
}

func (l sessionLoad) percentile(p float64) time.Duration {
	if len(l.latencies) == 0 {
		return 0
	}
	return l.latencies[int(p*float64(len(l.latencies)-1))]
}

func (l sessionLoad) String() string {
	return fmt.Sprintf("%d requests, p50 %s, p99 %s, max %s", len(l.latencies), l.percentile(0.50).Round(time.Microsecond),
		l.percentile(0.99).Round(time.Microsecond), l.percentile(1).Round(time.Microsecond))
}

// runSessionLoad has every browser make perUser requests one after the other, all browsers at once, and checks
// that each reaches the upstream as its own user.
func runSessionLoad(t *testing.T, browsers []*browser, perUser int) sessionLoad {
	var (
		mu  sync.Mutex
		out sessionLoad
		wg  sync.WaitGroup
	)
	for _, b := range browsers {
		b := b
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perUser; j++ {
				start := time.Now()
				r := b.get("/app")
				took := time.Since(start)
				mu.Lock()
				out.latencies = append(out.latencies, took)
				if r.Status != http.StatusOK || r.Body != "upstream ok "+b.hint {
					out.failures = append(out.failures, fmt.Sprintf("%s: %s", b.hint, r))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(out.latencies, func(i, j int) bool { return out.latencies[i] < out.latencies[j] })
	return out
}

// TestHungTokenEndpointUnderLoad (a load run): signed-in users whose tokens are valid reach their refresh point while
// the provider hangs its token endpoint. Every request is answered before the provider releases the endpoint (it
// would hold them until the plugin's 10s timeout otherwise), one refresh per session waits there, and the latency
// percentiles are logged next to a baseline run before the refresh point.
//
//	cd integration && go test -race -count=1 -run TestHungTokenEndpointUnderLoad -v ./adversarial/
func TestHungTokenEndpointUnderLoad(t *testing.T) {
	const users, perUser = 20, 25
	o := newOutcomes(t)
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		warmInterpreter(t, tg)
		idp := refreshingIdP(t, 10) // tokens live 10s
		h, _ := build(t, tg, baseConfig(idp, map[string]any{"refreshMargin": "5s"}))
		browsers := make([]*browser, users)
		firstLogin := time.Now()
		for i := range browsers {
			browsers[i] = newBrowser(t, h)
			browsers[i].hint = fmt.Sprintf("user-%d", i)
			browsers[i].mustLogin(idp, "/app")
		}
		lastLogin := time.Now()
		if lastLogin.Sub(firstLogin) > 2*time.Second {
			t.Skipf("%d logins took %s: too slow a machine for a 10s token lifetime", users, lastLogin.Sub(firstLogin))
		}
		base := runSessionLoad(t, browsers, perUser) // before the refresh point: the fast path
		time.Sleep(time.Until(lastLogin.Add(5200 * time.Millisecond)))
		release := idp.HoldTokens()
		defer release()
		done := make(chan sessionLoad, 1)
		go func() { done <- runSessionLoad(t, browsers, perUser) }()
		var hung sessionLoad
		// the first session's tokens expire 10s after its login; until then every session may be served
		select {
		case hung = <-done:
		case <-time.After(time.Until(firstLogin.Add(9500 * time.Millisecond))):
			t.Errorf("signed-in users with valid tokens still waiting %s after the token endpoint hung",
				time.Since(lastLogin.Add(5200*time.Millisecond)).Round(time.Millisecond))
			release()
			hung = <-done
		}
		// the refreshes run in goroutines of their own: give the last ones a moment to reach the provider
		for wait := time.Now().Add(3 * time.Second); idp.HeldTokenRequests() < users && time.Now().Before(wait); {
			time.Sleep(20 * time.Millisecond)
		}
		held, grants := idp.HeldTokenRequests(), idp.RefreshGrants()
		release()
		t.Logf("%s: %d users x %d requests; baseline: %s", tg.Name(), users, perUser, base)
		t.Logf("%s: token endpoint hung:  %s; %d refresh grants held at the provider", tg.Name(), hung, held)
		for _, f := range append(base.failures, hung.failures...) {
			t.Error(f)
		}
		if held != users || grants != users {
			t.Errorf("%d refresh requests held, %d refresh grants; want one per session (%d)", held, grants, users)
		}
		o.record(tg.Name(), "hung token endpoint", fmt.Sprintf("answered=%d failures=%d held=%d", len(hung.latencies), len(hung.failures), held))
	})
}
