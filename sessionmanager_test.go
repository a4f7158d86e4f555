package descopeoidc

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// testManager is the session manager of a middleware built by New for a provider of its own (so its registry is
// its own), on the provider's clock.
func testManager(t *testing.T) (*fakeIdP, *sessionManager) {
	t.Helper()
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	return f, m.sm
}

// sealedSession seals a fresh session for sm and returns it with its cookie value.
func sealedSession(t *testing.T, sm *sessionManager, id string) (*sessionData, string) {
	t.Helper()
	now := sm.mw.now().Unix()
	d := &sessionData{Claims: map[string]any{"sub": "u1"}, RefreshToken: "rt", Expiry: now + 300, Issued: now,
		Created: now, Seen: now, ID: id}
	raw, err := sm.sealSession(d)
	if err != nil {
		t.Fatal(err)
	}
	return d, raw
}

func TestEndSession(t *testing.T) {
	_, sm := testManager(t)
	d, raw := sealedSession(t, sm, "chain-1")
	key := sm.sessionKey(raw)
	sm.cache.put(key, &entry{data: d, refreshAt: never, endAt: never, seenAt: never}, sm.mw.now().Unix())

	r := httptest.NewRequest(http.MethodPost, "https://app.example/oauth2/logout", nil)
	r.AddCookie(&http.Cookie{Name: sm.s.cookieName, Value: raw})
	got := sm.endSession(r)
	if got == nil || got.ID != "chain-1" {
		t.Fatalf("endSession returned %+v, want the session of chain-1", got)
	}
	if sm.cache.get(key) != nil {
		t.Error("the ended session is still cached")
	}
	if !sm.reg.superseded(d, sm.mw.now().Unix()) {
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

// TestBeginRefreshOneFlight: however many requests ask, one refresh runs per session; they all get its flight, and
// its outcome is recorded in place of the pending entry (the old cookie points to its successor).
func TestBeginRefreshOneFlight(t *testing.T) {
	f, m, _, b := loggedIn(t, nil)
	b.get("/") // the session is cached
	raw, err := m.sm.readSessionCookie(b.request(http.MethodGet, "/"))
	if err != nil {
		t.Fatal(err)
	}
	key := m.sm.sessionKey(raw)
	e := m.sessions.get(key)
	if e == nil {
		t.Fatal("the session is not cached")
	}
	f.clock.Advance(250 * time.Second) // past the refresh point, tokens still valid
	before := len(f.tokenRequests())
	release := f.hold()
	now := f.clock.Now().Unix()
	f1 := m.sm.beginRefresh(key, e, now)
	f2 := m.sm.beginRefresh(key, e, now)
	if f1 == nil || f1 != f2 {
		t.Fatalf("flights %p and %p, want one shared flight", f1, f2)
	}
	waitBlocked(t, f, 1)
	release()
	select {
	case <-f1.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the refresh did not finish")
	}
	if n := len(f.tokenRequests()) - before; n != 1 {
		t.Errorf("%d refresh grants, want 1", n)
	}
	if f1.err != nil || f1.rep == nil {
		t.Fatalf("flight outcome %v, %+v; want the successor", f1.err, f1.rep)
	}
	if cur := m.sessions.get(key); cur == nil || cur.next != f1.rep {
		t.Errorf("the old cookie's entry does not point to its successor: %+v", cur)
	}
}

// TestBeginRefreshBounded: with maxRefreshes in flight, no new refresh starts (a hanging provider must not pile up
// goroutines) and the caller gets nil.
func TestBeginRefreshBounded(t *testing.T) {
	f, sm := testManager(t)
	for i := 0; i < maxRefreshes; i++ {
		sm.reg.flights["flight-"+strconv.Itoa(i)] = &refreshFlight{done: make(chan struct{})}
	}
	d, raw := sealedSession(t, sm, "chain-3")
	if fl := sm.beginRefresh(sm.sessionKey(raw), &entry{data: d}, sm.mw.now().Unix()); fl != nil {
		t.Errorf("beginRefresh with %d refreshes in flight returned a flight, want nil", maxRefreshes)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(f.tokenRequests()); n != 0 {
		t.Errorf("%d token requests past the bound, want 0", n)
	}
}
