package descopeoidc

import (
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSettle: an entry's hitUntil, read by the fast paths, serves exactly when the five checks it folds would (not
// replaced, not denied, now before refreshAt, endAt and seenAt in whole seconds), as the cache stores the entry.
func TestSettle(t *testing.T) {
	cases := []struct {
		name string
		e    entry
		want time.Duration
	}{
		{"endAt first", entry{refreshAt: 30, endAt: 20, seenAt: 40}, 20 * time.Second},
		{"seenAt first", entry{refreshAt: 30, endAt: 50, seenAt: 10}, 10 * time.Second},
		{"replaced", entry{refreshAt: 30, endAt: 20, seenAt: 40, next: &replacement{}}, 0},
		{"denied", entry{refreshAt: 30, endAt: 20, seenAt: 40, denied: "forbidden"}, 0},
		{"never", entry{refreshAt: never, endAt: never, seenAt: never}, math.MaxInt64},
	}
	for _, tc := range cases {
		c := newEntryCache(10)
		e := tc.e
		c.put("k", &e, 0)
		if got := c.get("k").hitUntil; got != tc.want {
			t.Errorf("%s: hitUntil %v, want %v", tc.name, got, tc.want)
		}
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 10000; i++ {
		e := entry{refreshAt: 1000 + rng.Int63n(20), endAt: 1000 + rng.Int63n(20), seenAt: 1000 + rng.Int63n(20)}
		if rng.Intn(8) == 0 {
			e.denied = "x"
		}
		settle(&e)
		now := time.Unix(1000, 0).Add(time.Duration(rng.Int63n(int64(21 * time.Second))))
		old := e.next == nil && now.Unix() < e.refreshAt && now.Unix() < e.endAt && now.Unix() < e.seenAt && e.denied == ""
		if fast := now.Sub(unixEpoch) < e.hitUntil; fast != old {
			t.Fatalf("entry %+v at %v: fast path %v, the checks it folds say %v", e, now, fast, old)
		}
	}
}

// TestCacheKey: values up to maxRawKey are their own key; longer ones are keyed by a 32-byte SHA-256, so that the
// cache does not grow with what clients send.
func TestCacheKey(t *testing.T) {
	small := strings.Repeat("v", maxRawKey)
	if cacheKey(small) != small {
		t.Errorf("cacheKey of %d bytes is %d bytes, want the value itself", len(small), len(cacheKey(small)))
	}
	large := strings.Repeat("cookie-value", 200)
	k := cacheKey(large)
	if len(k) != 32 || strings.Contains(k, "cookie-value") {
		t.Errorf("cacheKey of %d bytes is %d bytes / holds the value, want a 32-byte digest", len(large), len(k))
	}
	if cacheKey(large+"x") == k || cacheKey(large) != k || cacheKey(small+"x") == cacheKey(small) {
		t.Error("cacheKey is not deterministic and distinct")
	}
}

func TestEntryCacheEviction(t *testing.T) {
	const now = 1000
	c := newEntryCache(10)
	for i := 0; i < 10; i++ {
		end := int64(now + 100)
		if i%2 == 0 {
			end = now - 1 // expired
		}
		c.put("k"+strconv.Itoa(i), &entry{endAt: end}, now)
	}
	c.put("new", &entry{endAt: now + 100}, now)
	if len(c.m) != 6 || c.get("new") == nil {
		t.Fatalf("after eviction %d entries, want the 5 live ones and the new one", len(c.m))
	}
	for i := 1; i < 10; i += 2 {
		if c.get("k"+strconv.Itoa(i)) == nil {
			t.Errorf("live entry k%d evicted while expired ones were available", i)
		}
	}
	for i := 0; i < 20; i++ { // only live entries: the cache drops some but never grows past max
		c.put("live"+strconv.Itoa(i), &entry{endAt: now + 100}, now)
		if len(c.m) > 10 {
			t.Fatalf("cache grew to %d", len(c.m))
		}
	}
	if c.get("live19") == nil {
		t.Error("the entry just put is missing")
	}
}

func TestEntryCacheReplaceIf(t *testing.T) {
	c := newEntryCache(10)
	a, b, x := &entry{}, &entry{}, &entry{}
	c.put("k", a, 0)
	c.replaceIf("k", x, b) // x is not current: no change
	if c.get("k") != a {
		t.Error("replaced although the entry changed concurrently")
	}
	c.replaceIf("k", a, b)
	if c.get("k") != b {
		t.Error("not replaced")
	}
	c.remove("k")
	c.replaceIf("k", a, x)
	if c.get("k") != x {
		t.Error("a missing entry is not stored")
	}
}

func TestUsedStates(t *testing.T) {
	const now = 1000
	u := newUsedStates()
	if !u.use("s1", now+600, now) {
		t.Fatal("fresh state refused")
	}
	if u.use("s1", now+600, now) {
		t.Fatal("state redeemed twice")
	}

	// Many logins, none expired, below the limit: every one stays remembered.
	u = newUsedStates()
	n := maxUsedStates - maxUsedStates/20
	for i := 0; i < n; i++ {
		u.use("s"+strconv.Itoa(i), now+600, now)
	}
	forgotten := 0
	for i := 0; i < n; i++ {
		if u.use("s"+strconv.Itoa(i), now+600, now) {
			forgotten++
		}
	}
	if forgotten != 0 {
		t.Errorf("%d of %d redeemed states forgotten below the limit", forgotten, n)
	}

	// Full of expired states: they are dropped first.
	u = newUsedStates()
	for i := 0; i < maxUsedStates; i++ {
		u.use("old"+strconv.Itoa(i), now-1, now-600)
	}
	if !u.use("fresh", now+600, now) || len(u.m) != 1 {
		t.Errorf("expired states not cleaned: %d left", len(u.m))
	}

	// Flooded with live states: it forgets some, never grows past the limit, and still records the new one.
	u = newUsedStates()
	for i := 0; i < maxUsedStates+50; i++ {
		u.use("live"+strconv.Itoa(i), now+600, now)
		if len(u.m) > maxUsedStates {
			t.Fatalf("grew to %d", len(u.m))
		}
	}
	if u.use("live"+strconv.Itoa(maxUsedStates+49), now+600, now) {
		t.Error("the latest state is forgotten")
	}
}

// TestSessionKeyIsTheCookiePair: a session within maxRawKey is cached under the pair a browser sends, so that the hot
// path looks a Cookie header line up as it is; a chunked one under its digest. A line with anything more, or the
// value alone, is not the key (it goes the parsing way).
func TestSessionKeyIsTheCookiePair(t *testing.T) {
	_, m, _, b := loggedIn(t, nil)
	b.get("/") // caches the session
	c := b.cookie(m.s.cookieName)
	pair := m.s.cookieName + "=" + c.Value
	if m.sm.sessionKey(c.Value) != pair || m.sessions.get(pair) == nil {
		t.Fatalf("session cached under %d bytes, want the %d-byte pair %s=…", len(m.sm.sessionKey(c.Value)), len(pair), m.s.cookieName)
	}
	for _, k := range []string{c.Value, pair + ";", pair + "; a=1", " " + pair} {
		if m.sessions.get(k) != nil {
			t.Errorf("%.40q… is a session key", k)
		}
	}
	long := strings.Repeat("v", maxRawKey+1)
	if k := m.sm.sessionKey(long); len(k) != 32 || k != cacheKey(long) {
		t.Errorf("key of a %d-byte session is %d bytes, want its 32-byte digest", len(long), len(k))
	}
}
