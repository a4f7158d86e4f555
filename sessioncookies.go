package descopeoidc

import (
	"net/http"
	"strconv"
	"strings"
)

// Several cookies with the session's name: after a cookieDomain change the browser keeps the old host-only cookie
// beside the new Domain one (and sends the older first), and a sibling subdomain can plant one on the parent domain.
// The first one alone used to count: refused, it was cleared with the configured Domain, which deleted the good one
// and kept the bad one, and every request started a login. Now each of them is tried (at most maxSameNameSessions),
// and clearing expires the host-only and the Domain variants (expireCookie).

// maxSameNameSessions bounds the cookies named like the session that a request is served by.
const maxSameNameSessions = 4

// pickSession is sessionValue for a request that may carry several session cookies: the first whose session is
// cached or opens, else the first one's (whose refusal the caller reports). One cookie of the name: sessionValue.
func (sm *sessionManager) pickSession(cookies []*http.Cookie) (string, error) {
	n := 0
	for _, c := range cookies {
		if c.Name == sm.s.cookieName {
			n++
		}
	}
	if n <= 1 {
		return sm.sessionValue(cookies)
	}
	if n > maxSameNameSessions {
		n = maxSameNameSessions
	}
	first, firstErr := sm.sessionValue(cookies)
	for i := 0; i < n; i++ {
		raw, err := chunkedValueAt(cookies, sm.chunkNames, i)
		if err != nil {
			continue
		}
		if sm.cache.get(sm.sessionKey(raw)) != nil {
			return raw, nil
		}
		if _, err := sm.openSession(raw); err == nil {
			return raw, nil
		}
	}
	return first, firstErr
}

// chunkedValueAt reassembles a value written by writeChunked under names (names[0] the main cookie; a chunked value
// is "<n>.<chunk0>" there and the rest in names[1…n-1]) from the occ-th cookie of each name (the first when a chunk
// name occurs fewer times): a browser sends the cookies of one name oldest first, so the occ-th chunks belong
// together. occ 0 is what r.Cookie would read.
func chunkedValueAt(cookies []*http.Cookie, names []string, occ int) (string, error) {
	v, ok := nthCookieValue(cookies, names[0], occ)
	if !ok {
		return "", errNoCookie
	}
	dot := strings.IndexByte(v, '.')
	if dot < 0 {
		return v, nil
	}
	n, err := strconv.Atoi(v[:dot])
	if err != nil || n < 2 || n > len(names) {
		return "", errBadCookie
	}
	parts := make([]string, n)
	parts[0] = v[dot+1:]
	for i := 1; i < n; i++ {
		ci, ok := nthCookieValue(cookies, names[i], occ)
		if !ok {
			if ci, ok = cookieValue(cookies, names[i]); !ok {
				return "", errBadCookie
			}
		}
		parts[i] = ci
	}
	return strings.Join(parts, ""), nil
}

func nthCookieValue(cookies []*http.Cookie, name string, occ int) (string, bool) {
	for _, c := range cookies {
		if c.Name != name {
			continue
		}
		if occ == 0 {
			return c.Value, true
		}
		occ--
	}
	return "", false
}

// expireCookie deletes the cookie name on path as the plugin sets it (with cookieDomain) and, when cookieDomain is
// set, its host-only variant too (one from before a cookieDomain change, or planted by the host).
func (sm *sessionManager) expireCookie(w http.ResponseWriter, name, path string) {
	http.SetCookie(w, sm.newCookie(name, "", path, -1))
	if sm.s.cookieDomain != "" {
		c := sm.newCookie(name, "", path, -1)
		c.Domain = ""
		http.SetCookie(w, c)
	}
}
