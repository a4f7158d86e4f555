package descopeoidc

// A session chain is one login and every cookie that continues it. A refresh seals a successor with new tokens and
// the next generation (sessionData.Gen); an idle-timeout re-issue seals one with the same tokens and generation. All
// carry the login's random chain ID (sessionData.ID).
//
// Cookies are stateless: a process can refuse only what it has seen. The session cache remembers, per chain, the
// newest generation it handed to a browser and when, and whether the chain was logged out. An older generation still
// works for refreshGrace after that hand-out (as its successor, whose cookie it is given), then it is refused; a
// logged-out chain is refused whole, whatever the generation. Another process (a replica, or this one after a
// restart) knows nothing of it: SECURITY.md says what that leaves.

const (
	// refreshGrace (seconds) is how long a cookie replaced by a refresh keeps working after its successor was first
	// handed out: requests a browser sent in parallel with the old cookie (a page's assets, an SPA's parallel API
	// calls, retries) reach the plugin after the response carrying the new cookie. 20 s covers a slow page load and a
	// retried request; after that, a copy of the old cookie is worth nothing in this process.
	refreshGrace = 20
	maxChains    = 10000 // remembered chains per middleware; expired ones go first
	maxChainHops = 8     // successors followed from an old cookie before giving up on the newest
)

// chainMark is what this process knows about a session chain (kept in its sessionRegistry: every middleware
// instance serving the chain's cookies sees the same marks).
type chainMark struct {
	gen   int64 // newest generation handed to a browser
	since int64 // unix seconds: when it was first handed out; older generations are refused from since+refreshGrace
	ended bool  // logged out: no cookie of the chain is accepted again
	until int64 // unix seconds: every cookie of the chain is past sessionMaxAge then, so the mark can go
	// next is the newest successor a refresh of this chain sealed in this process (nil before one): an instance
	// that still holds an older generation continues with it instead of spending the refresh token again.
	next *replacement
}

// stale reports whether this mark refuses a cookie of generation gen at now.
func (mk chainMark) stale(gen, now int64) bool {
	return mk.ended || (gen < mk.gen && now >= mk.since+refreshGrace)
}

// mark returns the chain's mark and whether there is one.
func (g *sessionRegistry) mark(id string) (chainMark, bool) {
	g.mu.Lock()
	mk, ok := g.chains[id]
	g.mu.Unlock()
	return mk, ok
}

// admit caches a new session entry in c (opened from a cookie, or just refreshed) and returns the entry to use: e,
// or the one a concurrent request cached first for the same cookie (so that a refresh in flight is not orphaned), or
// nil when the chain refuses it. An older generation still within its grace is served as it is, not cached, not
// refreshed (its successor holds the tokens now) and only until the grace ends: admit adjusts e for that, which is
// why e must not be shared yet. A logout that lands between the chain's check and the caching is seen by the second
// check (end drops the chain's entries from every cache after it marks the chain).
func (g *sessionRegistry) admit(c *entryCache, key string, e *entry, now int64) *entry {
	mk, ok := g.mark(e.data.ID)
	if ok && mk.stale(e.data.Gen, now) || g.revoked(e.data) {
		return nil
	}
	if ok && e.data.Gen < mk.gen {
		e.refreshAt, e.seenAt = never, never
		if end := mk.since + refreshGrace; end < e.endAt {
			e.endAt = end
		}
		return e
	}
	cur := c.putNew(key, e, now)
	if mk, _ := g.mark(e.data.ID); mk.ended {
		c.remove(key)
		return nil
	}
	return cur
}

// replaceIf is c.replaceIf for a session entry, never for a chain that was logged out (checked before and after,
// as admit does).
func (g *sessionRegistry) replaceIf(c *entryCache, key string, old, e *entry) bool {
	if e.data != nil {
		if mk, _ := g.mark(e.data.ID); mk.ended {
			return false
		}
	}
	if !c.replaceIf(key, old, e) {
		return false
	}
	if e.data != nil {
		if mk, _ := g.mark(e.data.ID); mk.ended {
			c.remove(key)
			return false
		}
	}
	return true
}

// superseded reports whether d's chain refuses it: logged out, or replaced by a refresh more than refreshGrace ago.
func (g *sessionRegistry) superseded(d *sessionData, now int64) bool {
	mk, ok := g.mark(d.ID)
	return ok && mk.stale(d.Gen, now)
}

// successorOf returns the newest successor of d sealed in this process, when it is newer than d; else nil.
func (g *sessionRegistry) successorOf(d *sessionData) *replacement {
	mk, ok := g.mark(d.ID)
	if !ok || mk.ended || mk.next == nil || mk.next.e.data.Gen <= d.Gen {
		return nil
	}
	return mk.next
}

// recordSuccessor notes rep as the newest successor of its chain (a refresh just sealed it).
func (g *sessionRegistry) recordSuccessor(rep *replacement, until, now int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := rep.e.data
	mk, ok := g.chains[d.ID]
	if mk.ended || (mk.next != nil && mk.next.e.data.Gen >= d.Gen) {
		return
	}
	if !ok {
		if len(g.chains) >= maxChains {
			g.evictChains(now)
		}
		mk.until = until
	}
	mk.next = rep
	g.chains[d.ID] = mk
}

// handOut records that d's cookie is being given to a browser (until: when the chain is past sessionMaxAge). It
// returns false when the chain was logged out: the cookie must not be handed out.
func (g *sessionRegistry) handOut(d *sessionData, until, now int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	mk, ok := g.chains[d.ID]
	if mk.ended {
		return false
	}
	if (ok && d.Gen <= mk.gen) || (!ok && d.Gen == 0) {
		return true // nothing new superseded
	}
	if !ok && len(g.chains) >= maxChains {
		g.evictChains(now)
	}
	mk.gen, mk.since, mk.until = d.Gen, now, until
	g.chains[d.ID] = mk
	return true
}

// end logs a chain out in this process: the entries of every cache serving it go, and none of its cookies is
// accepted again (until every one of them is past sessionMaxAge anyway). Refreshes in flight cannot bring it back:
// admit and replaceIf refuse ended chains. Logout is rare; each cache's scan is bounded by its size.
func (g *sessionRegistry) end(id string, until, now int64) {
	g.mu.Lock()
	if _, ok := g.chains[id]; !ok && len(g.chains) >= maxChains {
		g.evictChains(now)
	}
	g.chains[id] = chainMark{ended: true, until: until}
	g.mu.Unlock()
	for _, c := range g.caches() {
		c.dropChain(id)
	}
}

// evictChains drops marks whose sessions are all past their max age, then, when still full, arbitrary ones (map
// order) a tenth at a time: under a flood a forgotten mark lets an old cookie back in until it ends by itself.
// The caller holds g.mu.
func (g *sessionRegistry) evictChains(now int64) {
	for k, mk := range g.chains {
		if mk.until <= now {
			delete(g.chains, k)
		}
	}
	drop := len(g.chains) - maxChains + maxChains/10
	for k := range g.chains {
		if drop <= 0 {
			break
		}
		delete(g.chains, k)
		drop--
	}
}
