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

// chainMark is what this process knows about a session chain.
type chainMark struct {
	gen   int64 // newest generation handed to a browser
	since int64 // unix seconds: when it was first handed out; older generations are refused from since+refreshGrace
	ended bool  // logged out: no cookie of the chain is accepted again
	until int64 // unix seconds: every cookie of the chain is past sessionMaxAge then, so the mark can go
}

// stale reports whether this mark refuses a cookie of generation gen at now.
func (mk chainMark) stale(gen, now int64) bool {
	return mk.ended || (gen < mk.gen && now >= mk.since+refreshGrace)
}

// admit caches a new session entry (opened from a cookie, or just refreshed) and returns the entry to use: e, or the
// one a concurrent request cached first for the same cookie (so that a refresh in flight is not orphaned), or nil
// when the chain refuses it. An older generation still within its grace is served as it is, not cached, not
// refreshed (its successor holds the tokens now) and only until the grace ends: admit adjusts e for that, which is
// why e must not be shared yet.
func (c *entryCache) admit(key string, e *entry, now int64) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	mk, ok := c.chains[e.data.ID]
	if ok && mk.stale(e.data.Gen, now) {
		return nil
	}
	if ok && e.data.Gen < mk.gen {
		e.refreshAt, e.seenAt = never, never
		if end := mk.since + refreshGrace; end < e.endAt {
			e.endAt = end
		}
		return e
	}
	if cur := c.m[key]; cur != nil {
		return cur
	}
	if len(c.m) >= c.max {
		c.evict(now)
	}
	settle(e)
	c.m[key] = e
	return e
}

// superseded reports whether d's chain refuses it: logged out, or replaced by a refresh more than refreshGrace ago.
func (c *entryCache) superseded(d *sessionData, now int64) bool {
	c.mu.RLock()
	mk, ok := c.chains[d.ID]
	c.mu.RUnlock()
	return ok && mk.stale(d.Gen, now)
}

// handOut records that d's cookie is being given to a browser (until: when the chain is past sessionMaxAge). It
// returns false when the chain was logged out: the cookie must not be handed out.
func (c *entryCache) handOut(d *sessionData, until, now int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	mk, ok := c.chains[d.ID]
	if mk.ended {
		return false
	}
	if (ok && d.Gen <= mk.gen) || (!ok && d.Gen == 0) {
		return true // nothing new superseded
	}
	if !ok && len(c.chains) >= maxChains {
		c.evictChains(now)
	}
	c.chains[d.ID] = chainMark{gen: d.Gen, since: now, until: until}
	return true
}

// end logs a chain out in this process: its cached entries go, and none of its cookies is accepted again (until
// every one of them is past sessionMaxAge anyway). Refreshes in flight cannot bring it back: admit and replaceIf
// refuse ended chains. Logout is rare; the scan of the cache is bounded by its size.
func (c *entryCache) end(id string, until, now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.chains[id]; !ok && len(c.chains) >= maxChains {
		c.evictChains(now)
	}
	c.chains[id] = chainMark{ended: true, until: until}
	for k, e := range c.m {
		if e.data != nil && e.data.ID == id {
			delete(c.m, k)
		}
	}
}

// evictChains drops marks whose sessions are all past their max age, then, when still full, arbitrary ones (map
// order) a tenth at a time: under a flood a forgotten mark lets an old cookie back in until it ends by itself.
func (c *entryCache) evictChains(now int64) {
	for k, mk := range c.chains {
		if mk.until <= now {
			delete(c.chains, k)
		}
	}
	drop := len(c.chains) - maxChains + maxChains/10
	for k := range c.chains {
		if drop <= 0 {
			break
		}
		delete(c.chains, k)
		drop--
	}
}
