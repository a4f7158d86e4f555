package descopeoidc

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// TestEntryBytesEstimate: what the session cache counts against cacheMemory (entryBytes) is within a quarter of
// what cached sessions really hold on the Go heap, for small sessions and for sessions with a Descope-sized (JWT)
// refresh token, as requests cache them (thin: thinSession) and as a refresh or re-issue caches its new session
// (whole), so that cacheMemory is the memory the operator gives the cache.
func TestEntryBytesEstimate(t *testing.T) {
	for _, rtLen := range []int{40, 720} {
		for _, whole := range []bool{false, true} {
			t.Run(fmt.Sprintf("refresh token %d B, whole %v", rtLen, whole), func(t *testing.T) {
				measured, estimated := cachedSessionBytes(t, 20000, rtLen, whole)
				t.Logf("per session: %d bytes on the heap, %d estimated", measured, estimated)
				if ratio := float64(estimated) / float64(measured); ratio < 0.75 || ratio > 1.25 {
					t.Errorf("estimate %d bytes per session, heap %d: off by more than a quarter", estimated, measured)
				}
			})
		}
	}
}

// cachedSessionBytes caches n distinct sessions (served once each through a middleware, or whole: as a refresh
// caches its new session) and returns the heap they hold per session once cached, and the cache's estimate.
func cachedSessionBytes(t *testing.T, n, rtLen int, whole bool) (measured, estimated int64) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	now := m.now().Unix()
	cookies := make([]string, n)
	for i := range cookies {
		d := &sessionData{Claims: map[string]any{"sub": fmt.Sprintf("U2benchUser%06d", i), "email": "user@example.com"},
			RefreshToken: fmt.Sprintf("%0*d", rtLen, i), Expiry: now + 3000, Issued: now, Created: now, Seen: now,
			ID: fmt.Sprintf("%032x", i), Kept: "email sub"}
		raw, err := m.sm.sealSession(d)
		if err != nil {
			t.Fatal(err)
		}
		cookies[i] = m.s.cookieName + "=" + raw
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, c := range cookies {
		if whole {
			d, err := m.sm.openSession(strings.TrimPrefix(c, m.s.cookieName+"="))
			if err != nil {
				t.Fatal(err)
			}
			m.sessions.put(strings.Clone(c), m.newSessionEntry(d, now), now) // a key of its own, as a request's would be
			continue
		}
		r := httptest.NewRequest(http.MethodGet, "https://app.example/x", nil)
		r.Header.Set("Cookie", c)
		w := httptest.NewRecorder()
		m.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d for a valid session", w.Code)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(len(m.sessions.m))
	if held != int64(n) {
		t.Fatalf("%d of %d sessions cached", held, n)
	}
	runtime.KeepAlive(cookies)
	return (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / held, m.sessions.bytes / held
}
