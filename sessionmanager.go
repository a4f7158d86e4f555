package descopeoidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sessionManager is a session's life in this process, apart from what a middleware's policy makes of it: sealing and
// opening the cookies (session, login state, logout hint: session.go, hint.go), their chunks, the cache keys, the
// chain of cookies one login leaves (chain.go), the refresh flights that renew a session's tokens once however many
// requests need it (here), and ending a session at logout. What a session grants (headers, rules, step-up) is the
// middleware's: it derives an entry from the session data (newSessionEntry) and asks the provider for new tokens
// (renew: doRefresh in refresh.go); the manager never decides policy.
//
// What every instance serving these sessions shares (chains, refresh flights, spent login states, the claims to
// keep) is in reg; cache is the entries this middleware's policy derived, shared by the instances built from the
// same configuration. The hot path reads cache directly through Middleware.sessions (the same cache).
type sessionManager struct {
	s          *settings // cookie names and attributes, session lifetime, the sealing keys
	reg        *sessionRegistry
	cache      *entryCache
	states     *usedStates // reg.states: login states redeemed in this process
	chunkNames []string    // chunkNames[i]: the name of session chunk i (the session cookie itself at 0)
	hintNames  []string    // the logout cookie and its chunks (hint.go)
	nameEq     string      // "<cookieName>=": a cache key is the cookie pair as a browser sends it (sessionKey)
	log        *logger
	// mw is the middleware whose policy renews a session's tokens (doRefresh) and derives its entry
	// (newSessionEntry), and whose clock the manager reads. Direct method calls, not func fields: Yaegi calls an
	// interpreted function stored in a func-typed field through a reflect wrapper whose types it builds lazily, which
	// races when refreshes start in several goroutines at once (seen under -race; YAEGI.md).
	mw  *Middleware
	met *metricSet // the middleware's counters (refreshes): metrics.go
}

// newSessionManager derives the cookie names from the settings; reg is the registry of these sessions and cache the
// entry cache of this middleware's policy in it. The middleware sets mw.
func newSessionManager(s *settings, log *logger, reg *sessionRegistry, cache *entryCache) *sessionManager {
	sm := &sessionManager{s: s, log: log, reg: reg, cache: cache, states: reg.states,
		hintNames: hintCookieNames(s.cookieName), nameEq: s.cookieName + "="}
	sm.chunkNames = make([]string, maxSessionChunks)
	sm.chunkNames[0] = s.cookieName
	for i := 1; i < maxSessionChunks; i++ {
		sm.chunkNames[i] = s.cookieName + "_" + strconv.Itoa(i)
	}
	return sm
}

// beginRefresh joins the refresh in flight for the session's chain (whichever middleware instance started it), or
// starts one in a goroutine of its
// own (bounded by httpTimeout) with e cached as pending meanwhile. It returns nil when maxRefreshes are in flight
// already: a provider that hangs must not pile up goroutines without bound.
func (sm *sessionManager) beginRefresh(key string, e *entry, now int64) *refreshFlight {
	f, leader := sm.reg.joinRefresh(e.data.ID, maxRefreshes)
	if f != nil && leader {
		pending := sm.pendingRefresh(key, e, now)
		// A func literal, not `go sm.runRefresh(...)`: Yaegi makes a method value for a go or defer statement and
		// builds its reflect type lazily, racily when many requests start refreshes at once (YAEGI.md).
		go func() { sm.runRefresh(key, e, pending, f) }()
	}
	return f
}

// endSession logs out the session whose cookie r carries, in this process: its cached entry goes, and no cookie of
// its chain is accepted again. It returns the session (nil when there was none or it did not open), for the
// logout's revocation and id_token_hint.
func (sm *sessionManager) endSession(r *http.Request) *sessionData {
	raw, err := sm.readSessionCookie(r)
	if err != nil {
		return nil
	}
	sm.cache.remove(sm.sessionKey(raw))
	d, err := sm.openSession(raw)
	if err != nil {
		return nil
	}
	sm.reg.end(d.ID, sm.chainUntil(d), sm.mw.now().Unix()) // every cookie of this login, older ones included, everywhere
	sm.reg.share(r.Context(), revChain+d.ID, sm.log)       // and at every replica, with a shared store
	return d
}

// sessionKey is the session cache's key for a session cookie value: the pair "<cookieName>=<value>" as a browser
// sends it, so that sessionHit looks a Cookie header line up as it is, or the value's SHA-256 when it is longer than
// maxRawKey (a chunked session always is).
func (sm *sessionManager) sessionKey(raw string) string {
	if len(raw) <= maxRawKey {
		return sm.nameEq + raw
	}
	return cacheKey(raw)
}

// session returns e's session whole: e.data, or for a thin entry the session opened again from key, the cookie it
// was cached for (thinSession). nil when that fails, which it cannot unless the key is not such a cookie.
func (sm *sessionManager) session(key string, e *entry) *sessionData {
	if !e.data.Thin {
		return e.data
	}
	if !strings.HasPrefix(key, sm.nameEq) {
		sm.log.logf(levelError, "a thin session entry under a key that is not its cookie")
		return nil
	}
	d, err := sm.openSession(key[len(sm.nameEq):])
	if err != nil {
		sm.log.logf(levelError, "reopening a cached session: %v", err)
		return nil
	}
	return d
}

// thinIfReopenable makes e (not yet cached) keep the thin form of d when key is d's cookie itself.
func (sm *sessionManager) thinIfReopenable(key string, e *entry, d *sessionData) {
	if strings.HasPrefix(key, sm.nameEq) && len(key)-len(sm.nameEq) <= maxRawKey {
		e.data = thinSession(d)
	}
}

// chainUntil is when every cookie of d's chain is past sessionMaxAge.
func (sm *sessionManager) chainUntil(d *sessionData) int64 {
	return d.Created + int64(sm.s.maxAge/time.Second)
}

// pendingRefresh puts the session back on the fast path while its refresh runs (until the refresh is bounded to end,
// never past the tokens' expiry), without idle re-issues meanwhile: the refresh records the activity itself. It
// returns the entry now cached for key, which settleRefresh replaces.
func (sm *sessionManager) pendingRefresh(key string, e *entry, now int64) *entry {
	p := *e
	p.refreshAt = now + int64(httpTimeout/time.Second) + 1
	if e.data.Expiry < p.refreshAt {
		p.refreshAt = e.data.Expiry
	}
	p.seenAt = never
	if !sm.reg.replaceIf(sm.cache, key, e, &p) {
		return e
	}
	return &p
}

// runRefresh is the leader of a refresh of e (cached as pending meanwhile), in a goroutine of its own: it refreshes,
// records the outcome and releases the requests waiting for it. A panic is contained (a goroutine's panic would stop
// Traefik).
func (sm *sessionManager) runRefresh(key string, e, pending *entry, f *refreshFlight) {
	defer func() { sm.reg.finishRefresh(e.data.ID, f) }() // a literal: see beginRefresh
	defer func() {
		if p := recover(); p != nil {
			// Two assignments, not a tuple: Yaegi v0.16.1 panics on a tuple assignment with an untyped nil on the right
			// (reflect: New(nil)), see settleRefresh.
			f.rep = nil
			f.err = fmt.Errorf("token refresh panicked: %v", p)
			sm.log.logf(levelError, "%v", f.err)
		}
	}()
	if rep := sm.reg.successorOf(e.data); rep != nil {
		// Another request (of this or another middleware instance) finished refreshing this chain after e was read:
		// reuse its result rather than spend the refresh token again (the provider may have rotated it away).
		f.rep = rep
		return
	}
	// The session whole (its refresh token and claims): for a thin entry, read from its cookie here, by the leader
	// alone and off the request path. The cache keeps its own form (settleRefresh).
	full := *e
	if full.data = sm.session(key, e); full.data == nil {
		f.err = fmt.Errorf("%w: the cached session's cookie no longer opens", errRefreshedToken)
		sm.settleRefresh(key, e, pending, f, sm.mw.now().Unix())
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), httpTimeout)
	rep, err := sm.renewShared(ctx, &full) // once across replicas with a shared store: sharedsessions.go
	cancel()
	f.rep, f.err = rep, err
	sm.settleRefresh(key, &full, pending, f, sm.mw.now().Unix())
}

// settleRefresh records a refresh's outcome in the cache, in place of pending: the old cookie points to the new
// session, or, after a failure, the old session stops refreshing (its refresh token or new ID token was refused: it
// lasts until its tokens expire) or retries after refreshRetry, never serving past the tokens' expiry on the fast
// path.
func (sm *sessionManager) settleRefresh(key string, e, pending *entry, f *refreshFlight, now int64) {
	old := *e
	old.data = pending.data // e may hold the session whole (runRefresh); the cache keeps its own form of it
	switch {
	case f.err == nil:
		count(sm.met, mRefreshOK)
		if sm.reg.admit(sm.cache, f.rep.key, f.rep.e, now) != f.rep.e {
			// Two assignments, not `f.rep, f.err = nil, errSessionEnded`: Yaegi v0.16.1 gives the untyped nil of a tuple
			// assignment no type and panics (reflect: New(nil)). This branch runs only when the session was logged out
			// while its refresh was in flight, which is how a logout during a refresh panicked under Traefik.
			f.rep = nil
			f.err = errSessionEnded
			sm.log.logf(levelInfo, "%v: its new tokens are dropped", f.err) // the end-to-end tests wait for this line
			return
		}
		sm.reg.recordSuccessor(f.rep, sm.chainUntil(f.rep.e.data), now)
		old.next = f.rep
	case refusedGrant(f.err) || errors.Is(f.err, errRefreshedToken): // tokenerrors.go
		count(sm.met, mRefreshRefused)
		old.refreshAt = never
		if sm.s.revalidate > 0 { // the provider ended the session: with sessionRevalidate it ends here at once
			sm.log.event(nil, evRefreshRefused, e.data, "session ended (sessionRevalidate): "+f.err.Error()) // events.go
			old.endAt = now
		} else {
			sm.log.event(nil, evRefreshRefused, e.data, "session lasts until its tokens expire: "+f.err.Error())
			if e.data.Expiry < old.endAt {
				old.endAt = e.data.Expiry
			}
		}
	default:
		sm.log.logf(levelWarn, "token refresh failed, retrying in %ds: %v", refreshRetry, f.err)
		count(sm.met, mRefreshUnavailable)
		old.retryAt = now + refreshRetry
		old.refreshAt = old.retryAt
		if e.data.Expiry < old.refreshAt {
			old.refreshAt = e.data.Expiry
		}
	}
	sm.reg.replaceIf(sm.cache, key, pending, &old)
}

// The chain operations on this middleware's cache (chain.go).

func (sm *sessionManager) admit(key string, e *entry, now int64) *entry {
	return sm.reg.admit(sm.cache, key, e, now)
}

func (sm *sessionManager) replaceIf(key string, old, e *entry) bool {
	return sm.reg.replaceIf(sm.cache, key, old, e)
}

func (sm *sessionManager) handOut(d *sessionData, now int64) bool {
	return sm.reg.handOut(d, sm.chainUntil(d), now)
}
