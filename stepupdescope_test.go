package descopeoidc

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// Step-up with Descope (issue 19 item 5): amr is on the session token (the access token), not on the ID token, and
// the ID token has no auth_time, whatever max_age asked.

// requiredAMR is met by the amr of the verified JWT access token of the step-up login when the ID token has none.
func TestStepUpAMRFromTheAccessToken(t *testing.T) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.atClaims = map[string]any{"amr": []string{"pwd", "mfa"}, "aud": testClientID} })
	_, up, b := stepUpMW(t, f, func(c *Config) { c.RequiredAMR = []string{"mfa"} })
	rec := b.get("/vault")
	cb := b.get(b.authorize(rec.Header().Get("Location")))
	if cb.Code != http.StatusFound || cb.Header().Get("Location") != "/vault" {
		t.Fatalf("amr [pwd mfa] on the access token only: callback %d to %q, want 302 back to /vault", cb.Code, cb.Header().Get("Location"))
	}
	if rec := b.get("/vault"); rec.Code != http.StatusOK || up.count() != 1 {
		t.Fatalf("after login: status %d upstream %d", rec.Code, up.count())
	}
	// claimsFrom without accessToken: the access token's amr is not read, the step-up is not met (403, no loop).
	_, _, b = stepUpMW(t, f, func(c *Config) { c.RequiredAMR = []string{"mfa"}; c.ClaimsFrom = []string{"idToken", "userinfo"} })
	rec = b.get("/vault")
	if cb := b.get(b.authorize(rec.Header().Get("Location"))); cb.Code != http.StatusForbidden {
		t.Errorf("claimsFrom idToken,userinfo: callback %d, want 403", cb.Code)
	}
}

// maxAuthAge with projectID and no auth_time: the login's start counts as the authentication; the session is then
// served until maxAuthAge has passed, and a re-authentication (prompt=login) restores it. No 401 at the callback.
func TestStepUpMaxAuthAgeWithoutAuthTime(t *testing.T) {
	f := newFakeIdP(t)
	_, up, b := stepUpMW(t, f, func(c *Config) { c.MaxAuthAge, c.ProjectID = "5m", "P2proj" })
	rec := b.get("/pay")
	f.clock.Advance(30 * time.Second) // the user takes 30s to sign in
	cb := b.get(b.authorize(rec.Header().Get("Location")))
	if cb.Code != http.StatusFound || cb.Header().Get("Location") != "/pay" {
		t.Fatalf("ID token without auth_time: callback %d to %q, want 302 back to /pay", cb.Code, cb.Header().Get("Location"))
	}
	f.clock.Advance(4 * time.Minute)
	if rec := b.get("/pay"); rec.Code != http.StatusOK {
		t.Fatalf("4m30s after the login started: status %d", rec.Code)
	}
	f.clock.Advance(31 * time.Second)
	rec = b.get("/pay")
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || loc.Query().Get("prompt") != "login" {
		t.Fatalf("5m01s after the login started: status %d Location %q, want 302 with prompt=login", rec.Code, loc)
	}
	if cb := b.get(b.authorize(loc.String())); cb.Code != http.StatusFound {
		t.Fatalf("re-authentication: callback %d", cb.Code)
	}
	if rec := b.get("/pay"); rec.Code != http.StatusOK || up.count() != 2 {
		t.Errorf("after re-authentication: status %d upstream %d, want 200 and 2 upstream calls", rec.Code, up.count())
	}
}

// requireStepUp with the callback at a middleware without the rule (its session keeps no su of its own): su is
// taken from the ID token when it has one, else from the verified access token; amr likewise from the access token.
func TestStepUpClaimsAtAnotherMiddleware(t *testing.T) {
	for name, set := range map[string]func(f *fakeIdP){
		"su on the ID token":     func(f *fakeIdP) { f.extraClaims = map[string]any{"su": true, "amr": []string{"mfa"}} },
		"su on the access token": func(f *fakeIdP) { f.atClaims = map[string]any{"su": true, "amr": []string{"mfa"}, "aud": testClientID} },
	} {
		f := newFakeIdP(t)
		f.set(set)
		plain, _ := newMW(t, f, f.config())
		m, up, b := stepUpMW(t, f, func(c *Config) { c.RequireStepUp, c.RequiredAMR = true, []string{"mfa"} })
		rec := b.get("/admin")
		b.m = plain
		if cb := b.get(b.authorize(rec.Header().Get("Location"))); cb.Code != http.StatusFound {
			t.Errorf("%s: callback at the plain middleware %d, want 302", name, cb.Code)
			continue
		}
		b.m = m
		if rec := b.get("/admin"); rec.Code != http.StatusOK || up.count() != 1 {
			t.Errorf("%s: status %d upstream %d, want 200", name, rec.Code, up.count())
		}
	}
}
