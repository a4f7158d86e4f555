package descopeoidc

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

func TestCallbackIssuerRFC9207(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	ctx := context.Background()
	cases := []struct {
		name string
		q    url.Values
		want string // error substring; empty = accepted
	}{
		{"no iss, not advertised", url.Values{}, ""},
		{"right iss", url.Values{"iss": {f.issuer}}, ""},
		{"other iss", url.Values{"iss": {"https://attacker.example"}}, `expected "` + f.issuer + `", got ["https://attacker.example"]`},
		{"iss with a trailing slash", url.Values{"iss": {f.issuer + "/"}}, "iss mismatch"},
		{"two iss", url.Values{"iss": {f.issuer, f.issuer}}, "iss mismatch"},
		{"empty iss", url.Values{"iss": {""}}, "iss mismatch"},
	}
	for _, tc := range cases {
		err := m.checkCallbackIssuer(ctx, tc.q)
		if tc.want == "" && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.want != "" {
			mustContain(t, tc.name, fmt.Sprint(err), tc.want)
		}
	}

	g := newFakeIdP(t)
	g.set(func(f *fakeIdP) {
		f.mutateDisc = func(d map[string]any) { d["authorization_response_iss_parameter_supported"] = true }
	})
	m2, _ := newMW(t, g, g.config())
	mustContain(t, "advertised, missing", fmt.Sprint(m2.checkCallbackIssuer(ctx, url.Values{})), "without iss although")
	if err := m2.checkCallbackIssuer(ctx, url.Values{"iss": {g.issuer}}); err != nil {
		t.Errorf("advertised, present: %v", err)
	}
}

// A callback with a foreign iss fails with 400 before the code is redeemed.
func TestCallbackWithForeignIssuerRedeemsNothing(t *testing.T) {
	f := newFakeIdP(t)
	m, up := newMW(t, f, f.config())
	b := newBrowser(t, m)
	loc := b.get("/app").Header().Get("Location")
	cb, err := url.Parse(b.authorize(loc))
	if err != nil {
		t.Fatal(err)
	}
	q := cb.Query()
	q.Set("iss", "https://attacker.example")
	cb.RawQuery = q.Encode()
	rec := b.get(cb.String())
	if rec.Code != http.StatusBadRequest || len(f.tokenRequests()) != 0 || up.count() != 0 {
		t.Errorf("status %d, %d token requests, upstream %d; want 400 and nothing redeemed", rec.Code, len(f.tokenRequests()), up.count())
	}
	if c := setCookies(rec)[m.s.cookieName]; c != nil && c.MaxAge >= 0 {
		t.Error("a session cookie was set")
	}
}
