package descopeoidc

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestProviderDiscoveryIssuerMismatch(t *testing.T) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.mutateDisc = func(d map[string]any) { d["issuer"] = "https://evil.example" } })
	m, _ := newMW(t, f, f.config())
	_, err := m.p.metadata(context.Background())
	if !errors.Is(err, errProviderUnavailable) || !strings.Contains(err.Error(), "issuer mismatch") {
		t.Fatalf("err = %v", err)
	}

	// Issuers compare exactly (OpenID Connect Discovery 4.3): a trailing slash makes another issuer.
	g := newFakeIdP(t)
	g.set(func(f *fakeIdP) { f.mutateDisc = func(d map[string]any) { d["issuer"] = f.issuer + "/" } })
	m2, _ := newMW(t, g, g.config())
	_, err = m2.p.metadata(context.Background())
	mustContain(t, "published with a slash, configured without", fmt.Sprint(err), `the provider publishes issuer "`+g.issuer+
		`/" but the configuration says "`+g.issuer+`" (they differ only by a trailing slash, which counts): set issuer: "`+g.issuer+`/"`)
	// While the fetch backs off, the answer still names the cause (not a bare "unavailable").
	_, err = m2.p.metadata(context.Background())
	mustContain(t, "during the backoff", fmt.Sprint(err), `set issuer: "`+g.issuer+`/"`)
}

// A trailing-slash issuer (zitadel's, Auth0's) is used exactly as configured: discovery is fetched from the issuer
// without its slash plus /.well-known/openid-configuration, and its issuer and the tokens' iss must keep the slash.
func TestProviderTrailingSlashIssuer(t *testing.T) {
	f := newFakeIdP(t)
	slash := f.issuer + "/"
	f.set(func(f *fakeIdP) { f.mutateDisc = func(d map[string]any) { d["issuer"] = slash } })
	cfg := f.config()
	cfg.Issuer = slash
	m, _ := newMW(t, f, cfg)
	t.Cleanup(func() { forgetProvider(slash) })
	if m.s.issuer != slash || m.p.issuer != slash {
		t.Fatalf("issuer = %q (provider %q), want %q kept as configured", m.s.issuer, m.p.issuer, slash)
	}
	if got, want := discoveryURL(slash), f.issuer+"/.well-known/openid-configuration"; got != want {
		t.Errorf("discovery URL = %q, want %q", got, want)
	}
	md, err := m.p.metadata(context.Background())
	if err != nil || md.Issuer != slash {
		t.Fatalf("metadata: %v (issuer %v)", err, md)
	}
	claims := f.idClaims("")
	claims["iss"] = slash
	if _, err := m.idTokens.verify(context.Background(), f.mint(claims), ""); err != nil {
		t.Errorf("token with the slash issuer: %v", err)
	}
	claims["iss"] = f.issuer
	_, err = m.idTokens.verify(context.Background(), f.mint(claims), "")
	mustContain(t, "token without the slash", fmt.Sprint(err), "issuer mismatch")
}

func TestParseMetadata(t *testing.T) {
	const iss = "https://idp.example"
	base := func() map[string]string {
		return map[string]string{
			"issuer": iss, "authorization_endpoint": iss + "/authorize", "token_endpoint": iss + "/token", "jwks_uri": iss + "/jwks",
		}
	}
	cases := []struct {
		name      string
		change    map[string]string
		allowHTTP bool
		want      string // error substring; empty = ok
	}{
		{"https endpoints", nil, false, ""},
		{"http token endpoint, non-loopback", map[string]string{"token_endpoint": "http://idp.example/token"}, false, "token_endpoint"},
		{"http jwks_uri, non-loopback", map[string]string{"jwks_uri": "http://idp.example/jwks"}, false, "jwks_uri"},
		{"http end_session_endpoint, non-loopback", map[string]string{"end_session_endpoint": "http://idp.example/logout"}, false, "end_session_endpoint"},
		{"http revocation_endpoint, non-loopback", map[string]string{"revocation_endpoint": "http://idp.example/revoke"}, false, "revocation_endpoint"},
		{"http endpoint with allowInsecureIssuer", map[string]string{"token_endpoint": "http://idp.example/token"}, true, ""},
		{"http loopback endpoint", map[string]string{"token_endpoint": "http://127.0.0.1:8080/token"}, false, ""},
		{"http localhost endpoint", map[string]string{"jwks_uri": "http://localhost/jwks"}, false, ""},
		{"relative endpoint", map[string]string{"authorization_endpoint": "/authorize"}, false, "authorization_endpoint"},
		{"javascript endpoint", map[string]string{"authorization_endpoint": "javascript:alert(1)"}, true, "authorization_endpoint"},
		{"missing jwks_uri", map[string]string{"jwks_uri": ""}, false, "jwks_uri missing"},
		{"missing token_endpoint", map[string]string{"token_endpoint": ""}, false, "token_endpoint missing"},
		{"issuer mismatch", map[string]string{"issuer": "https://idp.example/other"}, false, "issuer mismatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := base()
			for k, v := range tc.change {
				doc[k] = v
			}
			body := jsonBytes(t, doc)
			md, err := parseMetadata(body, iss, tc.allowHTTP)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if md.TokenEndpoint != doc["token_endpoint"] {
					t.Errorf("token_endpoint %q", md.TokenEndpoint)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want error containing %q", tc.want)
			}
			mustContain(t, "error", err.Error(), tc.want)
		})
	}
	if _, err := parseMetadata([]byte("<html>"), iss, false); err == nil {
		t.Error("HTML accepted as discovery document")
	}
}

func jsonBytes(t *testing.T, v map[string]string) []byte {
	t.Helper()
	var b strings.Builder
	b.WriteString("{")
	first := true
	for k, val := range v {
		if val == "" {
			continue
		}
		if !first {
			b.WriteString(",")
		}
		first = false
		b.WriteString(`"` + k + `":"` + val + `"`)
	}
	b.WriteString("}")
	return []byte(b.String())
}

// A provider whose discovery names an http endpoint on a non-loopback host is rejected as a whole.
func TestProviderRejectsHTTPEndpointFromFake(t *testing.T) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) {
		f.mutateDisc = func(d map[string]any) { d["token_endpoint"] = "http://idp.example/token" }
	})
	m, _ := newMW(t, f, f.config())
	if _, err := m.p.metadata(context.Background()); err == nil || !strings.Contains(err.Error(), "token_endpoint") {
		t.Errorf("err = %v", err)
	}
}

func TestProviderBackoffAndRecovery(t *testing.T) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.down = true })
	m, _ := newMW(t, f, f.config())
	ctx := context.Background()

	if _, err := m.p.metadata(ctx); !errors.Is(err, errProviderUnavailable) {
		t.Fatalf("provider down: err = %v", err)
	}
	if n := f.discoveryHits.Load(); n != 1 {
		t.Fatalf("discovery hits = %d", n)
	}
	// During the backoff callers fail fast, without contacting the provider.
	start := time.Now()
	for i := 0; i < 20; i++ {
		if _, err := m.p.metadata(ctx); !errors.Is(err, errProviderUnavailable) {
			t.Fatalf("during backoff: err = %v", err)
		}
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("20 calls during backoff took %v", d)
	}
	if n := f.discoveryHits.Load(); n != 1 {
		t.Errorf("discovery hits during backoff = %d, want 1", n)
	}
	if ra := m.p.retryAfter(); ra < time.Second || ra > maxBackoff {
		t.Errorf("retryAfter = %v", ra)
	}

	// The provider comes back, but the backoff (1s after one failure) still holds until the clock moves.
	f.set(func(f *fakeIdP) { f.down = false })
	if _, err := m.p.metadata(ctx); err == nil {
		t.Error("recovered inside the backoff window")
	}
	f.clock.Advance(1100 * time.Millisecond)
	md, err := m.p.metadata(ctx)
	if err != nil {
		t.Fatalf("after the backoff: %v", err)
	}
	if md.TokenEndpoint != f.url("/token") {
		t.Errorf("token endpoint %q", md.TokenEndpoint)
	}
	if n := f.discoveryHits.Load(); n != 2 {
		t.Errorf("discovery hits = %d, want 2", n)
	}
}

func TestProviderBackoffGrows(t *testing.T) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.down = true })
	m, _ := newMW(t, f, f.config())
	ctx := context.Background()
	want := int64(0)
	for _, backoff := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, maxBackoff, maxBackoff} {
		_, _ = m.p.metadata(ctx)
		want++
		if n := f.discoveryHits.Load(); n != want {
			t.Fatalf("hits = %d, want %d", n, want)
		}
		f.clock.Advance(backoff - 100*time.Millisecond)
		_, _ = m.p.metadata(ctx)
		if n := f.discoveryHits.Load(); n != want {
			t.Fatalf("retried before the %v backoff ended", backoff)
		}
		f.clock.Advance(100 * time.Millisecond)
	}
}

// waitBlocked waits until n requests are blocked at the fake, or fails.
func waitBlocked(t *testing.T, f *fakeIdP, n int) {
	t.Helper()
	f.mu.Lock()
	ch := f.blocked
	f.mu.Unlock()
	for i := 0; i < n; i++ {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d request(s) reached the provider", i)
		}
	}
}

// runConcurrently starts n callers, waits until the first reaches the provider and the others have had time to pile
// up behind it, then releases the provider and waits for all.
func runConcurrently(t *testing.T, f *fakeIdP, n int, call func()) {
	t.Helper()
	release := f.hold()
	var started sync.WaitGroup
	var done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer done.Done()
			started.Done()
			call()
		}()
	}
	started.Wait()
	waitBlocked(t, f, 1)
	time.Sleep(50 * time.Millisecond) // without deduplication, more requests would reach the provider now
	release()
	done.Wait()
}

func TestProviderConcurrentCallersShareOneFetch(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	ctx := context.Background()

	var mu sync.Mutex
	seen := map[*metadata]bool{}
	runConcurrently(t, f, 20, func() {
		md, err := m.p.metadata(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		seen[md] = true
		mu.Unlock()
	})
	if n := f.discoveryHits.Load(); n != 1 {
		t.Errorf("20 concurrent callers: %d discovery fetches", n)
	}
	if len(seen) != 1 {
		t.Errorf("callers got %d different documents", len(seen))
	}

	runConcurrently(t, f, 20, func() {
		if _, err := m.p.keys(ctx, true); err != nil {
			t.Error(err)
		}
	})
	if n := f.jwksHits.Load(); n != 1 {
		t.Errorf("20 concurrent forced JWKS refreshes: %d fetches", n)
	}

	// Failures are shared too.
	g := newFakeIdP(t)
	g.set(func(f *fakeIdP) { f.down = true })
	m2, _ := newMW(t, g, g.config())
	var failures atomic.Int64
	runConcurrently(t, g, 20, func() {
		if _, err := m2.p.metadata(ctx); errors.Is(err, errProviderUnavailable) {
			failures.Add(1)
		}
	})
	if n := g.discoveryHits.Load(); n != 1 || failures.Load() != 20 {
		t.Errorf("failing provider: %d fetches, %d failures", n, failures.Load())
	}
}

func TestProviderFailedJWKSRefreshKeepsOldKeys(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	ctx := context.Background()
	if _, err := m.p.keys(ctx, false); err != nil {
		t.Fatal(err)
	}
	f.set(func(f *fakeIdP) { f.jwksStatus = http.StatusInternalServerError })
	f.clock.Advance(jwksTTL + time.Minute) // the cached set is stale now

	ks, err := m.p.keys(ctx, false)
	if err != nil {
		t.Fatalf("stale keys with a failing refresh: %v", err)
	}
	if _, ok := ks.find("k1", "RS256"); !ok {
		t.Error("old key lost")
	}
	if n := f.jwksHits.Load(); n != 2 {
		t.Errorf("JWKS hits = %d, want 2 (one failed refresh)", n)
	}
	// Tokens signed with the old key still verify (ID token exp relative to the advanced clock).
	if _, err := m.idTokens.verify(ctx, f.mint(f.idClaims("")), ""); err != nil {
		t.Errorf("verify with old keys: %v", err)
	}
	// A forced refresh during the backoff keeps the old keys without a fetch.
	if _, err := m.p.keys(ctx, true); err != nil {
		t.Errorf("forced refresh in backoff: %v", err)
	}
	if n := f.jwksHits.Load(); n != 2 {
		t.Errorf("JWKS hits = %d, want 2", n)
	}
	// The provider recovers with a new key: the next refresh after the backoff picks it up.
	k2 := newTestKey(t, "EdDSA", "k2", 0)
	f.set(func(f *fakeIdP) { f.jwksStatus, f.keys = 0, append(f.keys, k2) })
	f.clock.Advance(2 * time.Second)
	ks, err = m.p.keys(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ks.find("k2", "EdDSA"); !ok {
		t.Error("new key not picked up after recovery")
	}
}

func TestProviderRejectsBadResponses(t *testing.T) {
	huge := []byte(`{"issuer":"` + strings.Repeat("a", 10<<20) + `"}`)
	cases := []struct {
		name   string
		setup  func(f *fakeIdP)
		jwks   bool // the failure is in the JWKS, not discovery
		want   string
		target string
	}{
		{"10 MB discovery", func(f *fakeIdP) { f.discBody = huge }, false, "larger than", ""},
		{"10 MB JWKS", func(f *fakeIdP) { f.jwksBody = huge }, true, "larger than", ""},
		{"discovery 404", func(f *fakeIdP) { f.discStatus = http.StatusNotFound }, false, "status 404", ""},
		{"discovery 201 with a valid body", func(f *fakeIdP) { f.discStatus = http.StatusCreated }, false, "status 201", ""},
		{"JWKS 500", func(f *fakeIdP) { f.jwksStatus = http.StatusInternalServerError }, true, "status 500", ""},
		{"discovery redirect is not followed", func(f *fakeIdP) { f.redirectDisc = f.url("/elsewhere") }, false, "status 302", ""},
		{"JWKS not JSON", func(f *fakeIdP) { f.jwksBody = []byte("<html>") }, true, "invalid JSON", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIdP(t)
			f.set(tc.setup)
			m, _ := newMW(t, f, f.config())
			var err error
			if tc.jwks {
				_, err = m.p.keys(context.Background(), false)
			} else {
				_, err = m.p.metadata(context.Background())
			}
			if !errors.Is(err, errProviderUnavailable) {
				t.Fatalf("err = %v, want errProviderUnavailable", err)
			}
			mustContain(t, "error", err.Error(), tc.want)
		})
	}
}

func TestNewHTTPClientDoesNotFollowRedirects(t *testing.T) {
	var targetHits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { targetHits.Add(1) }))
	defer target.Close()
	redirector := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	defer redirector.Close()
	client, _, err := newHTTPClient("", false)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(redirector.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || targetHits.Load() != 0 {
		t.Errorf("status %d, redirect target hit %d times", resp.StatusCode, targetHits.Load())
	}
}

// caFile makes the client trust a private CA; without it (or insecureSkipVerify) a TLS provider is refused.
func TestProviderCAFile(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jsonBytes(t, map[string]string{
			"issuer": srv.URL, "authorization_endpoint": srv.URL + "/a", "token_endpoint": srv.URL + "/t", "jwks_uri": srv.URL + "/j",
		}))
	}))
	defer srv.Close()
	defer forgetProvider(srv.URL)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		ca       string
		insecure bool
		ok       bool
	}{
		{"system roots only", "", false, false},
		{"caFile", caFile, false, true},
		{"insecureSkipVerify", "", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := baseConfig()
			c.Issuer, c.CAFile, c.InsecureSkipVerify = srv.URL, tc.ca, tc.insecure
			h, err := New(context.Background(), http.NotFoundHandler(), c, "tls")
			if err != nil {
				t.Fatal(err)
			}
			_, err = h.(*Middleware).p.metadata(context.Background())
			if (err == nil) != tc.ok {
				t.Errorf("metadata: err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// Every middleware instance (one per router, again on each reload) shares the provider cache of its issuer.
func TestProviderSharedAcrossInstances(t *testing.T) {
	f := newFakeIdP(t)
	m1, _ := newMW(t, f, f.config())
	m2, _ := newMW(t, f, f.config())
	if m1.p != m2.p {
		t.Fatal("two instances for one issuer have separate provider caches")
	}
	for _, m := range []*Middleware{m1, m2, m1} {
		if _, err := m.p.keys(context.Background(), false); err != nil {
			t.Fatal(err)
		}
	}
	if f.discoveryHits.Load() != 1 || f.jwksHits.Load() != 1 {
		t.Errorf("discovery %d, JWKS %d fetches for two instances", f.discoveryHits.Load(), f.jwksHits.Load())
	}
	other := f.config()
	other.CAFile = ""
	other.InsecureSkipVerify = true
	m3, _ := newMW(t, f, other)
	if m3.p == m1.p {
		t.Error("a different transport shares the provider (and its HTTP client)")
	}
}
