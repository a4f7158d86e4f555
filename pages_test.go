package descopeoidc

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// sameOriginPost is a POST from a page of the app, as a browser sends it (with Origin).
func sameOriginPost(b *browser, target string) *http.Request {
	r := b.request(http.MethodPost, target)
	r.Header.Set("Origin", appOrigin)
	return r
}

// TestLogoutPOSTWithoutOrigin: a logout POST without Origin is judged by Sec-Fetch-Site, then Referer; cross-site
// or no evidence at all gets a 403 page with the confirmation button, and the session stays.
func TestLogoutPOSTWithoutOrigin(t *testing.T) {
	cases := []struct {
		name   string
		hdr    map[string]string
		logout bool
	}{
		{"Sec-Fetch-Site same-origin", map[string]string{"Sec-Fetch-Site": "same-origin"}, true},
		{"Sec-Fetch-Site none", map[string]string{"Sec-Fetch-Site": "none"}, true},
		{"Sec-Fetch-Site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site", "Referer": appOrigin + "/"}, false},
		{"Sec-Fetch-Site same-site", map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"Referer on this origin", map[string]string{"Referer": appOrigin + "/page?x=1"}, true},
		{"Referer elsewhere", map[string]string{"Referer": "https://evil.example/"}, false},
		{"Referer on a look-alike host", map[string]string{"Referer": appOrigin + ".evil.example/"}, false},
		{"no evidence", nil, false},
		{"Origin wins over Sec-Fetch-Site", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"}, false},
		{"Origin null", map[string]string{"Origin": "null", "Referer": appOrigin + "/"}, false},
	}
	for _, tc := range cases {
		_, m, b := logoutSetup(t, nil)
		r := b.request(http.MethodPost, "/oauth2/logout")
		for k, v := range tc.hdr {
			r.Header.Set(k, v)
		}
		rec := b.do(r)
		cleared := setCookies(rec)[m.s.cookieName] != nil
		if tc.logout {
			if rec.Code != http.StatusSeeOther || !cleared {
				t.Errorf("%s: status %d cleared %v, want 303 and the session cleared", tc.name, rec.Code, cleared)
			}
			continue
		}
		if rec.Code != http.StatusForbidden || cleared || b.cookie(m.s.cookieName) == nil {
			t.Errorf("%s: status %d cleared %v, want 403 and the session kept", tc.name, rec.Code, cleared)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(rec.Body.String(), `method="post"`) {
			t.Errorf("%s: %q %q, want the confirmation page", tc.name, ct, rec.Body.String())
		}
	}
}

// TestPagesCannotBeFramed: every page the plugin writes forbids framing and any active content.
func TestPagesCannotBeFramed(t *testing.T) {
	pages := map[string]func(w http.ResponseWriter){
		"logout confirmation": func(w http.ResponseWriter) { writeLogoutConfirm(w, http.StatusOK, "/oauth2/logout") },
		"error page":          func(w http.ResponseWriter) { writePage(w, http.StatusForbidden, "t", "m", "/", "l") },
		"continue page":       func(w http.ResponseWriter) { writeContinuePage(w, "/x") },
	}
	for name, write := range pages {
		rec := httptest.NewRecorder()
		write(rec)
		h := rec.Header()
		if h.Get("X-Frame-Options") != "DENY" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			!strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", name, h)
		}
	}
	rec := httptest.NewRecorder()
	writeContinuePage(rec, "/a?x=1&y=\"2\"")
	body := rec.Body.String()
	if rec.Header().Get("Referrer-Policy") != "no-referrer" || !strings.Contains(body, `content="0;url=/a?x=1&amp;y=&#34;2&#34;"`) {
		t.Errorf("continue page: Referrer-Policy %q body %q", rec.Header().Get("Referrer-Policy"), body)
	}
}
