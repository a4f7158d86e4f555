package descopeoidc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sessions shared by replicas through a store (redis): what the session registry does inside one process — one
// refresh per session chain, one revocation set, login states spent once — across every Traefik process configured
// with the same store, issuer, client, cookie and secrets.
//
//   - Revocations (logout, back-channel and front-channel logout) are appended to the store's revocation stream. Each
//     process reads the stream once per revocationPoll (500 ms) for all its sessions, in one goroutine per registry
//     (started by the first request that needs the registry, never by New; bounded by the registries; it stops when
//     its registry is dropped), and applies what it finds as if the logout had happened here. A session hit makes no
//     round trip of its own.
//   - A refresh is claimed in the store for the chain and generation: one replica spends the refresh token and
//     leaves the new sealed cookie there; the others continue with it.
//   - A login state is spent in the store too: a callback replayed at another replica is refused.
//
// When the store cannot be reached, sessions keep working from their cookies: revocations already seen stay
// enforced, new ones are kept (bounded) and sent again at the next poll, a refresh is done locally, a login state is
// checked locally only; the poller backs off (the client's dial backoff) and logs one warning per storeWarnEvery.

const (
	revocationPoll  = 500 * time.Millisecond
	storeWarnEvery  = 30 * time.Second
	maxPendingShare = 1000
	claimWait       = 100 * time.Millisecond // how often a replica that lost a refresh claim looks for the result
)

// revocation ids in the stream: a session chain, a provider session (sid), or a subject's sessions up to a time.
const (
	revChain = "c:"
	revSID   = "s:"
	revSub   = "u:"
)

// storeState is the registry's part for a shared store; nil store: a process on its own.
type storeState struct {
	store     sharedStore
	retention int64 // seconds: how long a revocation matters (sessionMaxAge)
	mu        sync.Mutex
	polling   bool
	pending   []string // revocations the store did not take yet
	lastWarn  int64
	owner     string // this process, in refresh claims
}

func newStoreState(store sharedStore, retention int64) *storeState {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &storeState{store: store, retention: retention, owner: hex.EncodeToString(b)}
}

// share records a revocation in the store for every replica (a logout here is already applied here); when the
// store does not take it, it is kept and sent again by the poller.
func (g *sessionRegistry) share(ctx context.Context, id string, log *logger) {
	st := g.shared
	if st == nil {
		return
	}
	if err := st.store.revoke(ctx, id); err != nil {
		st.mu.Lock()
		if len(st.pending) < maxPendingShare {
			st.pending = append(st.pending, id)
		}
		st.mu.Unlock()
		g.warnStore(log, "revocation kept to send again", err)
	}
}

// warnStore logs a store failure at most once per storeWarnEvery.
func (g *sessionRegistry) warnStore(log *logger, what string, err error) {
	st := g.shared
	now := time.Now().Unix()
	st.mu.Lock()
	due := now-st.lastWarn >= int64(storeWarnEvery/time.Second)
	if due {
		st.lastWarn = now
	}
	st.mu.Unlock()
	if due {
		log.logf(levelWarn, "session store unreachable (%s; sessions keep working from their cookies): %v", what, err)
	}
}

// startPolling starts the registry's revocation poller once (the first request that needs the registry calls it).
func (g *sessionRegistry) startPolling(log *logger) {
	st := g.shared
	if st == nil {
		return
	}
	st.mu.Lock()
	start := !st.polling
	st.polling = true
	st.mu.Unlock()
	if start {
		go func() { g.pollRevocations(log) }() // a literal, not a method value: see beginRefresh
	}
}

// pollRevocations reads the revocation stream from its start (revocations made before this process started count
// too) and applies each one, every revocationPoll, while the registry is in use.
func (g *sessionRegistry) pollRevocations(log *logger) {
	defer func() {
		if p := recover(); p != nil {
			log.logf(levelError, "revocation poller stopped: %v", p)
			g.shared.mu.Lock()
			g.shared.polling = false // the next request starts another
			g.shared.mu.Unlock()
		}
	}()
	cursor := ""
	for g.live() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ids, next, err := g.shared.store.revocations(ctx, cursor)
		if err != nil {
			g.warnStore(log, "revocations not read", err)
		} else {
			cursor = next
			g.applyRevocations(ids, time.Now().Unix())
			g.sendPending(ctx)
		}
		cancel()
		time.Sleep(revocationPoll)
	}
	g.shared.mu.Lock()
	g.shared.polling = false
	g.shared.mu.Unlock()
}

// live reports whether the registry is still the one New hands out (a dropped registry's poller stops).
func (g *sessionRegistry) live() bool {
	registries.mu.Lock()
	defer registries.mu.Unlock()
	for _, r := range registries.m {
		if r == g {
			return true
		}
	}
	return false
}

// sendPending sends the revocations the store did not take before.
func (g *sessionRegistry) sendPending(ctx context.Context) {
	st := g.shared
	st.mu.Lock()
	pending := st.pending
	st.pending = nil
	st.mu.Unlock()
	for i, id := range pending {
		if err := st.store.revoke(ctx, id); err != nil {
			st.mu.Lock()
			st.pending = append(pending[i:], st.pending...)
			st.mu.Unlock()
			return
		}
	}
}

// applyRevocations ends locally what another replica (or this one) revoked.
func (g *sessionRegistry) applyRevocations(ids []string, now int64) {
	until := now + g.shared.retention
	for _, id := range ids {
		switch {
		case strings.HasPrefix(id, revChain):
			if mk, _ := g.mark(id[len(revChain):]); !mk.ended {
				g.end(id[len(revChain):], until, now)
			}
		case strings.HasPrefix(id, revSID):
			g.revoke(id[len(revSID):], "", now, until)
		case strings.HasPrefix(id, revSub):
			rest := id[len(revSub):]
			at := strings.LastIndexByte(rest, '@')
			if at < 0 {
				continue
			}
			if t, err := strconv.ParseInt(rest[at+1:], 10, 64); err == nil {
				g.revoke("", rest[:at], t, until)
			}
		}
	}
}

// spendShared spends a login state (or a logout token's jti) across replicas: false when another replica already
// did. When the store cannot be reached it answers true (this process checked it already).
func (g *sessionRegistry) spendShared(ctx context.Context, key string, ttl time.Duration, log *logger) bool {
	if g.shared == nil {
		return true
	}
	ok, err := g.shared.store.spendOnce(ctx, key, ttl)
	if err != nil {
		g.warnStore(log, "login state checked in this process only", err)
		return true
	}
	return ok
}

var errPeerRefresh = errors.New("another replica's refresh of this session failed")

// renewShared refreshes e once across replicas: the replica that claims the chain's generation in the store spends
// the refresh token and settles the claim with the new cookie; the others wait for it (at most httpTimeout) and
// continue with that cookie. Without a store, or when the store cannot be reached, it refreshes here.
func (sm *sessionManager) renewShared(ctx context.Context, e *entry) (*replacement, error) {
	st := sm.reg.shared
	if st == nil {
		return sm.mw.doRefresh(ctx, e)
	}
	key := "refresh:" + e.data.ID + ":" + strconv.FormatInt(e.data.Gen, 10)
	v, err := st.store.claim(ctx, key, st.owner, httpTimeout+5*time.Second)
	if err != nil {
		sm.reg.warnStore(sm.log, "refresh done in this process", err)
		return sm.mw.doRefresh(ctx, e)
	}
	if v == st.owner {
		rep, err := sm.mw.doRefresh(ctx, e)
		result, ttl := "fail", 5*time.Second // a failure lets the others try again soon
		if err == nil {
			result = "ok:" + rep.cookie
			ttl = time.Duration(e.data.Expiry-sm.mw.now().Unix()+refreshGrace+60) * time.Second
		}
		if _, serr := st.store.settle(ctx, key, st.owner, result, ttl); serr != nil {
			sm.reg.warnStore(sm.log, "refresh result not shared", serr)
		}
		return rep, err
	}
	return sm.peerRefresh(ctx, key, v)
}

// peerRefresh waits for another replica's refresh of the claim key (v: what the claim holds now) and returns its
// session.
func (sm *sessionManager) peerRefresh(ctx context.Context, key, v string) (*replacement, error) {
	for deadline := time.Now().Add(httpTimeout); !strings.HasPrefix(v, "ok:") && v != "fail"; {
		if time.Now().After(deadline) {
			return nil, errPeerRefresh
		}
		time.Sleep(claimWait)
		got, found, err := sm.reg.shared.store.load(ctx, key)
		if err != nil || !found {
			return nil, errPeerRefresh
		}
		v = got
	}
	if v == "fail" {
		return nil, errPeerRefresh
	}
	cookie := v[len("ok:"):]
	d, err := sm.openSession(cookie)
	if err != nil {
		return nil, errPeerRefresh
	}
	rep := &replacement{key: sm.sessionKey(cookie), cookie: cookie, e: sm.mw.newSessionEntry(d, sm.mw.now().Unix()), cache: sm.cache}
	sm.thinIfReopenable(rep.key, rep.e, d)
	return rep, nil
}
