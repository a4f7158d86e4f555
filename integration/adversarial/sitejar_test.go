package adversarial

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/badidp"
)

// siteBrowser keeps cookies the way a browser does where Go's cookiejar does not, for the login of the app:
//   - it drops a cookie whose name and value exceed 4096 bytes (RFC 6265bis 5.6, what Chromium and Firefox do);
//   - it drops __Secure- cookies without Secure, and __Host- cookies without Secure, with a Domain or a Path other
//     than "/" (RFC 6265bis 4.1.3);
//   - on a cross-site navigation (the provider sending the browser back) and every redirect continuing it, it sends
//     no SameSite=Strict cookie; a navigation started by a page of the app (meta refresh) is same-site again.
//
// This is what headless Chromium does (checked by hand: a 302 from the callback keeps a cross-site chain and a
// Strict cookie set there is not sent on the next hop; a meta refresh from a same-site page sends it).
type siteBrowser struct {
	t       *testing.T
	h       http.Handler
	cookies map[string]*http.Cookie // by name (one host, no Domain games)
	hint    string
}

func newSiteBrowser(t *testing.T, h http.Handler) *siteBrowser {
	return &siteBrowser{t: t, h: h, cookies: map[string]*http.Cookie{}}
}

func (b *siteBrowser) store(set []*http.Cookie) {
	for _, c := range set {
		lower := strings.ToLower(c.Name)
		switch {
		case len(c.Name)+len(c.Value) > 4096:
			continue
		case strings.HasPrefix(lower, "__secure-") && !c.Secure:
			continue
		case strings.HasPrefix(lower, "__host-") && (!c.Secure || c.Domain != "" || c.Path != "/"):
			continue
		}
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
			continue
		}
		b.cookies[c.Name] = c
	}
}

func pathMatches(cookiePath, path string) bool {
	if cookiePath == "" || cookiePath == "/" || path == cookiePath {
		return true
	}
	return strings.HasPrefix(path, strings.TrimSuffix(cookiePath, "/")+"/")
}

// navigate requests uri as a top-level GET; crossSite says who started the navigation.
func (b *siteBrowser) navigate(uri string, crossSite bool) response {
	b.t.Helper()
	hdr := navigation()
	hdr.Set("Sec-Fetch-Site", map[bool]string{true: "cross-site", false: "same-origin"}[crossSite])
	r := appRequest(http.MethodGet, uri, hdr)
	var parts []string
	for _, c := range b.cookies {
		if !pathMatches(c.Path, r.URL.Path) || (crossSite && c.SameSite == http.SameSiteStrictMode) {
			continue
		}
		parts = append(parts, c.Name+"="+c.Value)
	}
	if len(parts) > 0 {
		r.Header.Set("Cookie", strings.Join(parts, "; "))
	}
	resp := serve(b.t, b.h, r)
	b.store(resp.Cookies)
	return resp
}

var metaRefresh = regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=([^"]*)">`)

// follow navigates to uri and on through the app's redirects and self-moving pages, up to the first answer that is
// neither (or a redirect off the app), at most 5 hops.
func (b *siteBrowser) follow(uri string, crossSite bool) response {
	b.t.Helper()
	for i := 0; ; i++ {
		resp := b.navigate(uri, crossSite)
		loc := resp.location()
		switch {
		case i == 5:
			return resp
		case (resp.Status == http.StatusFound || resp.Status == http.StatusSeeOther) && strings.HasPrefix(loc, "/"):
			uri = loc // a redirect continues the navigation, cross-site or not
		case resp.Status == http.StatusOK && metaRefresh.MatchString(resp.Body):
			uri, crossSite = html.UnescapeString(metaRefresh.FindStringSubmatch(resp.Body)[1]), false
		default:
			return resp
		}
	}
}

// login opens target (typed by the user), signs in at the provider and comes back cross-site; it returns the
// answer the navigation ends with.
func (b *siteBrowser) login(idp *badidp.Server, target string) response {
	b.t.Helper()
	start := b.follow(target, false)
	if start.Status != http.StatusFound || !strings.HasPrefix(start.location(), idp.Issuer()+"/authorize?") {
		b.t.Fatalf("GET %.40s: want 302 to the provider, got %s Location %.60q", target, start, start.location())
	}
	au, err := (&browser{t: b.t, hint: b.hint}).authorize(mustParse(b.t, start.location()))
	if err != nil {
		b.t.Fatal(err)
	}
	if au.Host != appHost {
		b.t.Fatalf("provider sent the browser to %s", au)
	}
	return b.follow(au.RequestURI(), true)
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
