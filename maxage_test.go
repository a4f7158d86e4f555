package descopeoidc

import (
	"net/http"
	"testing"
)

// Issue 18 item 10: authParams.max_age travels in the login state, so the callback checks auth_time against it
// whichever middleware serves the (shared) callback path; and a callback middleware's own max_age does not apply to
// a login that never sent it.
func TestAuthParamsMaxAgeAtAnyCallback(t *testing.T) {
	f := newFakeIdP(t)
	withAge := f.config()
	withAge.AuthParams = map[string]string{"max_age": "60"}
	strict, _ := newMW(t, f, withAge)
	plain, _ := newMW(t, f, f.config())
	now := f.clock.Now().Unix()
	cases := []struct {
		name        string
		start, back *Middleware
		claims      map[string]any // extra ID token claims
		want        int
	}{
		{"sent max_age, auth_time too old, callback elsewhere", strict, plain, map[string]any{"auth_time": now - 3600}, http.StatusUnauthorized},
		{"sent max_age, no auth_time, callback elsewhere", strict, plain, nil, http.StatusUnauthorized},
		{"sent max_age, auth_time recent, callback elsewhere", strict, plain, map[string]any{"auth_time": now - 10}, http.StatusFound},
		{"sent max_age, auth_time too old, own callback", strict, strict, map[string]any{"auth_time": now - 3600}, http.StatusUnauthorized},
		{"no max_age sent, callback at a max_age middleware", plain, strict, nil, http.StatusFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.set(func(f *fakeIdP) { f.extraClaims = tc.claims })
			b := newBrowser(t, tc.start)
			rec := b.get("/private")
			if rec.Code != http.StatusFound {
				t.Fatalf("start: status %d", rec.Code)
			}
			b.m = tc.back
			if cb := b.get(b.authorize(rec.Header().Get("Location"))); cb.Code != tc.want {
				t.Errorf("callback: status %d, want %d", cb.Code, tc.want)
			}
		})
	}
}
