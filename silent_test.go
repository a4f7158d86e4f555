package descopeoidc

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// providerError is the callback the provider sends for the authorization request at loc when it answers code.
func providerError(t *testing.T, loc, code string) string {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return "/oauth2/callback?" + url.Values{"error": {code}, "state": {u.Query().Get("state")}}.Encode()
}

func endedSession(t *testing.T, silent bool) (*fakeIdP, *browser, *upstream) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.SilentReauth, cfg.SessionMaxAge = silent, "1h"
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)
	b.login("/")
	f.clock.Advance(2 * time.Hour)
	return f, b, up
}

func TestSilentReauthOff(t *testing.T) {
	_, b, _ := endedSession(t, false)
	rec := b.get("/docs")
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || loc.Query().Get("prompt") != "" {
		t.Fatalf("ended session without silentReauth: status %d Location %q, want an interactive login", rec.Code, loc)
	}
}

func TestSilentReauthFallsBackOnce(t *testing.T) {
	for _, code := range []string{"login_required", "interaction_required", "consent_required", "account_selection_required"} {
		_, b, up := endedSession(t, true)
		rec := b.get("/docs?x=1")
		loc := rec.Header().Get("Location")
		if u, _ := url.Parse(loc); rec.Code != http.StatusFound || u.Query().Get("prompt") != "none" {
			t.Fatalf("ended session: status %d Location %q, want 302 with prompt=none", rec.Code, loc)
		}
		rec = b.get(providerError(t, loc, code))
		again := rec.Header().Get("Location")
		if u, _ := url.Parse(again); rec.Code != http.StatusFound || u.Query().Get("prompt") != "" || u.Query().Get("state") == "" {
			t.Fatalf("%s: status %d Location %q, want the interactive login at once", code, rec.Code, again)
		}
		// The interactive attempt is not silent: the same answer now gets the error page, not another redirect.
		if rec := b.get(providerError(t, again, code)); rec.Code != http.StatusUnauthorized || rec.Header().Get("Location") != "" {
			t.Fatalf("%s on the interactive attempt: status %d Location %q, want the error page", code, rec.Code, rec.Header().Get("Location"))
		}
		// The ended session's cookie was cleared with the silent attempt: a later navigation logs in interactively.
		if u, _ := url.Parse(b.get("/docs?x=1").Header().Get("Location")); u.Query().Get("prompt") != "" {
			t.Fatalf("%s: a later navigation: prompt %q, want an interactive login", code, u.Query().Get("prompt"))
		}
		if up.count() != 0 {
			t.Fatalf("%s: upstream %d without a session", code, up.count())
		}
	}
}

func TestSilentReauthSucceeds(t *testing.T) {
	_, b, up := endedSession(t, true)
	rec := b.get("/docs")
	cb := b.get(b.authorize(rec.Header().Get("Location"))) // the provider's session lives: a code comes back
	if cb.Code != http.StatusFound || cb.Header().Get("Location") != "/docs" {
		t.Fatalf("silent callback: status %d Location %q, want 302 to /docs", cb.Code, cb.Header().Get("Location"))
	}
	if rec := b.get("/docs"); rec.Code != http.StatusOK || up.count() != 1 {
		t.Fatalf("after silent re-authentication: status %d upstream %d", rec.Code, up.count())
	}
}

func TestSilentReauthOnlyForEndedNavigations(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.SilentReauth = true
	m, _ := newMW(t, f, cfg)
	rec := newBrowser(t, m).get("/")
	if u, _ := url.Parse(rec.Header().Get("Location")); u.Query().Get("prompt") != "" {
		t.Errorf("first visit: prompt %q, want an interactive login", u.Query().Get("prompt"))
	}
	_, b, _ := endedSession(t, true)
	r := b.request(http.MethodGet, "/api")
	r.Header.Set("Sec-Fetch-Mode", "cors")
	if rec := b.do(r); rec.Code != http.StatusUnauthorized {
		t.Errorf("API request with an ended session: status %d, want 401", rec.Code)
	}
	// Forged: an error callback for a state this browser never got does not start anything.
	if rec := b.get("/oauth2/callback?error=login_required&state=not-a-state"); rec.Code != http.StatusUnauthorized {
		t.Errorf("error callback with an unknown state: status %d, want the error page", rec.Code)
	}
}
