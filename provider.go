package descopeoidc

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
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
	metadataTTL     = time.Hour
	jwksTTL         = time.Hour
	maxBackoff      = 10 * time.Second
	maxResponseSize = 1 << 20
	httpTimeout     = 10 * time.Second
	refetchInterval = 5 * time.Second // at most one forced refetch (unknown kid or alg) per provider per interval
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
	IntrospectionEndpoint string   `json:"introspection_endpoint"` // opaque bearer tokens: introspect.go
	IDTokenAlgs           []string `json:"id_token_signing_alg_values_supported"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
	// IssParameter: the provider adds iss to authorization responses (RFC 9207), so a callback must carry it.
	IssParameter bool `json:"authorization_response_iss_parameter_supported"`
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
	lastErr   string // the last fetch's error (a string: an error value in an interpreted struct field is fragile under Yaegi)
	inflight  *flight
}

type provider struct {
	issuer      string
	client      *http.Client
	fingerprint string // SHA-256 of the caFile content the client trusts ("" without caFile)
	allowHTTP   bool
	now         func() time.Time

	mu          sync.Mutex
	meta        cached
	jwks        cached
	refreshing  *flight   // the forced refetch running now (refreshKeys)
	refreshedAt time.Time // when the last forced refetch started
}

var providers = struct {
	sync.Mutex
	m map[string]*provider
}{m: map[string]*provider{}}

// getProvider returns the shared provider for this issuer and transport settings; it does no I/O. fingerprint
// identifies the CA bundle's content: when a reload brings a caFile with other content (a rotated CA), the new
// instance gets a new provider with its own HTTP client, instead of the first instance's client forever.
func getProvider(issuer, transportKey, fingerprint string, client *http.Client, allowHTTP bool) *provider {
	key := issuer + "|" + transportKey
	providers.Lock()
	defer providers.Unlock()
	p := providers.m[key]
	if p == nil || p.fingerprint != fingerprint {
		p = &provider{issuer: issuer, client: client, fingerprint: fingerprint, allowHTTP: allowHTTP, now: time.Now}
		providers.m[key] = p // an older instance keeps its own provider until Traefik drops it
	}
	return p
}

// get returns the cached value, fetching it when missing or stale. A failed refresh keeps a stale value. It takes no
// fetch function: under Yaegi a method value or a closure passed along is wrapped with reflect on every evaluation, and
// the wrapper's first concurrent build races on the interpreter's type cache (seen under -race on the hot path).
func (p *provider) get(ctx context.Context, c *cached, ttl time.Duration, force bool) (*document, error) {
	p.mu.Lock()
	now := p.now()
	if c.value != nil && !force && now.Sub(c.fetchedAt) < ttl {
		v := c.value
		p.mu.Unlock()
		return v, nil
	}
	if c.inflight == nil && now.Before(c.retryAt) {
		v, last := c.value, c.lastErr
		p.mu.Unlock()
		if v != nil {
			return v, nil
		}
		return nil, fmt.Errorf("%w: %s", errProviderUnavailable, last) // the cause, until the next attempt
	}
	f := c.inflight
	leader := f == nil
	if leader {
		f = &flight{done: make(chan struct{})}
		c.inflight = f
	}
	p.mu.Unlock()
	if leader {
		p.lead(c, f)
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
func (p *provider) lead(c *cached, f *flight) {
	ctx, cancel := context.WithTimeout(context.Background(), httpTimeout)
	var v *document
	var err error
	if c == &p.meta {
		v, err = p.fetchMetadata(ctx)
	} else {
		v, err = p.fetchKeys(ctx)
	}
	cancel()
	p.mu.Lock()
	now := p.now()
	if err == nil {
		c.value = v // not in a tuple assignment: an `any` from an `any` there panics under Yaegi (reflect.Set)
		c.fetchedAt, c.failures, c.retryAt, c.lastErr = now, 0, time.Time{}, ""
	} else {
		c.lastErr = err.Error()
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
	v, err := p.get(ctx, &p.meta, metadataTTL, false)
	if err != nil {
		return nil, err
	}
	return v.meta, nil
}

func (p *provider) fetchMetadata(ctx context.Context) (*document, error) {
	body, err := p.fetch(ctx, discoveryURL(p.issuer), epDiscovery)
	if err != nil {
		return nil, err
	}
	md, err := parseMetadata(body, p.issuer, p.allowHTTP)
	if err != nil {
		return nil, err
	}
	return &document{meta: md}, nil
}

// issuerMismatch says what to change: the configuration key and the value discovery published (OIDC Discovery 4.3
// wants them equal character for character; a trailing slash is the usual difference).
func issuerMismatch(configured, published string) error {
	hint := ""
	if strings.TrimSuffix(configured, "/") == strings.TrimSuffix(published, "/") {
		hint = " (they differ only by a trailing slash, which counts)"
	}
	return fmt.Errorf("discovery: issuer mismatch: the provider publishes issuer %q but the configuration says %q%s: set issuer: %q in the middleware's configuration (tokens carry the published value)",
		truncate(published, 256), configured, hint, truncate(published, 256))
}

// discoveryURL is the issuer without its trailing slash plus /.well-known/openid-configuration (OIDC Discovery 4).
func discoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// parseMetadata decodes a discovery document; its issuer must equal ours exactly (OIDC Discovery 4.3).
func parseMetadata(body []byte, issuer string, allowHTTP bool) (*metadata, error) {
	md := &metadata{}
	if err := json.Unmarshal(body, md); err != nil {
		return nil, fmt.Errorf("discovery: invalid JSON: %v", err)
	}
	if md.Issuer != issuer {
		return nil, issuerMismatch(issuer, md.Issuer)
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
		{"introspection_endpoint", md.IntrospectionEndpoint}, // gets bearer tokens and the client's credentials
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

// keys returns the provider's key set; force refetches it (used by refreshKeys, which rate-limits it).
func (p *provider) keys(ctx context.Context, force bool) (*keySet, error) {
	if _, err := p.metadata(ctx); err != nil {
		return nil, err
	}
	v, err := p.get(ctx, &p.jwks, jwksTTL, force)
	if err != nil {
		return nil, err
	}
	return v.keys, nil
}

// fetchKeys fetches the JWKS named by discovery (cached: keys has just made sure of it).
func (p *provider) fetchKeys(ctx context.Context) (*document, error) {
	md, err := p.metadata(ctx)
	if err != nil {
		return nil, err
	}
	body, err := p.fetch(ctx, md.JWKSURI, epJWKS)
	if err != nil {
		return nil, err
	}
	ks, err := parseJWKS(body)
	if err != nil {
		return nil, err
	}
	return &document{keys: ks}, nil
}

// verificationKey returns the key that verifies a token with this kid and alg: alg must be one the provider
// advertises (id_token_signing_alg_values_supported) and kid one of its JWKS. When either is unknown, discovery and
// the JWKS are refetched once (refreshKeys: deduplicated, and at most once per refetchInterval per provider) and the
// lookup is repeated: a provider's algorithm migration or key rotation is picked up within seconds, and a flood of
// made-up kids or algs costs at most two fetches per interval, never locking out a real new key.
func (p *provider) verificationKey(ctx context.Context, kid, alg string) (any, error) {
	key, retry, err := p.lookupKey(ctx, kid, alg)
	if err == nil || !retry {
		return key, err
	}
	if !p.refreshKeys(ctx) {
		return nil, err
	}
	key, _, err = p.lookupKey(ctx, kid, alg)
	if err != nil {
		return nil, fmt.Errorf("%w (after refetching discovery and the JWKS)", err)
	}
	return key, nil
}

// lookupKey finds the key in the cached documents; retry says whether refetching them could help (an unknown alg, or
// an unknown kid; not a token without kid, nor an outage).
func (p *provider) lookupKey(ctx context.Context, kid, alg string) (key any, retry bool, err error) {
	md, err := p.metadata(ctx)
	if err != nil {
		return nil, false, err
	}
	if !algAllowed(alg, md.IDTokenAlgs) {
		return nil, true, fmt.Errorf("algorithm %q not allowed (expected one of %q)", alg, allowedAlgs(md.IDTokenAlgs))
	}
	ks, err := p.keys(ctx, false)
	if err != nil {
		return nil, false, err
	}
	if k, ok := ks.find(kid, alg); ok {
		return k, false, nil
	}
	return nil, kid != "", fmt.Errorf("no key for kid %q and alg %q", kid, alg)
}

// refreshKeys refetches discovery and the JWKS, unless another caller is doing it (then it waits for that one) or
// the last forced refetch is less than refetchInterval ago (then it reports false). Both documents keep their stale
// values when the refetch fails.
func (p *provider) refreshKeys(ctx context.Context) bool {
	p.mu.Lock()
	if f := p.refreshing; f != nil {
		p.mu.Unlock()
		<-f.done // bounded by httpTimeout per document; a plain receive (see get)
		return true
	}
	now := p.now()
	if !p.refreshedAt.IsZero() && now.Sub(p.refreshedAt) < refetchInterval {
		p.mu.Unlock()
		return false
	}
	f := &flight{done: make(chan struct{})}
	p.refreshing, p.refreshedAt = f, now
	p.mu.Unlock()
	_, _ = p.get(ctx, &p.meta, metadataTTL, true)
	_, _ = p.keys(ctx, true)
	p.mu.Lock()
	p.refreshing = nil
	p.mu.Unlock()
	close(f.done)
	return true
}

// fetch GETs a provider document (endpoint ep, for the metrics) with a bounded size and a status check.
func (p *provider) fetch(ctx context.Context, u string, ep int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := providerDo(p.client, req, ep) // counted: metrics.go
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

// newHTTPClient builds the client for provider calls: timeouts, optional CA bundle, never following redirects. It
// also returns the SHA-256 (hex) of the CA bundle ("" without one).
func newHTTPClient(caFile string, insecure bool) (*http.Client, string, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // documented opt-in
	fingerprint := ""
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, "", fmt.Errorf("caFile: cannot read %q: %v", caFile, err)
		}
		sum := sha256.Sum256(pem)
		fingerprint = hex.EncodeToString(sum[:])
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, "", fmt.Errorf("caFile: %q holds no PEM certificate", caFile)
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
	return client, fingerprint, nil
}

func deriveTransport(c *Config, s *settings) error {
	client, fingerprint, err := newHTTPClient(c.CAFile, c.InsecureSkipVerify)
	if err != nil {
		return err
	}
	s.client, s.caFingerprint = client, fingerprint
	s.transportKey = fmt.Sprintf("%s|%t|%t", c.CAFile, c.InsecureSkipVerify, c.AllowInsecureIssuer)
	return nil
}
