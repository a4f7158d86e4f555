package descopeoidc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Provider metadata and keys are fetched lazily on the request path (never in New), cached at package level per
// issuer so that every middleware instance and every reload shares them, and refreshed without background goroutines.

const (
	metadataTTL     = 24 * time.Hour
	jwksTTL         = time.Hour
	maxBackoff      = 10 * time.Second
	maxResponseSize = 1 << 20
	httpTimeout     = 10 * time.Second
	refetchBurst    = 3                // unknown-kid refetches available at once
	refetchEvery    = 20 * time.Second // one more refetch token per period
)

var errProviderUnavailable = errors.New("identity provider unavailable")

// metadata is the subset of OpenID Provider Metadata the plugin uses.
type metadata struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	EndSessionEndpoint    string   `json:"end_session_endpoint"`
	RevocationEndpoint    string   `json:"revocation_endpoint"`
	IDTokenAlgs           []string `json:"id_token_signing_alg_values_supported"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
}

// flight deduplicates concurrent fetches: the first caller fetches, the others wait for done.
type flight struct {
	done chan struct{}
	err  error
}

// document is a fetched provider document: metadata or keys. (A concrete type, not `any`: under Yaegi, storing an
// interface value from a func result into an interpreted struct field panics.)
type document struct {
	meta *metadata
	keys *keySet
}

// cached is one lazily refreshed document with failure backoff.
type cached struct {
	value     *document
	fetchedAt time.Time
	retryAt   time.Time
	failures  int
	inflight  *flight
}

type provider struct {
	issuer    string
	client    *http.Client
	allowHTTP bool
	now       func() time.Time

	mu       sync.Mutex
	meta     cached
	jwks     cached
	tokens   float64 // refetch token bucket
	tokensAt time.Time
}

var providers = struct {
	sync.Mutex
	m map[string]*provider
}{m: map[string]*provider{}}

// getProvider returns the shared provider for this issuer and transport; it does no I/O.
func getProvider(issuer, transportKey string, client *http.Client, allowHTTP bool) *provider {
	key := issuer + "|" + transportKey
	providers.Lock()
	defer providers.Unlock()
	p := providers.m[key]
	if p == nil {
		p = &provider{issuer: issuer, client: client, allowHTTP: allowHTTP, now: time.Now, tokens: refetchBurst}
		providers.m[key] = p
	}
	return p
}

// get returns the cached value, fetching it when missing or stale. A failed refresh keeps a stale value.
func (p *provider) get(ctx context.Context, c *cached, ttl time.Duration, force bool, fetch func(context.Context) (*document, error)) (*document, error) {
	p.mu.Lock()
	now := p.now()
	if c.value != nil && !force && now.Sub(c.fetchedAt) < ttl {
		v := c.value
		p.mu.Unlock()
		return v, nil
	}
	if c.inflight == nil && now.Before(c.retryAt) {
		v := c.value
		p.mu.Unlock()
		if v != nil {
			return v, nil
		}
		return nil, errProviderUnavailable
	}
	f := c.inflight
	leader := f == nil
	if leader {
		f = &flight{done: make(chan struct{})}
		c.inflight = f
	}
	p.mu.Unlock()
	if leader {
		p.lead(c, f, fetch)
	}
	// A plain receive, not a select with ctx.Done(): Yaegi shares one select's case array between all goroutines
	// running it (data race; a waiter can end up on another request's channels). lead is bounded by httpTimeout.
	<-f.done
	p.mu.Lock()
	v := c.value
	p.mu.Unlock()
	if v == nil {
		return nil, fmt.Errorf("%w: %v", errProviderUnavailable, f.err)
	}
	return v, nil
}

// lead runs the fetch for a flight, detached from the request that happened to start it.
func (p *provider) lead(c *cached, f *flight, fetch func(context.Context) (*document, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), httpTimeout)
	v, err := fetch(ctx)
	cancel()
	p.mu.Lock()
	now := p.now()
	if err == nil {
		c.value = v // not in a tuple assignment: an `any` from an `any` there panics under Yaegi (reflect.Set)
		c.fetchedAt, c.failures, c.retryAt = now, 0, time.Time{}
	} else {
		c.failures++
		backoff := time.Second << uint(c.failures-1)
		if c.failures > 5 || backoff > maxBackoff {
			backoff = maxBackoff
		}
		c.retryAt = now.Add(backoff)
	}
	c.inflight = nil
	p.mu.Unlock()
	f.err = err
	close(f.done)
}

// retryAfter is how long until the next attempt, for a Retry-After header.
func (p *provider) retryAfter() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.meta.retryAt.Sub(p.now())
	if j := p.jwks.retryAt.Sub(p.now()); j > d {
		d = j
	}
	if d < time.Second {
		d = time.Second
	}
	return d
}

func (p *provider) metadata(ctx context.Context) (*metadata, error) {
	v, err := p.get(ctx, &p.meta, metadataTTL, false, p.fetchMetadata)
	if err != nil {
		return nil, err
	}
	return v.meta, nil
}

func (p *provider) fetchMetadata(ctx context.Context) (*document, error) {
	body, err := p.fetch(ctx, p.issuer+"/.well-known/openid-configuration")
	if err != nil {
		return nil, err
	}
	md, err := parseMetadata(body, p.issuer, p.allowHTTP)
	if err != nil {
		return nil, err
	}
	return &document{meta: md}, nil
}

func parseMetadata(body []byte, issuer string, allowHTTP bool) (*metadata, error) {
	md := &metadata{}
	if err := json.Unmarshal(body, md); err != nil {
		return nil, fmt.Errorf("discovery: invalid JSON: %v", err)
	}
	if strings.TrimSuffix(md.Issuer, "/") != issuer {
		return nil, fmt.Errorf("discovery: issuer mismatch: expected %q, got %q", issuer, md.Issuer)
	}
	required := []struct{ name, v string }{
		{"authorization_endpoint", md.AuthorizationEndpoint}, {"token_endpoint", md.TokenEndpoint}, {"jwks_uri", md.JWKSURI},
	}
	for _, f := range required {
		if f.v == "" {
			return nil, fmt.Errorf("discovery: %s missing", f.name)
		}
	}
	endpoints := []struct{ name, v string }{
		{"authorization_endpoint", md.AuthorizationEndpoint}, {"token_endpoint", md.TokenEndpoint},
		{"jwks_uri", md.JWKSURI}, {"end_session_endpoint", md.EndSessionEndpoint},
		{"revocation_endpoint", md.RevocationEndpoint}, {"userinfo_endpoint", md.UserinfoEndpoint}, // gets the access token
	}
	for _, f := range endpoints {
		if f.v == "" {
			continue
		}
		u, err := url.Parse(f.v)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && (allowHTTP || isLoopbackHost(u.Hostname())))) {
			return nil, fmt.Errorf("discovery: %s %q is not an https URL", f.name, f.v)
		}
	}
	return md, nil
}

// keys returns the provider's key set; force refetches it (used for an unknown kid, rate limited by the caller).
func (p *provider) keys(ctx context.Context, force bool) (*keySet, error) {
	md, err := p.metadata(ctx)
	if err != nil {
		return nil, err
	}
	fetch := func(ctx context.Context) (*document, error) {
		body, err := p.fetch(ctx, md.JWKSURI)
		if err != nil {
			return nil, err
		}
		ks, err := parseJWKS(body)
		if err != nil {
			return nil, err
		}
		return &document{keys: ks}, nil
	}
	v, err := p.get(ctx, &p.jwks, jwksTTL, force, fetch)
	if err != nil {
		return nil, err
	}
	return v.keys, nil
}

// takeRefetchToken reports whether an unknown kid may trigger a JWKS refetch now (a small token bucket), or returns
// the refetch already running, whose result the caller waits for. (Joining must not force a fetch of its own: a
// caller that arrives after the flight ended would start one without a token, and a flood would chain them.)
func (p *provider) takeRefetchToken() (bool, *flight) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.jwks.inflight != nil {
		return false, p.jwks.inflight
	}
	now := p.now()
	p.tokens += now.Sub(p.tokensAt).Seconds() / refetchEvery.Seconds()
	if p.tokens > refetchBurst {
		p.tokens = refetchBurst
	}
	p.tokensAt = now
	if p.tokens < 1 {
		return false, nil
	}
	p.tokens--
	return true, nil
}

// key finds the verification key for (kid, alg), refetching the JWKS once when the kid is unknown.
func (p *provider) key(ctx context.Context, kid, alg string) (any, error) {
	ks, err := p.keys(ctx, false)
	if err != nil {
		return nil, err
	}
	if k, ok := ks.find(kid, alg); ok {
		return k, nil
	}
	if kid == "" {
		return nil, fmt.Errorf("no key for kid %q and alg %s", kid, alg)
	}
	token, running := p.takeRefetchToken()
	if running != nil {
		<-running.done // bounded by httpTimeout; a plain receive (see get)
		ks, err = p.keys(ctx, false)
	} else if token {
		ks, err = p.keys(ctx, true)
	} else {
		return nil, fmt.Errorf("no key for kid %q and alg %s", kid, alg)
	}
	if err != nil {
		return nil, err
	}
	if k, ok := ks.find(kid, alg); ok {
		return k, nil
	}
	return nil, fmt.Errorf("no key for kid %q and alg %s after refetching the JWKS", kid, alg)
}

// fetch GETs a provider document with a bounded size and a status check.
func (p *provider) fetch(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", u, err)
	}
	if len(body) > maxResponseSize {
		return nil, fmt.Errorf("GET %s: response larger than %d bytes", u, maxResponseSize)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	return body, nil
}

// newHTTPClient builds the client for provider calls: timeouts, optional CA bundle, never following redirects.
func newHTTPClient(caFile string, insecure bool) (*http.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // documented opt-in
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("caFile: cannot read %q: %v", caFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("caFile: %q holds no PEM certificate", caFile)
		}
		tlsConfig.RootCAs = pool
	}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: httpTimeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	client := &http.Client{Timeout: httpTimeout}
	var rt http.RoundTripper = transport // assigned separately: a RoundTripper in the literal panics under Yaegi
	client.Transport = rt
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return client, nil
}

func deriveTransport(c *Config, s *settings) error {
	client, err := newHTTPClient(c.CAFile, c.InsecureSkipVerify)
	if err != nil {
		return err
	}
	s.client = client
	return nil
}
