package descopeoidc

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// testManager is a sessionManager with the settings of a valid configuration, a fixed clock and no logging.
func testManager(t *testing.T) *sessionManager {
	t.Helper()
	reg := newSessionRegistry() // not the shared one: the manager's tests see only their own sessions
	sm := newSessionManager(settingsWith(t, func(*Config) {}, ""), &logger{name: "test", level: levelError}, reg, reg.cacheFor("test", nil))
	clock := newClock()
	sm.now = clock.Now
	return sm
}

// sealedSession seals a fresh session for sm and returns it with its cookie value.
func sealedSession(t *testing.T, sm *sessionManager, id string) (*sessionData, string) {
	t.Helper()
	now := sm.now().Unix()
	d := &sessionData{Claims: map[string]any{"sub": "u1"}, RefreshToken: "rt", Expiry: now + 300, Issued: now,
		Created: now, Seen: now, ID: id}
	raw, err := sm.sealSession(d)
	if err != nil {
		t.Fatal(err)
	}
	return d, raw
}

func TestEndSession(t *testing.T) {
	sm := testManager(t)
	d, raw := sealedSession(t, sm, "chain-1")
	key := sm.sessionKey(raw)
	sm.cache.put(key, &entry{data: d, refreshAt: never, endAt: never, seenAt: never}, sm.now().Unix())

	r := httptest.NewRequest(http.MethodPost, "https://app.example/oauth2/logout", nil)
	r.AddCookie(&http.Cookie{Name: sm.s.cookieName, Value: raw})
	got := sm.endSession(r)
	if got == nil || got.ID != "chain-1" {
		t.Fatalf("endSession returned %+v, want the session of chain-1", got)
	}
	if sm.cache.get(key) != nil {
		t.Error("the ended session is still cached")
	}
	if !sm.reg.superseded(d, sm.now().Unix()) {
		t.Error("the chain of the ended session still accepts its cookies")
	}

	for name, c := range map[string]*http.Cookie{"no cookie": nil, "a cookie that does not open": {Name: sm.s.cookieName, Value: "garbage"}} {
		r := httptest.NewRequest(http.MethodPost, "https://app.example/oauth2/logout", nil)
		if c != nil {
			r.AddCookie(c)
		}
		if got := sm.endSession(r); got != nil {
			t.Errorf("%s: endSession returned %+v, want nil", name, got)
		}
	}
}

// TestBeginRefreshOneFlight: however many requests ask, one renew runs per session; they all get its flight, and
// its outcome is recorded in place of the pending entry (the old cookie points to its successor).
func TestBeginRefreshOneFlight(t *testing.T) {
	sm := testManager(t)
	d, raw := sealedSession(t, sm, "chain-2")
	key := sm.sessionKey(raw)
	e := &entry{data: d, refreshAt: 0, endAt: never, seenAt: never}
	now := sm.now().Unix()
	sm.cache.put(key, e, now)

	var calls atomic.Int32
	release := make(chan struct{})
	next := *d
	next.Gen = 1
	rep := &replacement{key: "successor", e: &entry{data: &next, refreshAt: never, endAt: never, seenAt: never}}
	sm.renew = func(context.Context, *entry) (*replacement, error) {
		calls.Add(1)
		<-release
		return rep, nil
	}
	f1 := sm.beginRefresh(key, e, now)
	f2 := sm.beginRefresh(key, e, now)
	if f1 == nil || f1 != f2 {
		t.Fatalf("flights %p and %p, want one shared flight", f1, f2)
	}
	close(release)
	select {
	case <-f1.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the refresh did not finish")
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("renew ran %d times, want 1", n)
	}
	if f1.err != nil || f1.rep != rep {
		t.Errorf("flight outcome %v, %+v; want the successor", f1.err, f1.rep)
	}
	if cur := sm.cache.get(key); cur == nil || cur.next != rep {
		t.Errorf("the old cookie's entry does not point to its successor: %+v", cur)
	}
}

// TestBeginRefreshBounded: with maxRefreshes in flight, no new refresh starts (a hanging provider must not pile up
// goroutines) and the caller gets nil.
func TestBeginRefreshBounded(t *testing.T) {
	sm := testManager(t)
	for i := 0; i < maxRefreshes; i++ {
		sm.reg.flights["flight-"+strconv.Itoa(i)] = &refreshFlight{done: make(chan struct{})}
	}
	sm.renew = func(context.Context, *entry) (*replacement, error) {
		t.Error("renew ran past the bound")
		return nil, errors.New("unexpected")
	}
	d, raw := sealedSession(t, sm, "chain-3")
	if f := sm.beginRefresh(sm.sessionKey(raw), &entry{data: d}, sm.now().Unix()); f != nil {
		t.Errorf("beginRefresh with %d refreshes in flight returned a flight, want nil", maxRefreshes)
	}
}
