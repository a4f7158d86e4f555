package descopeoidc

import (
	"net/url"
	"strings"
)

// safeRedirectPath accepts only a path (with query) on this host: never //host, /\host, a scheme or control
// characters, in raw or percent-decoded form.
func safeRedirectPath(p string) (string, bool) {
	if p == "" || p[0] != '/' || len(p) > 4096 {
		return "", false
	}
	if strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\t\x00") {
		return "", false
	}
	if dec, err := url.PathUnescape(p); err != nil || strings.HasPrefix(dec, "//") || strings.ContainsAny(dec, "\\\r\n\t\x00") {
		return "", false
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "", false
	}
	return p, true
}
