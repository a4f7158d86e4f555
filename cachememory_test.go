package descopeoidc

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
)

// TestEntryBytesEstimate: what the session cache counts against cacheMemory (entryBytes) is within a quarter of
// what cached sessions really hold on the Go heap, for small sessions and for sessions with a Descope-sized (JWT)
// refresh token, so that cacheMemory is the memory the operator gives the cache. (Under Traefik's Yaegi loader:
// integration/benchmarks, BenchmarkSessionCacheHeap.)
func TestEntryBytesEstimate(t *testing.T) {
	for _, rtLen := range []int{40, 720} {
		t.Run(fmt.Sprintf("refresh token %d B", rtLen), func(t *testing.T) {
			measured, estimated := cachedSessionBytes(t, 20000, rtLen)
			t.Logf("per session: %d bytes on the heap, %d estimated", measured, estimated)
			if ratio := float64(estimated) / float64(measured); ratio < 0.75 || ratio > 1.25 {
				t.Errorf("estimate %d bytes per session, heap %d: off by more than a quarter", estimated, measured)
			}
		})
	}
}

// cachedSessionBytes serves n distinct sessions once each through a middleware and returns the heap they hold per
// session once cached, and the cache's estimate per session.
func cachedSessionBytes(t *testing.T, n, rtLen int) (measured, estimated int64) {
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
