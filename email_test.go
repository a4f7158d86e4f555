package descopeoidc

import (
	"net/http"
	"testing"
)

func TestEmailVerified(t *testing.T) {
	cases := []struct {
		name      string
		claims    map[string]any // in the ID token
		require   bool
		wantEmail bool
	}{
		{"verified", map[string]any{"email": "a@example.com", "email_verified": true}, false, true},
		{"verified as a string", map[string]any{"email": "a@example.com", "email_verified": "true"}, true, true},
		{"false", map[string]any{"email": "a@example.com", "email_verified": false}, false, false},
		{"false as a string", map[string]any{"email": "a@example.com", "email_verified": "false"}, false, false},
		{"not a boolean", map[string]any{"email": "a@example.com", "email_verified": 1}, false, false},
		{"missing", map[string]any{"email": "a@example.com"}, false, true},
		{"missing, required", map[string]any{"email": "a@example.com"}, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIdP(t)
			f.set(func(f *fakeIdP) { f.extraClaims = tc.claims })
			cfg := f.config()
			cfg.RequireVerifiedEmail = tc.require
			cfg.AllowBearerTokens = true
			cfg.ForwardHeaders = map[string]string{"X-Email": "email"}
			m, up := newMW(t, f, cfg)
			b := newBrowser(t, m)
			b.login("/")
			b.get("/")
			if _, got := up.last()["X-Email"]; got != tc.wantEmail {
				t.Errorf("session: X-Email forwarded %v, want %v", got, tc.wantEmail)
			}
			if rec := serve(m, bearerRequest(f.mint(f.idClaims("")))); rec.Code != http.StatusOK {
				t.Fatalf("bearer: status %d", rec.Code)
			}
			if _, got := up.last()["X-Email"]; got != tc.wantEmail {
				t.Errorf("bearer: X-Email forwarded %v, want %v", got, tc.wantEmail)
			}
		})
	}
}

func TestEmailRulesFailWhenUnverified(t *testing.T) {
	for _, verified := range []bool{true, false} {
		f := newFakeIdP(t)
		f.set(func(f *fakeIdP) {
			f.extraClaims = map[string]any{"email": "boss@example.com", "email_verified": verified}
		})
		cfg := f.config()
		cfg.ClaimRules = []ClaimRule{{Claim: "email", Equals: []string{"boss@example.com"}}}
		m, _ := newMW(t, f, cfg)
		b := newBrowser(t, m)
		b.login("/")
		want := http.StatusOK
		if !verified {
			want = http.StatusForbidden
		}
		if rec := b.get("/"); rec.Code != want {
			t.Errorf("email_verified %v: status %d, want %d", verified, rec.Code, want)
		}
	}
}

// The verification status that counts is the one of the source that gave the email.
func TestEmailVerifiedTravelsWithEmail(t *testing.T) {
	f := newUserinfoIdP(t, map[string]any{"email_verified": true}) // about no email of its own
	f.set(func(f *fakeIdP) { f.extraClaims = map[string]any{"email": "a@example.com", "email_verified": false} })
	cfg := f.config()
	cfg.Userinfo = "always"
	cfg.ForwardHeaders = map[string]string{"X-Email": "email", "X-EV": "email_verified"}
	m, up := newMW(t, f.fakeIdP, cfg)
	b := newBrowser(t, m)
	b.login("/")
	b.get("/")
	if h := up.last(); h.Get("X-Email") != "" || h.Get("X-EV") != "false" || f.hits.Load() != 1 {
		t.Errorf("upstream X-Email %q X-EV %q after %d userinfo requests; want no email, false, 1", h.Get("X-Email"), h.Get("X-EV"), f.hits.Load())
	}
}
