package scenarios

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestIntrospectionOutagesAndCaps (issue 18 items 13 and 14), under Traefik's Yaegi loader and compiled: an
// introspection endpoint answering 429, 401 or 403 is an outage (503 with Retry-After, nothing cached: the token works
// as soon as the endpoint answers again; before, it was "inactive" and got 401 for 10 s), and an opaque token over
// 16 KiB is refused without being sent to the endpoint.
func TestIntrospectionOutagesAndCaps(t *testing.T) {
	var status, calls atomic.Int64
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if s := status.Load(); s != 0 {
			w.WriteHeader(int(s))
			return
		}
		_ = r.ParseForm()
		answer := map[string]any{"active": false}
		if r.PostForm.Get("token") == "opaque-good" {
			answer = map[string]any{"active": true, "sub": "user-1", "client_id": "c", "token_type": "Bearer",
				"exp": time.Now().Add(time.Hour).Unix()}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer)
	}))
	t.Cleanup(endpoint.Close)
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		cfg := map[string]any{
			"issuer": "https://idp.example.com", "clientID": "c", "clientSecret": "s", "sessionSecret": sessionSecret,
			"allowBearerTokens": "true", "introspectionURL": endpoint.URL + "/introspect",
			"forwardHeaders": map[string]any{"X-Forwarded-User": "sub"}, "logLevel": "error",
		}
		e := newEnv(t, tg, nil, cfg)
		c := e.browser()
		api := func(tok string) response {
			return c.Do(http.MethodGet, "/api", map[string]string{"Authorization": "Bearer " + tok, "Accept": "application/json"})
		}
		for _, s := range []int{http.StatusTooManyRequests, http.StatusUnauthorized, http.StatusForbidden} {
			status.Store(int64(s))
			if r := api("opaque-good"); r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
				t.Errorf("endpoint %d: status %d Retry-After %q, want 503 with Retry-After", s, r.Status, r.Header.Get("Retry-After"))
			}
			status.Store(0)
		}
		if r := api("opaque-good"); r.Status != http.StatusOK || e.upstream.Load() != 1 {
			t.Errorf("endpoint back: status %d, upstream %d; want the token through", r.Status, e.upstream.Load())
		}
		before := calls.Load()
		if r := api(strings.Repeat("o", 16<<10+1)); r.Status != http.StatusUnauthorized || calls.Load() != before {
			t.Errorf("opaque token over 16 KiB: status %d, %d introspections; want 401 and none", r.Status, calls.Load()-before)
		}
	})
}

// TestIntrospectionConcurrencyBound (issue 18 item 13), under Yaegi and compiled: while the endpoint holds 32
// introspections (the bound per process), a new opaque token gets 503 at once without a request to the endpoint;
// once it answers, the held ones get its verdict and a later token is introspected again. Each code path runs once
// on its own before it runs concurrently (Yaegi builds some types lazily, see YAEGI.md).
func TestIntrospectionConcurrencyBound(t *testing.T) {
	const bound = 32
	var inFlight, calls atomic.Int64
	var mu sync.Mutex
	release := make(chan struct{})
	close(release)
	held := func() chan struct{} { mu.Lock(); defer mu.Unlock(); return release }
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		inFlight.Add(1)
		<-held()
		inFlight.Add(-1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"active":false}`))
	}))
	t.Cleanup(endpoint.Close)
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		cfg := map[string]any{
			"issuer": "https://idp.example.com", "clientID": "c", "clientSecret": "s", "sessionSecret": sessionSecret,
			"allowBearerTokens": "true", "introspectionURL": endpoint.URL + "/introspect", "logLevel": "error",
		}
		h, err := tg.Build(cfg, http.NotFoundHandler(), "bound")
		if err != nil {
			t.Fatal(err)
		}
		ask := func(tok string) int {
			r := httptest.NewRequest(http.MethodGet, "https://app.example/api", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header.Set("Accept", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			return rec.Code
		}
		if c := ask(tg.Name() + "-warm"); c != http.StatusUnauthorized {
			t.Fatalf("warm-up token: status %d, want 401", c)
		}
		mu.Lock()
		release = make(chan struct{})
		mu.Unlock()
		codes := make(chan int, bound)
		for i := 0; i < bound; i++ {
			go func(i int) { codes <- ask(tg.Name() + "-held-" + strings.Repeat("x", i+1)) }(i)
		}
		for deadline := time.Now().Add(8 * time.Second); inFlight.Load() < bound && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		n, before := inFlight.Load(), calls.Load()
		extra := ask(tg.Name() + "-extra")
		after := calls.Load()
		close(held())
		for i := 0; i < bound; i++ {
			<-codes
		}
		if n != bound {
			t.Fatalf("%d introspections reached the held endpoint, want %d (a slow machine: the client timeout is 10s)", n, bound)
		}
		if extra != http.StatusServiceUnavailable || after != before {
			t.Errorf("token over the bound: status %d, %d requests to the endpoint; want 503 and none", extra, after-before)
		}
		if c := ask(tg.Name() + "-later"); c != http.StatusUnauthorized {
			t.Errorf("after the held ones: status %d, want 401 (introspected)", c)
		}
	})
}
