package descopeoidc

import (
	"regexp"
	"strings"
)

// pathMatcher decides which paths pass without login (excludedPaths). A configured path matches whole segments:
// "/public" matches /public and everything below /public/, never /public-admin; "/public/" matches below it. An
// entry starting with "^" is a regular expression on the path. A path with a "." or ".." segment or an empty one
// ("//"), also once ";" parameters are dropped from each segment, or with a "\" is never excluded: the upstream
// may resolve it to somewhere else (Traefik's sanitizePath cleans dot segments by default, not ";" or "\"; this
// does not rely on it). See cleanPath.
type pathMatcher struct {
	any      bool     // anything configured: the hot path skips match otherwise
	exact    []string // "/public": the path itself
	prefixes []string // "/public/": everything below
	regexps  []*regexp.Regexp
}

func (p *pathMatcher) add(entry string) {
	p.any = true
	if strings.HasSuffix(entry, "/") {
		p.prefixes = append(p.prefixes, entry)
		return
	}
	p.exact = append(p.exact, entry)
	p.prefixes = append(p.prefixes, entry+"/")
}

func (p *pathMatcher) match(path string) bool {
	for _, re := range p.regexps {
		if re.MatchString(path) {
			return cleanPath(path)
		}
	}
	for _, e := range p.exact {
		if path == e {
			return true
		}
	}
	for _, pre := range p.prefixes {
		if strings.HasPrefix(path, pre) {
			return cleanPath(path)
		}
	}
	return false
}

// cleanPath reports whether path has no ".", ".." or empty segment, no backslash, and no segment that is one of
// those once its ";" parameters are dropped. Tomcat, Jetty and Spring drop ";jsessionid=..." style parameters from
// each segment before resolving dot segments (the CVE-2020-1957 pattern: /public/..;/admin serves /admin), and
// Windows-style upstreams read "\" as "/"; r.URL.Path is already percent-decoded, so %3B and %5C (in any case)
// arrive here as ";" and "\". Traefik v3.6 neither rejects nor cleans either character.
func cleanPath(path string) bool {
	if strings.IndexByte(path, '\\') >= 0 {
		return false
	}
	if strings.IndexByte(path, ';') >= 0 {
		path = dropSegmentParams(path)
	}
	return !strings.Contains(path, "//") && !strings.Contains(path, "/./") && !strings.Contains(path, "/../") &&
		!strings.HasSuffix(path, "/.") && !strings.HasSuffix(path, "/..")
}

// dropSegmentParams removes from each segment what follows its first ';' (RFC 2396 path parameters, as servlet
// containers do): "/a/..;x=1/b;y" becomes "/a/../b". Rare path (only paths with ';'): loops over segments with
// strings calls, never over bytes.
func dropSegmentParams(path string) string {
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if k := strings.IndexByte(seg, ';'); k >= 0 {
			segs[i] = seg[:k]
		}
	}
	return strings.Join(segs, "/")
}
