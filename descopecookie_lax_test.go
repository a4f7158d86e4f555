package descopeoidc

import (
	"net/http"
	"testing"
)

// TestDescopeCookieLaxForUnsafeMethods (issue 18 item 9): the DS cookie is used with SameSite=Lax semantics whatever
// its attributes: a cross-site POST (or PUT, DELETE) carrying only DS is not authenticated (CSRF if the project made
// DS SameSite=None), a same-origin or same-site one is, and safe methods always are. Before, every one was served.
func TestDescopeCookieLaxForUnsafeMethods(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.DescopeSessionCookie = "DS"
	m, up := newMW(t, f, cfg)
	b := newBrowser(t, m)
	c := f.idClaims("")
	c["exp"] = f.clock.Now().Unix() + 300
	ds := f.mint(c)
	cases := []struct {
		method, site, origin string
		served               bool
	}{
		{http.MethodPost, "cross-site", "https://evil.example", false},
		{http.MethodPost, "cross-site", "", false},
		{http.MethodPut, "", "https://evil.example", false},
		{http.MethodDelete, "", "null", false},
		{http.MethodPatch, "cross-site", appOrigin, false}, // the browser's Sec-Fetch-Site wins
		{http.MethodPost, "same-origin", appOrigin, true},
		{http.MethodPost, "same-site", "https://other.app.example", true},
		{http.MethodPost, "", appOrigin, true},
		{http.MethodPost, "", "", true}, // not a browser's cross-site request
		{http.MethodGet, "cross-site", "https://evil.example", true},
		{http.MethodHead, "cross-site", "", true},
	}
	for _, tc := range cases {
		r := dsRequest(b, "/app", "DS="+ds)
		r.Method = tc.method
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		before := up.count()
		rec := b.do(r)
		if served := up.count() == before+1; served != tc.served || (served && rec.Code != http.StatusOK) {
			t.Errorf("%s Sec-Fetch-Site %q Origin %q: status %d, served %v; want served %v", tc.method, tc.site, tc.origin, rec.Code, served, tc.served)
		}
	}
}
