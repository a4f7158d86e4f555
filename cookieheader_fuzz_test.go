package descopeoidc

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzCookieHeaderFilter: whatever the Cookie header lines, after stripCookies no cookie of the plugin survives (as
// Go's parser, which the plugin reads them with, or a trimmed split sees them), and every other pair survives byte
// for byte and in order (up to maxOwnPairs pairs named like the plugin's in a line: over it the line goes whole).
func FuzzCookieHeaderFilter(f *testing.F) {
	seeds := []string{
		"sess=a", "sess=a; theme=dark", `q="quoted"; sess=2.x; sess_1=y`, `j={"a":1}; sess_state_abc=z`,
		"u=Grüße; sess = v ;;", "a=sess=1; sess_=2; sess_12=3; sess_x=4", ";sess=;", "sess", " sess_7 =x;b",
		"__Secure-sess_state_q=1; k=v", "sess=a\nsess_1=b\nc=d",
		"__Secure-sess_logout=h; __Secure-sess_logout_2=i; __Secure-sess_logoutx=k; __Secure-sess_logout_=l",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	m := &Middleware{own: newOwnCookies("sess", "__Secure-sess_state_", "__Secure-sess_logout")}
	own := &ownCookies{name: "sess", chunk: "sess_", state: "__Secure-sess_state_", hint: "__Secure-sess_logout"}
	f.Fuzz(func(t *testing.T, header string) {
		lines := strings.Split(header, "\n") // several header lines
		r := &http.Request{Header: http.Header{"Cookie": append([]string(nil), lines...)}}
		stripCookies(m, r)
		out := r.Header["Cookie"]
		for _, c := range r.Cookies() {
			if own.isOwn(c.Name) {
				t.Fatalf("%q: own cookie %q survived in %q", header, c.Name, out)
			}
		}
		var want, got []string
		for _, l := range lines {
			for _, p := range strings.Split(l, ";") {
				if strings.Trim(p, " \t\r\n") != "" && !own.isOwn(pairName(p)) {
					want = append(want, strings.Trim(p, " \t\r\n"))
				}
			}
		}
		in := map[string]bool{}
		for _, l := range lines {
			in[l] = true
		}
		for _, l := range out {
			if strings.Trim(l, " \t\r\n;") == "" && !in[l] { // a line is either the client's, untouched, or has pairs
				t.Fatalf("%q: emptied Cookie line %q kept", header, l)
			}
			for _, p := range strings.Split(l, ";") {
				if strings.Trim(p, " \t\r\n") != "" {
					if own.isOwn(pairName(p)) {
						t.Fatalf("%q: own pair %q survived in %q", header, p, out)
					}
					got = append(got, strings.Trim(p, " \t\r\n"))
				}
			}
		}
		if strings.Count(header, "sess") > maxOwnPairs {
			return // a line over the cap may be dropped whole (TestCookieFilterCap)
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("%q: kept pairs %q, want %q", header, got, want)
		}
	})
}

// pairName is a pair's name as Go's cookie parser reads it.
func pairName(p string) string {
	if i := strings.IndexByte(p, '='); i >= 0 {
		p = p[:i]
	}
	return strings.Trim(p, " \t\r\n")
}
