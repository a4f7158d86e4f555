package descopeoidc

import (
	"crypto/sha256"
	"sync"
)

// The hot path: a request with a valid session (or a bearer token seen before) costs a SHA-256 of the cookie, one
// map lookup and the header writes. Decryption, JSON decoding, header rendering and the authorization decision
// happen once per cookie value and are cached here until the session needs attention (refresh, expiry).

const (
	maxCachedSessions = 10000
	maxCachedBearers  = 10000
	maxUsedStates     = 10000
	never             = int64(1) << 62
)

// entry is an authenticated identity, immutable once cached (a change replaces the entry).
type entry struct {
	data      *sessionData // nil for bearer tokens
	headers   []string     // upstream header name, value, name, value, …
	denied    string       // why authorization fails; empty when allowed
	refreshAt int64        // unix seconds: refresh from then on
	endAt     int64        // unix seconds: no longer valid from then on
	seenAt    int64        // unix seconds: when to re-issue the cookie for the idle timeout; never when off
	next      *replacement // set once a refresh replaced this session
}

// replacement is the session that superseded an entry, and the cookie value to hand to the browser for it.
type replacement struct {
	cookie string
	e      *entry
}

type refreshFlight struct {
	done chan struct{}
	rep  *replacement
	err  error
}

type entryCache struct {
	mu       sync.RWMutex
	m        map[string]*entry
	max      int
	inflight map[string]*refreshFlight
}

func newEntryCache(max int) *entryCache {
	return &entryCache{m: map[string]*entry{}, max: max, inflight: map[string]*refreshFlight{}}
}

// cacheKey hashes a cookie or token so that the cache neither stores credentials nor grows with their size.
func cacheKey(v string) string {
	sum := sha256.Sum256([]byte(v))
	return string(sum[:])
}

func (c *entryCache) get(key string) *entry {
	c.mu.RLock()
	e := c.m[key]
	c.mu.RUnlock()
	return e
}

// put stores e; when full it first drops expired entries, then arbitrary ones (map order), a tenth at a time.
func (c *entryCache) put(key string, e *entry, now int64) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		c.evict(now)
	}
	c.m[key] = e
	c.mu.Unlock()
}

func (c *entryCache) evict(now int64) {
	for k, v := range c.m {
		if v.endAt <= now {
			delete(c.m, k)
		}
	}
	drop := len(c.m) - c.max + c.max/10
	for k := range c.m {
		if drop <= 0 {
			break
		}
		delete(c.m, k)
		drop--
	}
}

func (c *entryCache) remove(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// replaceIf swaps the entry for key only if it is still old, so that a concurrent update is not lost.
func (c *entryCache) replaceIf(key string, old, e *entry) {
	c.mu.Lock()
	if c.m[key] == old || c.m[key] == nil {
		c.m[key] = e
	}
	c.mu.Unlock()
}

// joinRefresh returns the refresh in flight for key, or a new one that the caller (leader) must run and finish.
func (c *entryCache) joinRefresh(key string) (*refreshFlight, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.inflight[key]; f != nil {
		return f, false
	}
	f := &refreshFlight{done: make(chan struct{})}
	c.inflight[key] = f
	return f, true
}

func (c *entryCache) finishRefresh(key string, f *refreshFlight) {
	c.mu.Lock()
	delete(c.inflight, key)
	c.mu.Unlock()
	close(f.done)
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
