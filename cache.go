package descopeoidc

import (
	"crypto/sha256"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// The hot path: a request with a valid session (or a bearer token seen before) costs one map lookup (keyed by the
// value itself, see cacheKey) and the header writes. Decryption, JSON decoding, header rendering and the authorization decision
// happen once per cookie value and are cached here until the session needs attention (refresh, expiry).

const (
	// maxCachedEntries bounds each entry cache by count, beyond its memory bound (cacheMemory): a cache of tiny entries
	// still visits at most this many when a logout scans it.
	maxCachedEntries = 1 << 20
	// defaultCacheMemory: bytes per cache of a configuration (cacheMemory: MiB), ~160,000 sessions of a user whose
	// headers forward sub (~820 bytes each, TestEntryBytesEstimate), ~75,000 with a Descope-sized refresh token
	defaultCacheMemory = 128 << 20
	maxUsedStates      = 10000
	never              = int64(1) << 62
)

// entry is an authenticated identity, immutable once cached (a change replaces the entry).
type entry struct {
	data   *sessionData // nil for bearer tokens
	names  []string     // upstream header names (withHeaders)…
	values []string     // … and their values
	auth   string       // the Authorization header to set upstream (forwardAccessToken), else ""
	denied string       // why authorization fails; empty when allowed
	// refreshAt (unix seconds): from then on the session leaves the fast path to be refreshed. Never later than the
	// tokens' expiry while the session can be refreshed; without a refresh token endAt is at most the expiry. So a
	// session whose tokens have expired is never served by the fast path.
	refreshAt int64
	endAt     int64 // unix seconds: no longer valid from then on
	seenAt    int64 // unix seconds: when to re-issue the cookie for the idle timeout; never when off
	retryAt   int64 // unix seconds: after a failed refresh, no new attempt before then
	// authDeadline (unix seconds): with maxAuthAge, when the authentication becomes too old (stepup.go); 0 otherwise
	authDeadline int64
	next         *replacement // set once a refresh or an idle re-issue replaced this session
	// claimsDue: the session was collected without claims this middleware reads (sealed before it was configured):
	// it is refreshed, and the request waits for it, before it is served (claims.go covers).
	claimsDue bool
	// hitUntil is derived from the fields above when the entry is cached (settle), as time since unixEpoch: before
	// then the fast paths (sessionHit, bearerHit) may serve it as it is. It folds five checks into one comparison,
	// which under Yaegi saves about a dozen allocations per request (BenchmarkYaegiOps CondFull vs CondOne).
	hitUntil time.Duration
}

// unixEpoch: m.since(unixEpoch) < e.hitUntil is now.Unix() < the first of refreshAt, endAt and seenAt (whole
// seconds: floor(ns/1e9) < s exactly when ns < s*1e9).
var unixEpoch = time.Unix(0, 0)

// settle derives e.hitUntil as e is cached: 0 (never served by a fast path) once replaced or when access is denied
// (forbidden, or a step-up is due), else the first of refreshAt, endAt and seenAt. Entries are immutable once cached,
// so a cached entry cached again (an evicted replacement) already holds the same value, and it is not written: the
// fast paths read it without the lock.
func settle(e *entry) {
	secs := int64(0)
	if e.next == nil && e.denied == "" {
		secs = e.refreshAt
		if e.endAt < secs {
			secs = e.endAt
		}
		if e.seenAt < secs {
			secs = e.seenAt
		}
	}
	until := time.Duration(math.MaxInt64) // never (and beyond 2262)
	if secs < int64(until/time.Second) {
		until = time.Duration(secs) * time.Second
	}
	if e.hitUntil != until {
		e.hitUntil = until
	}
}

// withHeaders sets the identity headers of e from renderHeaders' name, value pairs and returns e.
func (e *entry) withHeaders(pairs []string) *entry {
	for i := 1; i < len(pairs); i += 2 {
		e.names = append(e.names, pairs[i-1])
		e.values = append(e.values, pairs[i])
	}
	return e
}

// replacement is the session that superseded an entry, the cookie value to hand to the browser for it, and its
// cache key; hint is the new logout cookie when a refresh brought a new ID token (hint.go), else "".
type replacement struct {
	key    string
	cookie string
	hint   string
	e      *entry
	cache  *entryCache // the cache of the policy that derived e (another middleware derives its own: adopt)
}

// refreshFlight is one refresh of a session chain (sessionRegistry.joinRefresh): done is closed once rep or err is
// set.
type refreshFlight struct {
	done chan struct{}
	rep  *replacement
	err  error
}

// entryCache holds the entries one policy derived (sessions or bearer tokens), by cache key. It is bounded twice: by
// entries (max) and by the memory they are estimated to hold (maxBytes, entryBytes), so that a site with many users
// keeps as many sessions on the fast path as the memory the operator gave it allows (cacheMemory), and no more.
type entryCache struct {
	mu       sync.RWMutex
	m        map[string]*entry
	max      int
	maxBytes int64
	bytes    int64 // entryBytes of what m holds (entries are immutable once cached: derived again when one goes)
	// evictions counts the entries evict drops (descopeoidc_cache_evictions_total), nil when not counted: metrics.go
	evictions *uint64
}

func newEntryCache(max int, maxBytes int64) *entryCache {
	return &entryCache{m: map[string]*entry{}, max: max, maxBytes: maxBytes}
}

// Estimated bytes per cached entry beyond its strings (entryBytes): the entry with its map slot and slice headers,
// and a session's sessionData, whole with its claims map (per claim: a map slot, the boxed value and its string) or
// thin (thinSession). Measured with the Go heap: TestEntryBytesEstimate.
const (
	entryOverhead   = 288
	sessionOverhead = 370
	thinOverhead    = 115
	claimOverhead   = 96
)

// entryBytes estimates the memory e holds once cached under key: what the cache's byte bound counts.
func entryBytes(key string, e *entry) int64 {
	n := entryOverhead + len(key) + len(e.auth) + len(e.denied)
	for _, v := range e.values {
		n += 16 + len(v)
	}
	if d := e.data; d != nil && d.Thin {
		n += thinOverhead + len(d.ID) + len(d.Sub) + len(d.Sid)
	} else if d != nil {
		n += sessionOverhead + len(d.RefreshToken) + len(d.AccessToken) + len(d.IDToken) + len(d.ID) + len(d.Kept) +
			claimOverhead*len(d.Claims)
	}
	return int64(n)
}

// maxRawKey: a session cookie value or bearer token up to this length is in its cache key as it is (the map hashes
// it in compiled code, where a SHA-256 under Yaegi costs a conversion, a call and a copy per request); a longer one
// is keyed by its SHA-256, so that the cache does not grow with what clients send. Sessions within the cookie budget
// (README) and ordinary access tokens are keyed as they are. A digest (32 bytes) is shorter than any sealed cookie
// or JWT. The keys stay in process memory, like the requests that carry them; they are never logged.
const maxRawKey = 2048

// bearerKey is the bearer cache's key for a token: the Authorization header line as clients send it, "Bearer
// <token>", so that bearerHit looks the line up as it is, or that line's SHA-256 when it is longer than maxRawKey.
func bearerKey(tok string) string { return cacheKey("Bearer " + tok) }

// cacheKey is a cache key for a token or cookie value: itself, or its SHA-256 when longer than maxRawKey.
func cacheKey(v string) string {
	if len(v) <= maxRawKey {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return string(sum[:])
}

func (c *entryCache) get(key string) *entry {
	c.mu.RLock()
	e := c.m[key]
	c.mu.RUnlock()
	return e
}

// put stores e (evicting first when full).
func (c *entryCache) put(key string, e *entry, now int64) {
	c.mu.Lock()
	c.store(key, e)
	c.mu.Unlock()
}

// store caches e under key, with c.mu held: settles e, accounts for its bytes, and evicts first when either bound
// would be passed.
func (c *entryCache) store(key string, e *entry) {
	settle(e)
	size := entryBytes(key, e)
	if old := c.m[key]; old != nil {
		c.bytes -= entryBytes(key, old)
	} else if len(c.m) >= c.max || c.bytes+size > c.maxBytes {
		c.evict(size)
	}
	c.m[key] = e
	c.bytes += size
}

// evict makes room for an entry of size bytes: it drops arbitrary entries (Go's map order) until the cache holds at
// most nine tenths of each bound, so that it runs once per tenth of the cache's capacity and visits only the entries
// it drops: O(1) per put on average, whatever the cache's size. (Expired entries need no scan: a request that
// finds one removes it, and eviction reaches the others.)
func (c *entryCache) evict(size int64) {
	maxN, maxB := c.max-c.max/10, c.maxBytes-c.maxBytes/10-size
	dropped := uint64(0)
	for k, v := range c.m {
		if len(c.m) < maxN && c.bytes <= maxB {
			break
		}
		delete(c.m, k)
		c.bytes -= entryBytes(k, v)
		dropped++
	}
	if c.evictions != nil && dropped > 0 {
		atomic.AddUint64(c.evictions, dropped)
	}
}

func (c *entryCache) remove(key string) {
	c.mu.Lock()
	c.drop(key)
	c.mu.Unlock()
}

// drop removes key's entry, with c.mu held.
func (c *entryCache) drop(key string) {
	if e := c.m[key]; e != nil {
		c.bytes -= entryBytes(key, e)
		delete(c.m, key)
	}
}

// replaceIf swaps the entry for key only if it is still old (or gone), so that a concurrent update is not lost. It
// reports whether it swapped. Sessions go through sessionRegistry.replaceIf, which also refuses logged-out chains.
func (c *entryCache) replaceIf(key string, old, e *entry) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := c.m[key]; cur != old && cur != nil {
		return false
	}
	c.store(key, e)
	return true
}

// putNew caches e under key unless an entry is there already, and returns the entry cached for key.
func (c *entryCache) putNew(key string, e *entry, now int64) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := c.m[key]; cur != nil {
		return cur
	}
	c.store(key, e)
	return e
}

// dropRevoked removes the session entries a provider-initiated logout of sid (or of sub's sessions made by now)
// covers (revokes) and returns their chains.
func (c *entryCache) dropRevoked(sid, sub string, now int64) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for k, e := range c.m {
		if e.data != nil && revokes(sid, sub, now, e.data) {
			c.drop(k)
			ids = append(ids, e.data.ID)
		}
	}
	return ids
}

// dropChain removes the entries of the session chain id.
func (c *entryCache) dropChain(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if e.data != nil && e.data.ID == id {
			c.drop(k)
		}
	}
}

// usedStates remembers the login states already redeemed, so that a replayed callback fails even if the browser
// kept its login cookie.
type usedStates struct {
	mu sync.Mutex
	m  map[string]int64 // state -> unix expiry
}

func newUsedStates() *usedStates {
	return &usedStates{m: map[string]int64{}}
}

// use marks state as redeemed; false when it already was.
func (u *usedStates) use(state string, expiry, now int64) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, seen := u.m[state]; seen {
		return false
	}
	if len(u.m) >= maxUsedStates {
		for k, exp := range u.m {
			if exp < now {
				delete(u.m, k)
			}
		}
		drop := len(u.m) - maxUsedStates + maxUsedStates/10 // only when still full: never below the limit
		for k := range u.m {
			if drop <= 0 {
				break
			}
			delete(u.m, k) // flooded: forget some; the deleted login cookie still stops a browser replay
			drop--
		}
	}
	u.m[state] = expiry
	return true
}
