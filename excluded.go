package descopeoidc

import (
	"regexp"
	"strings"
)

// pathMatcher decides which paths pass without login (excludedPaths). A configured path matches whole segments:
// "/public" matches /public and everything below /public/, never /public-admin; "/public/" matches below it. An
// entry starting with "^" is a regular expression on the path. A path with a "." or ".." segment or an empty one
// ("//") is never excluded: the upstream may resolve it to somewhere else (Traefik's sanitizePath
// cleans paths by default; this does not rely on it).
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

// cleanPath reports whether path has no ".", ".." or empty segment.
func cleanPath(path string) bool {
	return !strings.Contains(path, "//") && !strings.Contains(path, "/./") && !strings.Contains(path, "/../") &&
		!strings.HasSuffix(path, "/.") && !strings.HasSuffix(path, "/..")
}
