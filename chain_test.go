package descopeoidc

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func chainEntry(id string, gen int64) *entry {
	return &entry{data: &sessionData{ID: id, Gen: gen}, refreshAt: 5000, seenAt: never, endAt: 9000}
}

func TestChainMarks(t *testing.T) {
	const now = 1000
	g := newSessionRegistry()
	c := g.policyFor("policy", nil, defaultCacheMemory).cache
	first := chainEntry("a", 0)
	if g.admit(c, "g0", first, now) != first || c.get("g0") != first {
		t.Fatal("a fresh chain is not admitted")
	}
	if g.admit(c, "g0", chainEntry("a", 0), now) != first {
		t.Error("a second admission of the same cookie must return the entry cached first")
	}
	if !g.handOut(&sessionData{ID: "a", Gen: 1}, 9000, now) {
		t.Fatal("handing out generation 1 refused")
	}
	if g.superseded(&sessionData{ID: "a", Gen: 1}, now+100) {
		t.Error("the newest generation is superseded")
	}
	if g.superseded(&sessionData{ID: "a", Gen: 0}, now+refreshGrace-1) || !g.superseded(&sessionData{ID: "a", Gen: 0}, now+refreshGrace) {
		t.Errorf("generation 0 must work for %ds after generation 1 was handed out, and no longer", refreshGrace)
	}
	// an old generation opened again within its grace: served, not cached, not refreshed, ends with the grace
	old := chainEntry("a", 0)
	if g.admit(c, "g0-again", old, now+5) != old || c.get("g0-again") != nil {
		t.Error("an old generation within its grace must be admitted without being cached")
	}
	if old.refreshAt != never || old.endAt != now+refreshGrace {
		t.Errorf("old generation in its grace: refreshAt %d endAt %d, want never and %d", old.refreshAt, old.endAt, now+refreshGrace)
	}
	if g.admit(c, "g0-late", chainEntry("a", 0), now+refreshGrace) != nil {
		t.Error("an old generation is admitted after its grace")
	}
	if !g.handOut(&sessionData{ID: "a", Gen: 0}, 9000, now+refreshGrace) || g.chains["a"].gen != 1 {
		t.Error("handing out an older generation must not move the chain back")
	}
	// logout ends the chain: cached entries go, nothing comes back
	g.admit(c, "g1", chainEntry("a", 1), now)
	g.admit(c, "other", chainEntry("b", 0), now)
	g.end("a", 9000, now)
	if c.get("g0") != nil || c.get("g1") != nil || c.get("other") == nil {
		t.Error("end must drop the chain's entries and only those")
	}
	if g.admit(c, "g1", chainEntry("a", 1), now) != nil || g.handOut(&sessionData{ID: "a", Gen: 2}, 9000, now) {
		t.Error("an ended chain admits or hands out a cookie")
	}
	if g.replaceIf(c, "g1", nil, chainEntry("a", 1)) || c.get("g1") != nil {
		t.Error("replaceIf brings back an ended chain")
	}
	if !g.superseded(&sessionData{ID: "a", Gen: 5}, now) {
		t.Error("a newer generation of an ended chain is not refused")
	}
}

func TestChainMarksAreBounded(t *testing.T) {
	g := newSessionRegistry()
	for i := 0; i < maxChains; i++ { // half of them end at 2000, half at 12000
		g.end("chain-"+time.Duration(i).String(), int64(2000+i%2*10000), 1000)
	}
	if n := len(g.chains); n != maxChains {
		t.Fatalf("%d chain marks, want %d", n, maxChains)
	}
	g.end("late", 20000, 5000) // full: the expired marks go first, and only they
	if n := len(g.chains); n != maxChains/2+1 || !g.chains["late"].ended {
		t.Errorf("after evicting the expired marks: %d left, want %d with the new one", n, maxChains/2+1)
	}
	for i := 0; i < maxChains; i++ { // a flood of live marks: arbitrary ones go, the limit holds
		g.end("flood-"+time.Duration(i).String(), 20000, 5000)
	}
	if n := len(g.chains); n > maxChains {
		t.Errorf("%d chain marks after a flood, limit %d", n, maxChains)
	}
}

// TestIdleReissueOncePerInterval: a client that keeps sending the cookie it had before an idle-timeout re-issue gets
// one re-issue per interval, not one per request: 500 requests, one new cookie value, two cache entries.
func TestIdleReissueOncePerInterval(t *testing.T) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.expiresIn = 7200 })
	cfg := f.config()
	cfg.SessionIdleTimeout = "10m"
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)
	b.login("/")
	first := b.cookie(m.s.cookieName)
	f.clock.Advance(3 * time.Minute) // past a quarter of the idle timeout
	values := map[string]bool{}
	for i := 0; i < 500; i++ {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, withCookies("/", first))
		if rec.Code != http.StatusOK {
			t.Fatalf("request %d: status %d", i, rec.Code)
		}
		if c := setCookies(rec)[m.s.cookieName]; c != nil {
			values[c.Value] = true
		}
	}
	m.sessions.mu.RLock()
	entries := len(m.sessions.m)
	m.sessions.mu.RUnlock()
	if len(values) != 1 || entries != 2 || up.count() != 500 {
		t.Errorf("500 requests with the pre-re-issue cookie: %d new cookie values, %d cache entries, upstream %d; want 1, 2, 500",
			len(values), entries, up.count())
	}
	// the re-issued session records the activity: 8 more minutes later (11 after login) it still works, while the
	// first cookie, idle for 11 minutes by its own time, has ended
	var second string
	for v := range values {
		second = v
	}
	f.clock.Advance(8 * time.Minute)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, withCookies("/", &http.Cookie{Name: m.s.cookieName, Value: second}))
	if rec.Code != http.StatusOK {
		t.Errorf("re-issued cookie 8 minutes after its activity: status %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	m.ServeHTTP(rec, withCookies("/", first))
	if rec.Code != http.StatusFound {
		t.Errorf("the first cookie, 11 minutes after its own activity time: status %d, want a login", rec.Code)
	}
}
