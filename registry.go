package descopeoidc

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"sync"
	"time"
)

// sessionRegistry is what every middleware instance in this process knows about the sessions of one issuer, client,
// session cookie and set of session secrets: whichever router, middleware or reload serves a cookie, it is the same
// session. It holds the session chains (the newest generation handed out, the newest successor, logged out: chain.go),
// the refresh flights (one per chain: two routers never spend one refresh token twice), the login states already
// redeemed, and the entry caches of every policy that serves these sessions, so that a logout reaches them all.
// Traefik builds one plugin instance per router and again on every reload: instances with the same configuration
// share one entry cache (policyKey), so a reload neither empties nor duplicates it.
//
// Registries are shared at package level, built lazily by New (no I/O, no goroutine) and bounded: maxRegistries
// registries, maxPolicies caches each, the least recently built going first (Traefik builds every instance again on
// each reload, so what is configured stays and what was removed goes). A configuration pushed out of the bound keeps
// working with what it holds; it is only no longer shared with instances built after it, which start a registry of
// their own (and do not see the logouts and refreshes of the old one).
type sessionRegistry struct {
	mu       sync.Mutex
	chains   map[string]chainMark      // by chain ID (sessionData.ID)
	flights  map[string]*refreshFlight // by chain ID: the refresh in flight
	policies []*policyCache            // least recently built first (policyFor)
	needed   []string                  // every claim some policy keeps (claims.go), sorted, sub left out
	states   *usedStates               // login states redeemed, and logout tokens' jti (backchannel.go)
	// Provider-initiated logouts (backchannel.go): a session whose sid is here, or whose sub is here and which was
	// made at or before the logout, is refused. Each mark lasts until every session it could match is past
	// sessionMaxAge (the value); bounded like the chains.
	revokedSids map[string]int64
	revokedSubs map[string]subRevocation
	shared      *storeState // with a shared store (redis): sharedsessions.go; nil otherwise
	// built is registries.clock when New last asked for this registry (registryFor): past the bound, the registry
	// built least recently goes. Guarded by registries.mu.
	built uint64
}

// subRevocation: the sessions of a user made at or before at are refused until until.
type subRevocation struct {
	at, until int64
}

// policyCache holds the entry caches of one configuration (policyKey), shared by its instances (routers, reloads):
// its sessions, its verified bearer tokens and Descope session JWTs (a token is verified once per process, whichever
// router receives it), and the claims it keeps.
type policyCache struct {
	key     string
	cache   *entryCache
	bearers *entryCache
	ds      *entryCache
	needed  []string
}

const (
	maxRegistries = 64
	maxPolicies   = 16
)

var registries = struct {
	mu    sync.Mutex
	m     map[string]*sessionRegistry
	clock uint64 // counts registryFor calls: sessionRegistry.built
}{m: map[string]*sessionRegistry{}}

func newSessionRegistry() *sessionRegistry {
	return &sessionRegistry{chains: map[string]chainMark{}, flights: map[string]*refreshFlight{}, states: newUsedStates(),
		revokedSids: map[string]int64{}, revokedSubs: map[string]subRevocation{}}
}

// digest is the hex SHA-256 of parts, each followed by a NUL (so that no two lists share a digest).
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// registryFor returns the registry of the sessions s seals: same issuer, client, cookie name and session secrets
// (by digest), creating it on first use.
func registryFor(s *settings) *sessionRegistry {
	key := digest(s.issuer, s.clientID, s.cookieName, s.secretsID, s.storeID)
	registries.mu.Lock()
	defer registries.mu.Unlock()
	registries.clock++
	if g := registries.m[key]; g != nil {
		g.built = registries.clock
		return g
	}
	if len(registries.m) >= maxRegistries {
		dropLeastRecentRegistry() // the instances holding it keep it
	}
	g := newSessionRegistry()
	g.built = registries.clock
	if s.store != nil {
		g.shared = newStoreState(s.store, int64(s.maxAge/time.Second))
	}
	registries.m[key] = g
	return g
}

// dropLeastRecentRegistry forgets the registry New asked for least recently, with registries.mu held: a scan of at
// most maxRegistries, when a new registry would pass the bound (New only).
func dropLeastRecentRegistry() {
	oldest, least := "", ^uint64(0)
	for k, g := range registries.m {
		if g.built < least {
			oldest, least = k, g.built
		}
	}
	delete(registries.m, oldest)
}

// policyKey identifies a configuration: instances built from the same one (several routers, reloads) derive the same
// entry from a session and can share a cache. "" when the configuration cannot be encoded: no sharing.
func policyKey(c *Config) string {
	b, err := json.Marshal(c)
	if err != nil {
		return ""
	}
	return digest(string(b))
}

// policyFor returns the caches of the configuration key, which keeps the claims needed, creating and registering
// them on first use (each bounded to maxBytes: cacheMemory); the registry's needed claims become the union with
// needed.
func (g *sessionRegistry) policyFor(key string, needed []string, maxBytes int64) *policyCache {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, p := range g.policies {
		if key != "" && p.key == key {
			g.policies = movedLast(g.policies, i) // least recently built first: the next to go past the bound
			return p
		}
	}
	if len(g.policies) >= maxPolicies {
		g.policies = g.policies[1:]
	}
	p := &policyCache{key: key, cache: newEntryCache(maxCachedEntries, maxBytes),
		bearers: newEntryCache(maxCachedEntries, maxBytes), ds: newEntryCache(maxCachedEntries, maxBytes), needed: needed}
	g.policies = append(g.policies, p)
	g.needed = unionNeeded(g.policies)
	return p
}

// movedLast returns a copy of ps with ps[i] moved to the end (a copy: caches() and unionNeeded may hold ps).
func movedLast(ps []*policyCache, i int) []*policyCache {
	out := make([]*policyCache, 0, len(ps))
	out = append(out, ps[:i]...)
	out = append(out, ps[i+1:]...)
	return append(out, ps[i])
}

// unionNeeded is the sorted union of what the policies keep: a session sealed by one middleware carries what every
// other middleware serving it reads.
func unionNeeded(policies []*policyCache) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range policies {
		for _, name := range p.needed {
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// neededClaims is the claims a session sealed now must keep (a snapshot: the slice is never changed in place).
func (g *sessionRegistry) neededClaims() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.needed
}

// caches returns the entry caches of every registered policy.
func (g *sessionRegistry) caches() []*entryCache {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*entryCache, len(g.policies))
	for i, p := range g.policies {
		out[i] = p.cache
	}
	return out
}

// joinRefresh returns the refresh in flight for the chain id, or a new one that the caller (leader) must run and
// finish, or nil when max refreshes are in flight already (a provider that hangs must not pile up goroutines).
func (g *sessionRegistry) joinRefresh(id string, max int) (*refreshFlight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f := g.flights[id]; f != nil {
		return f, false
	}
	if len(g.flights) >= max {
		return nil, false
	}
	f := &refreshFlight{done: make(chan struct{})}
	g.flights[id] = f
	return f, true
}

func (g *sessionRegistry) finishRefresh(id string, f *refreshFlight) {
	g.mu.Lock()
	delete(g.flights, id)
	g.mu.Unlock()
	close(f.done)
}

// inFlight counts the refreshes in flight.
func (g *sessionRegistry) inFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.flights)
}

// revoke ends, in this process, the provider session sid or (sid "") every session of sub made at or before now: the
// marks refuse their cookies from now on (admit), and their cached entries and chains end in every cache. It returns
// how many cached sessions it ended.
func (g *sessionRegistry) revoke(sid, sub string, now, until int64) int {
	g.mu.Lock()
	if len(g.revokedSids)+len(g.revokedSubs) >= maxChains {
		g.pruneRevocations(now)
	}
	if sid != "" {
		g.revokedSids[sid] = until
	} else {
		g.revokedSubs[sub] = subRevocation{at: now, until: until}
	}
	g.mu.Unlock()
	var ended []string
	for _, c := range g.caches() {
		ended = append(ended, c.dropRevoked(sid, sub, now)...)
	}
	for _, id := range ended {
		g.end(id, until, now)
	}
	return len(ended)
}

// revokes reports whether a logout of sid (or, sid "", of every session of sub made by now) covers d.
func revokes(sid, sub string, now int64, d *sessionData) bool {
	if sid != "" {
		return sessionClaim(d, "sid") == sid
	}
	return sessionClaim(d, "sub") == sub && d.Created <= now
}

// revoked reports whether a provider-initiated logout covers d.
func (g *sessionRegistry) revoked(d *sessionData) bool {
	sid, sub := sessionClaim(d, "sid"), sessionClaim(d, "sub")
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.revokedSids[sid]; ok && sid != "" {
		return true
	}
	r, ok := g.revokedSubs[sub]
	return ok && d.Created <= r.at
}

// pruneRevocations drops the marks past their time, then, when still full, arbitrary ones. The caller holds g.mu.
func (g *sessionRegistry) pruneRevocations(now int64) {
	for k, until := range g.revokedSids {
		if until <= now {
			delete(g.revokedSids, k)
		}
	}
	for k, r := range g.revokedSubs {
		if r.until <= now {
			delete(g.revokedSubs, k)
		}
	}
	drop := len(g.revokedSids) + len(g.revokedSubs) - maxChains + maxChains/10
	for k := range g.revokedSids {
		if drop <= 0 {
			break
		}
		delete(g.revokedSids, k)
		drop--
	}
}
