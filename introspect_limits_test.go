package descopeoidc

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestIntrospectionCacheTTLUnderOneSecond (issue 18 item 12): 0 (or anything under 1s) was accepted and refused every
// opaque token (its cache entry ended at once); New now rejects it, naming the key.
func TestIntrospectionCacheTTLUnderOneSecond(t *testing.T) {
	for _, v := range []string{"0", "0s", "500ms"} {
		settingsWith(t, func(c *Config) { c.AllowBearerTokens, c.IntrospectionCacheTTL = true, v }, "introspectionCacheTTL")
	}
	if s := settingsWith(t, func(c *Config) { c.AllowBearerTokens, c.IntrospectionCacheTTL = true, "1s" }, ""); s.introspect.ttl != time.Second {
		t.Errorf("1s: ttl %v", s.introspect.ttl)
	}
}

// introspectionMW is a middleware whose opaque tokens go to in; "opaque-good" is active.
func introspectionMW(t *testing.T) (*Middleware, *upstream, *introspector, *fakeIdP) {
	f := newFakeIdP(t)
	in, endpoint := newIntrospector(t)
	cfg := f.config()
	cfg.AllowBearerTokens, cfg.IntrospectionURL = true, endpoint
	m, up := newMW(t, f, cfg)
	in.answers["opaque-good"] = map[string]any{"active": true, "sub": testSub, "client_id": testClientID,
		"exp": f.clock.Now().Unix() + 3600, "token_type": "Bearer"}
	return m, up, in, f
}

// TestIntrospectionRefusedClientIsAnOutage (issue 18 item 14): an introspection endpoint answering 429 (rate limited)
// or 401/403 (this client refused) says nothing about the token: 503 with Retry-After, nothing cached, and the token
// works as soon as the endpoint answers again. Before, the token was "inactive" for 10 s: 401 for valid tokens.
func TestIntrospectionRefusedClientIsAnOutage(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusUnauthorized, http.StatusForbidden} {
		m, up, in, _ := introspectionMW(t)
		in.mu.Lock()
		in.status = status
		in.mu.Unlock()
		rec := serve(m, bearerRequest("opaque-good"))
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Errorf("endpoint %d: status %d Retry-After %q, want 503 with Retry-After", status, rec.Code, rec.Header().Get("Retry-After"))
		}
		in.mu.Lock()
		in.status = 0
		in.mu.Unlock()
		if rec := serve(m, bearerRequest("opaque-good")); rec.Code != http.StatusOK || up.count() != 1 || in.count() != 2 {
			t.Errorf("endpoint %d, then back: status %d, upstream %d, introspections %d; want 200, 1, 2", status, rec.Code, up.count(), in.count())
		}
	}
}

// TestOpaqueTokenSizeCap (issue 18 item 13): an opaque token over 16 KiB (the cap on JWTs) is refused without being
// sent to the provider with the client's credentials; one at the cap is introspected.
func TestOpaqueTokenSizeCap(t *testing.T) {
	m, _, in, _ := introspectionMW(t)
	if rec := serve(m, bearerRequest(strings.Repeat("o", maxTokenSize+1))); rec.Code != http.StatusUnauthorized || in.count() != 0 {
		t.Errorf("oversized opaque token: status %d, introspections %d; want 401 and none", rec.Code, in.count())
	}
	if rec := serve(m, bearerRequest(strings.Repeat("o", maxTokenSize))); rec.Code != http.StatusUnauthorized || in.count() != 1 {
		t.Errorf("opaque token at the cap: status %d, introspections %d; want 401 (inactive) after one", rec.Code, in.count())
	}
}

// TestIntrospectionConcurrencyBound (issue 18 item 13): at most maxIntrospections introspection requests are in
// flight per process; past that a new opaque token gets 503 at once (not cached), and works once the slots free.
func TestIntrospectionConcurrencyBound(t *testing.T) {
	release := make(chan struct{})
	var inFlight, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		inFlight.Add(-1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"active":false}`))
	}))
	defer srv.Close()
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.AllowBearerTokens, cfg.IntrospectionURL = true, srv.URL+"/introspect"
	m, _ := newMW(t, f, cfg)
	const extra = 8
	codes := make(chan int, maxIntrospections+extra)
	var wg sync.WaitGroup
	for i := 0; i < maxIntrospections+extra; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes <- serve(m, bearerRequest("opaque-"+strings.Repeat("x", i+1))).Code
		}(i)
	}
	for i := 0; i < extra; i++ { // the overflow answers at once, while the others wait at the endpoint
		select {
		case c := <-codes:
			if c != http.StatusServiceUnavailable {
				t.Errorf("answer %d while %d introspections wait: status %d, want 503", i, maxIntrospections, c)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("only %d answers while the endpoint holds the rest", i)
		}
	}
	close(release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusUnauthorized {
			t.Errorf("introspected token: status %d, want 401 (inactive)", c)
		}
	}
	if peak.Load() > maxIntrospections || atomic.LoadInt64(&introspections) != 0 {
		t.Errorf("endpoint saw %d at once (bound %d); %d still counted in flight", peak.Load(), maxIntrospections, atomic.LoadInt64(&introspections))
	}
}
