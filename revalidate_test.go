package descopeoidc

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSessionRevalidate: with sessionRevalidate the session goes back to the provider (a refresh) once that long has
// passed since its tokens were obtained, long before the refresh point; without it, nothing is sent then.
func TestSessionRevalidate(t *testing.T) {
	for _, tc := range []struct {
		revalidate string
		grants     int64 // token requests after 61 s: the code exchange, and the refresh when revalidating
	}{{"", 1}, {"60s", 2}} {
		f, m, _, b := loggedIn(t, func(c *Config) { c.SessionRevalidate = tc.revalidate })
		f.clock.Advance(61 * time.Second) // 5-minute tokens: the refresh point is 4 minutes away
		if rec := b.get("/"); rec.Code != http.StatusOK {
			t.Fatalf("sessionRevalidate %q: status %d", tc.revalidate, rec.Code)
		}
		settleRefreshes(t, m)
		if n := f.tokenHits.Load(); n != tc.grants {
			t.Errorf("sessionRevalidate %q: %d token requests after 61s, want %d", tc.revalidate, n, tc.grants)
		}
	}
}

// TestSessionRevalidateEndsARefusedSession: the provider refuses the refresh (its session was ended): with
// sessionRevalidate the session ends at once, not when its tokens expire.
func TestSessionRevalidateEndsARefusedSession(t *testing.T) {
	f, m, up, b := loggedIn(t, func(c *Config) { c.SessionRevalidate = "60s" })
	f.set(func(f *fakeIdP) { f.refreshError = "invalid_grant" })
	f.clock.Advance(61 * time.Second)
	if rec := b.get("/"); rec.Code != http.StatusOK { // served while the revalidation runs: the tokens are valid
		t.Fatalf("status %d", rec.Code)
	}
	settleRefreshes(t, m)
	before := up.count()
	rec := b.get("/")
	if rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), f.url("/authorize")) {
		t.Errorf("after the refused revalidation: status %d Location %q, want a login", rec.Code, rec.Header().Get("Location"))
	}
	if up.count() != before {
		t.Error("the refused session reached upstream")
	}
}

func TestSessionRevalidateSetting(t *testing.T) {
	if s := settingsWith(t, func(c *Config) { c.SessionRevalidate = "5m" }, ""); s.revalidate != 5*time.Minute {
		t.Errorf("revalidate %s, want 5m", s.revalidate)
	}
	settingsWith(t, func(c *Config) { c.SessionRevalidate = "5s" }, "sessionRevalidate")
	settingsWith(t, func(c *Config) { c.SessionRevalidate = "48h" }, "sessionRevalidate")
	settingsWith(t, func(c *Config) { c.SessionRevalidate = "soon" }, "sessionRevalidate")
}
