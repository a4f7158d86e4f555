package descopeoidc

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Prometheus metrics (text exposition format 0.0.4), process-wide: every middleware instance counts into the
// metric set of its middleware name, and any instance with metricsPath serves all of them.
//
// A metric set is made once per middleware name and kept for the life of the process: Traefik calls New for every
// router and on every reload, and each call gets the same set, so reloads neither duplicate nor reset series. The
// sets are bounded (maxMetricSets names; later ones count under "_other"), every label value but the middleware name
// is a constant of this file (never a user, a path or a token), and nothing runs in the background: the cache sizes
// are read when Prometheus scrapes.
//
// Counting costs one atomic add on a counter resolved in New (count). The fast paths (sessionHit, bearerHit) count
// nothing: what is counted are outcomes (a sign-in, a refresh, a verification, a denial), which happen off them.

// Metric families, in exposition order.
const (
	famBuildInfo = iota
	famSigninsStarted
	famSigninsCompleted
	famSigninsFailed
	famRefreshes
	famBearer
	famDS
	famDenials
	famStepUp
	famLogouts
	famCacheEntries
	famCacheBytes
	famCacheEvictions
	famProviderRequests
	famProviderDuration
	nFamilies
)

type metricFamily struct {
	name, typ, help string
}

var metricFamilies = []metricFamily{
	{"descopeoidc_build_info", "gauge", "The plugin's version (value 1)."},
	{"descopeoidc_signins_started_total", "counter", "Logins started (redirects to the provider)."},
	{"descopeoidc_signins_completed_total", "counter", "Logins completed (a session was issued at the callback)."},
	{"descopeoidc_signins_failed_total", "counter", "Logins that failed at the callback, by reason."},
	{"descopeoidc_refreshes_total", "counter", "Session refreshes with the refresh token, by outcome."},
	{"descopeoidc_bearer_verifications_total", "counter", "Bearer tokens verified (first sight, not cache hits), by outcome."},
	{"descopeoidc_ds_verifications_total", "counter", "Descope session cookies (descopeSessionCookie) verified (first sight), by outcome."},
	{"descopeoidc_denials_total", "counter", "Requests denied with 403 by an authorization rule, by rule kind."},
	{"descopeoidc_stepup_challenges_total", "counter", "Requests asked for a stronger or more recent sign-in, by reason."},
	{"descopeoidc_logouts_total", "counter", "Sessions ended by a logout, by kind."},
	{"descopeoidc_cache_entries", "gauge", "Entries in the middleware's caches (the most recently built instance of the name)."},
	{"descopeoidc_cache_bytes", "gauge", "Memory the middleware's caches hold, as they estimate it against cacheMemory (the most recently built instance of the name)."},
	{"descopeoidc_cache_evictions_total", "counter", "Entries dropped from a full cache to make room, by cache."},
	{"descopeoidc_provider_requests_total", "counter", "HTTP requests to the identity provider, by endpoint and outcome (all middlewares)."},
	{"descopeoidc_provider_request_duration_seconds", "histogram", "Time to the provider's response headers, by endpoint (all middlewares)."},
}

// Counters of a metric set (one per middleware name), indexes into metricSet.v.
const (
	mSigninStarted = iota
	mSigninCompleted
	mSigninFailedProviderError
	mSigninFailedBadCallback
	mSigninFailedState
	mSigninFailedReplay
	mSigninFailedCodeRefused
	mSigninFailedRejected
	mSigninFailedUnavailable
	mSigninFailedInternal
	mRefreshOK
	mRefreshRefused
	mRefreshUnavailable
	mBearerOK
	mBearerRejected
	mBearerUnavailable
	mDSOK
	mDSRejected
	mDSUnavailable
	mDeniedRoles
	mDeniedPermissions
	mDeniedTenant
	mDeniedClaim
	mStepUpACR
	mStepUpMaxAge
	mLogoutLocal
	mLogoutBackchannel
	mLogoutFrontchannel
	mEvictSessions
	mEvictBearers
	mEvictDS
	mEvictInactive
	nCounters
)

// metricCounters gives each counter its family and its labels besides middleware; TestMetricCountersTable keeps it
// in step with the constants above.
var metricCounters = []struct {
	fam    int
	labels string
}{
	{famSigninsStarted, ""}, {famSigninsCompleted, ""},
	{famSigninsFailed, `reason="provider_error"`}, {famSigninsFailed, `reason="bad_callback"`},
	{famSigninsFailed, `reason="state"`}, {famSigninsFailed, `reason="replay"`},
	{famSigninsFailed, `reason="code_refused"`}, {famSigninsFailed, `reason="rejected"`},
	{famSigninsFailed, `reason="unavailable"`}, {famSigninsFailed, `reason="internal"`},
	{famRefreshes, `outcome="ok"`}, {famRefreshes, `outcome="refused"`}, {famRefreshes, `outcome="unavailable"`},
	{famBearer, `outcome="ok"`}, {famBearer, `outcome="rejected"`}, {famBearer, `outcome="unavailable"`},
	{famDS, `outcome="ok"`}, {famDS, `outcome="rejected"`}, {famDS, `outcome="unavailable"`},
	{famDenials, `rule="roles"`}, {famDenials, `rule="permissions"`}, {famDenials, `rule="tenant"`},
	{famDenials, `rule="claim"`},
	{famStepUp, `reason="acr_amr"`}, {famStepUp, `reason="max_auth_age"`},
	{famLogouts, `kind="local"`}, {famLogouts, `kind="backchannel"`}, {famLogouts, `kind="frontchannel"`},
	{famCacheEvictions, `cache="sessions"`}, {famCacheEvictions, `cache="bearer_tokens"`},
	{famCacheEvictions, `cache="ds_tokens"`}, {famCacheEvictions, `cache="inactive_tokens"`},
}

// cacheNames label the caches of metricSet.sizes, in the order of the mEvict counters.
var cacheNames = []string{"sessions", "bearer_tokens", "ds_tokens", "inactive_tokens"}

// metricSet is the counters of one middleware name, and the caches of its most recently built instance.
type metricSet struct {
	label string   // middleware="<name>", escaped
	v     []uint64 // nCounters, atomic
	// sizes[i] reads the size of cache i (cacheNames) of the name's newest instance, in entries, or in estimated bytes
	// when asked for bytes; nil when it has none. Functions,
	// not the caches: with a []*entryCache field here Yaegi v0.16.1 mixed up entry and entryCache (recursive through
	// replacement) and a refresh panicked with "reflect.Set: value of type *entry is not assignable to type
	// *entryCache" (TestRefreshSharedByTwoRouters/yaegi); as []any, the type assertion back failed under Traefik.
	sizes []func(bytes bool) int64
}

// maxMetricSets bounds the middleware names with a set of their own; more names share the set "_other".
const maxMetricSets = 256

var metricSets = struct {
	sync.Mutex
	m     map[string]*metricSet
	names []string // sorted
}{m: map[string]*metricSet{}}

// metricsFor returns the metric set of a middleware name, made on first use and the same ever after.
func metricsFor(name string) *metricSet {
	metricSets.Lock()
	defer metricSets.Unlock()
	if ms := metricSets.m[name]; ms != nil {
		return ms
	}
	if len(metricSets.m) >= maxMetricSets {
		name = "_other"
		if ms := metricSets.m[name]; ms != nil {
			return ms
		}
	}
	ms := &metricSet{label: `middleware="` + labelEscaper.Replace(name) + `"`, v: make([]uint64, nCounters),
		sizes: make([]func(bool) int64, len(cacheNames))}
	metricSets.m[name] = ms
	metricSets.names = append(metricSets.names, name)
	sort.Strings(metricSets.names)
	return ms
}

// watchCaches makes m's caches the ones ms reports (a later instance of the name replaces an earlier one's), and
// has them count their evictions into ms (a session cache shared by instances of several names counts into the
// name built last).
func watchCaches(ms *metricSet, m *Middleware) {
	cs := []*entryCache{m.sessions, m.bearers, m.dsTokens, m.inactive}
	for i, c := range cs {
		if c != nil {
			c.mu.Lock() // a shared cache may be evicting for another instance right now
			c.evictions = &ms.v[mEvictSessions+i]
			c.mu.Unlock()
		}
	}
	metricSets.Lock()
	for i, c := range cs {
		var size func(bool) int64 // a typed local first: see YAEGI.md on storing what a function returns
		if c != nil {
			size = cacheSize(c)
		}
		ms.sizes[i] = size
	}
	metricSets.Unlock()
}

// cacheSize returns a function that reads how many entries c holds, or the bytes it estimates they hold.
func cacheSize(c *entryCache) func(bool) int64 {
	return func(bytes bool) int64 {
		c.mu.RLock()
		n := int64(len(c.m))
		if bytes {
			n = c.bytes
		}
		c.mu.RUnlock()
		return n
	}
}

// count adds one to counter i of ms (nil: not counted). One atomic add: call sites stay one line.
func count(ms *metricSet, i int) {
	if ms != nil {
		atomic.AddUint64(&ms.v[i], 1)
	}
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// denialRule is the rule kind of an authorization failure (the reason authzRules.check gave), for
// descopeoidc_denials_total.
func denialRule(reason string) int {
	switch {
	case strings.HasPrefix(reason, "required roles"):
		return mDeniedRoles
	case strings.HasPrefix(reason, "required permissions"):
		return mDeniedPermissions
	case strings.Contains(reason, "tenant"):
		return mDeniedTenant
	}
	return mDeniedClaim
}

// stepUpCounter is the step-up challenge counter for a challenge because the authentication is too old (maxAuthAge)
// or, when not, because it is not strong enough.
func stepUpCounter(tooOld bool) int {
	if tooOld {
		return mStepUpMaxAge
	}
	return mStepUpACR
}

// Provider requests are counted process-wide: discovery and the JWKS are shared by every middleware of an issuer.
const (
	epDiscovery = iota
	epJWKS
	epToken
	epUserinfo
	epIntrospection
	epRevocation
	nEndpoints
)

var endpointNames = []string{"discovery", "jwks", "token", "userinfo", "introspection", "revocation"}

const (
	outOK          = iota // 2xx
	outRefused            // 4xx
	outError              // any other status
	outUnreachable        // no response (connection, TLS, timeout)
	nOutcomes
)

var outcomeNames = []string{"ok", "refused", "error", "unreachable"}

// durationBuckets are the histogram's upper bounds in seconds (httpTimeout is 10s); durationBounds the same.
var (
	durationBuckets = []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"}
	durationBounds  = []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
		50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
		2500 * time.Millisecond, 5 * time.Second, 10 * time.Second}
)

var providerMetrics = struct {
	requests []uint64 // endpoint*nOutcomes + outcome
	buckets  []uint64 // endpoint*(len(durationBounds)+1) + bucket, not cumulative; the last one is +Inf
	nanos    []uint64 // endpoint: the sum of the durations
}{
	requests: make([]uint64, nEndpoints*nOutcomes),
	buckets:  make([]uint64, nEndpoints*(len(durationBounds)+1)),
	nanos:    make([]uint64, nEndpoints),
}

// providerDo sends a request to the provider's endpoint ep and counts it with its outcome and duration.
func providerDo(client *http.Client, req *http.Request, ep int) (*http.Response, error) {
	start := time.Now()
	resp, err := client.Do(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	observeProvider(ep, status, time.Since(start))
	return resp, err
}

// observeProvider counts a provider request (status 0: no response).
func observeProvider(ep, status int, d time.Duration) {
	out := outError
	switch {
	case status == 0:
		out = outUnreachable
	case status >= 200 && status < 300:
		out = outOK
	case status >= 400 && status < 500:
		out = outRefused
	}
	atomic.AddUint64(&providerMetrics.requests[ep*nOutcomes+out], 1)
	b := len(durationBounds)
	for i := 0; i < len(durationBounds); i++ {
		if d <= durationBounds[i] {
			b = i
			break
		}
	}
	atomic.AddUint64(&providerMetrics.buckets[ep*(len(durationBounds)+1)+b], 1)
	if d > 0 {
		atomic.AddUint64(&providerMetrics.nanos[ep], uint64(d))
	}
}

// writeMetrics renders every metric set and the provider metrics in the text exposition format 0.0.4.
func writeMetrics(b *strings.Builder) {
	metricSets.Lock()
	defer metricSets.Unlock()
	sets := make([]*metricSet, 0, len(metricSets.names))
	for _, name := range metricSets.names {
		sets = append(sets, metricSets.m[name])
	}
	for fam := 0; fam < nFamilies; fam++ {
		f := metricFamilies[fam]
		b.WriteString("# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.typ + "\n")
		switch fam {
		case famBuildInfo:
			b.WriteString(f.name + `{version="` + labelEscaper.Replace(version) + "\"} 1\n")
		case famCacheEntries, famCacheBytes:
			writeCacheSizes(b, f.name, sets, fam == famCacheBytes)
		case famProviderRequests:
			writeProviderRequests(b, f.name)
		case famProviderDuration:
			writeProviderDurations(b, f.name)
		default:
			writeCounters(b, fam, f.name, sets)
		}
	}
}

func writeCounters(b *strings.Builder, fam int, name string, sets []*metricSet) {
	for _, ms := range sets {
		for i := 0; i < nCounters; i++ {
			c := metricCounters[i]
			if c.fam != fam {
				continue
			}
			labels := ms.label
			if c.labels != "" {
				labels += "," + c.labels
			}
			b.WriteString(name + "{" + labels + "} " + strconv.FormatUint(atomic.LoadUint64(&ms.v[i]), 10) + "\n")
		}
	}
}

func writeCacheSizes(b *strings.Builder, name string, sets []*metricSet, bytes bool) {
	for _, ms := range sets {
		for i, size := range ms.sizes {
			if size == nil {
				continue
			}
			n := size(bytes)
			b.WriteString(name + "{" + ms.label + `,cache="` + cacheNames[i] + `"} ` + strconv.FormatInt(n, 10) + "\n")
		}
	}
}

func writeProviderRequests(b *strings.Builder, name string) {
	for ep := 0; ep < nEndpoints; ep++ {
		for out := 0; out < nOutcomes; out++ {
			n := atomic.LoadUint64(&providerMetrics.requests[ep*nOutcomes+out])
			b.WriteString(name + `{endpoint="` + endpointNames[ep] + `",outcome="` + outcomeNames[out] + `"} ` +
				strconv.FormatUint(n, 10) + "\n")
		}
	}
}

func writeProviderDurations(b *strings.Builder, name string) {
	nb := len(durationBounds) + 1
	for ep := 0; ep < nEndpoints; ep++ {
		cum := uint64(0)
		for i := 0; i < nb; i++ {
			cum += atomic.LoadUint64(&providerMetrics.buckets[ep*nb+i])
			le := "+Inf"
			if i < len(durationBuckets) {
				le = durationBuckets[i]
			}
			b.WriteString(name + `_bucket{endpoint="` + endpointNames[ep] + `",le="` + le + `"} ` + strconv.FormatUint(cum, 10) + "\n")
		}
		secs := float64(atomic.LoadUint64(&providerMetrics.nanos[ep])) / 1e9
		b.WriteString(name + `_sum{endpoint="` + endpointNames[ep] + `"} ` + strconv.FormatFloat(secs, 'g', -1, 64) + "\n")
		b.WriteString(name + `_count{endpoint="` + endpointNames[ep] + `"} ` + strconv.FormatUint(cum, 10) + "\n")
	}
}

// Serving: metricsPath (opt-in) answers the exposition to clients in metricsSourceRange (default loopback only).

var defaultMetricsSources = []string{"127.0.0.0/8", "::1/128"}

func deriveMetrics(c *Config, s *settings) error {
	if c.MetricsPath == "" {
		if len(nonEmpty(c.MetricsSourceRange)) != 0 {
			return errors.New("metricsSourceRange: only with metricsPath")
		}
		return nil
	}
	if err := validPath("metricsPath", c.MetricsPath); err != nil {
		return err
	}
	if s.ownPaths[c.MetricsPath] { // deriveLoginEntry ran before
		return fmt.Errorf("metricsPath: %q must differ from callbackPath, logoutPath and loginPath", c.MetricsPath)
	}
	ranges := nonEmpty(c.MetricsSourceRange)
	if len(ranges) == 0 {
		ranges = defaultMetricsSources
	}
	for _, r := range ranges {
		cidr := r
		if !strings.Contains(r, "/") {
			cidr += "/128"
			if ip := net.ParseIP(r); ip != nil && ip.To4() != nil {
				cidr = r + "/32"
			}
		}
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			return fmt.Errorf("metricsSourceRange: %q is not an IP address or CIDR range", r)
		}
		s.metricsSources = append(s.metricsSources, n)
	}
	s.metricsPath = c.MetricsPath
	s.ownPaths[s.metricsPath] = true
	return nil
}

// metricsClientAllowed reports whether the request's peer (RemoteAddr: the address Traefik accepted the connection
// from, never a forwarded header) is in metricsSourceRange.
func metricsClientAllowed(r *http.Request, sources []*net.IPNet) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	for _, n := range sources {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// serveMetrics answers metricsPath.
func (m *Middleware) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if !metricsClientAllowed(r, m.s.metricsSources) {
		m.logf(levelInfo, "metrics refused: client not in metricsSourceRange")
		writeJSONError(w, http.StatusForbidden, "forbidden")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	var b strings.Builder
	writeMetrics(&b)
	h := w.Header()
	h.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write([]byte(b.String()))
	}
}
