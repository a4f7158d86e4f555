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
		c := newEntryCache(10, defaultCacheMemory)
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

// TestEntryCacheEviction: a cache never holds more than either bound, keeps what was just put, evicts a tenth of
// its capacity at a time (so that eviction runs once per tenth of the puts, visiting only what it drops), and counts
// exactly the entries it dropped.
func TestEntryCacheEviction(t *testing.T) {
	const now = 1000
	var evicted uint64
	c := newEntryCache(10, defaultCacheMemory)
	c.evictions = &evicted
	for i := 0; i < 10; i++ {
		c.put("k"+strconv.Itoa(i), &entry{endAt: now + 100}, now)
	}
	if evicted != 0 || len(c.m) != 10 {
		t.Fatalf("%d entries, %d evicted, before the cache was full", len(c.m), evicted)
	}
	c.put("new", &entry{endAt: now + 100}, now)
	if len(c.m) != 9 || c.get("new") == nil || evicted != 2 {
		t.Fatalf("full cache: %d entries after a put (%d evicted), want 8 kept of 10 and the new one", len(c.m), evicted)
	}
	for i := 0; i < 50; i++ {
		c.put("live"+strconv.Itoa(i), &entry{endAt: now + 100}, now)
		if len(c.m) > 10 || c.get("live"+strconv.Itoa(i)) == nil {
			t.Fatalf("cache at %d entries, or the entry just put is missing", len(c.m))
		}
	}
	if want := uint64(11 + 50 - len(c.m)); evicted != want {
		t.Errorf("%d evictions counted, %d entries dropped", evicted, want)
	}
}

// TestEntryCacheMemoryBound: the byte bound holds as sessions of different sizes come and go, and the cache's count
// of its bytes is the sum of what it holds, through puts, replacements, removals and logouts.
func TestEntryCacheMemoryBound(t *testing.T) {
	one := entryBytes("key-0000", &entry{data: &sessionData{ID: "chain-0"}})
	c := newEntryCache(maxCachedEntries, 50*one)
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		key := "key-" + strconv.Itoa(i%300)
		d := &sessionData{ID: "chain-" + strconv.Itoa(i%40), RefreshToken: strings.Repeat("r", rng.Intn(800))}
		switch rng.Intn(4) {
		case 0:
			c.remove(key)
		case 1:
			c.dropChain(d.ID)
		case 2:
			c.replaceIf(key, c.get(key), &entry{data: d})
		default:
			c.put(key, &entry{data: d}, 0)
		}
		sum := int64(0)
		for k, e := range c.m {
			sum += entryBytes(k, e)
		}
		if sum != c.bytes || c.bytes > c.maxBytes {
			t.Fatalf("step %d: the cache counts %d bytes, holds %d, bound %d", i, c.bytes, sum, c.maxBytes)
		}
	}
	if len(c.m) < 10 {
		t.Errorf("only %d entries left: the bound evicts too much", len(c.m))
	}
}

func TestEntryCacheReplaceIf(t *testing.T) {
	c := newEntryCache(10, defaultCacheMemory)
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
