package descopeoidc

import (
	"net/url"
	"path"
	"strings"
	"testing"
)

// FuzzExcludedPath: whatever the request path (raw, as it comes off the wire, then decoded as Go's server decodes
// it), when the matcher lets it through for a prefix entry, every way an upstream may resolve it stays under that
// prefix: as is, with ';' parameters dropped from each segment (Tomcat, Jetty, Spring), with '\' read as '/'
// (Windows-style servers), with both. And a path is excluded only when it equals an exact entry, sits below a
// prefix or matches a regular expression.
func FuzzExcludedPath(f *testing.F) {
	for _, s := range []string{
		"/public/x", "/public/..;/admin", "/public/..%3B/admin", "/public/..%3b/admin", "/public/..%5Cadmin",
		`/public/..\admin`, "/public/..;jsessionid=x/admin", "/public/a;v=1/b", "/public/%2e%2e%3B/%2E%2E;/admin",
		"/public/;/../admin", "/assets/x", "/assets/..;a;b/x", "/img/a/..;/b", "/public", "/public;x",
	} {
		f.Add(s)
	}
	p := &pathMatcher{}
	p.add("/public")
	p.add("/assets/")
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.ParseRequestURI(raw)
		if err != nil || u.Path == "" {
			return
		}
		pth := u.Path
		if !p.match(pth) {
			return
		}
		if pth == "/public" {
			return
		}
		for _, form := range upstreamForms(pth) {
			if !strings.HasPrefix(form, "/public/") && form != "/public" && !strings.HasPrefix(form, "/assets/") {
				t.Fatalf("%q (path %q) excluded, but an upstream may resolve it to %q", raw, pth, form)
			}
		}
	})
}

// upstreamForms is how upstreams of several kinds resolve a decoded path (path.Clean resolves dot segments and
// empty ones, keeping a trailing slash as a directory would).
func upstreamForms(p string) []string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if k := strings.IndexByte(s, ';'); k >= 0 {
			segs[i] = s[:k]
		}
	}
	noParams := strings.Join(segs, "/")
	slash := strings.ReplaceAll(p, "\\", "/")
	both := strings.ReplaceAll(noParams, "\\", "/")
	var out []string
	for _, f := range []string{p, noParams, slash, both} {
		c := path.Clean(f)
		if strings.HasSuffix(f, "/") && c != "/" {
			c += "/"
		}
		out = append(out, c)
	}
	return out
}
