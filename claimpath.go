package descopeoidc

import (
	"fmt"
	"strings"
)

// maxClaimPathSegments bounds the depth of a claim path (claims nest a few levels at most).
const maxClaimPathSegments = 16

// parseClaimPath parses a claim path of forwardHeaders or claimRules into the keys to follow through nested objects.
// Two forms:
//
//   - dotted: "email", "tenants.T1.roles" (keys without dots);
//   - JSON Pointer (RFC 6901), starting with "/": "/https:~1~1example.com~1roles" is the key
//     "https://example.com/roles", "/tenants/T1/roles" the same as the dotted form; "~1" stands for "/" and "~0" for
//     "~" in a key, and dots are plain characters.
//
// key names the configuration key for the error. Empty keys (".a", "a..b", "//x") are refused.
func parseClaimPath(key, path string) ([]string, error) {
	if path == "" {
		return nil, fmt.Errorf("%s: empty claim path", key)
	}
	var segs []string
	if strings.HasPrefix(path, "/") {
		segs = strings.Split(path[1:], "/")
		for i, s := range segs {
			// Every "~" starts "~0" or "~1" (the two never overlap): removing "~0" first would turn "~~01" into a
			// valid-looking "~1".
			if strings.Count(s, "~") != strings.Count(s, "~0")+strings.Count(s, "~1") {
				return nil, fmt.Errorf("%s: JSON Pointer %q: \"~\" must be followed by 0 or 1 (RFC 6901)", key, path)
			}
			segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
		}
	} else {
		segs = strings.Split(path, ".")
	}
	if len(segs) > maxClaimPathSegments {
		return nil, fmt.Errorf("%s: claim path %q has %d levels, more than %d", key, path, len(segs), maxClaimPathSegments)
	}
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("%s: claim path %q has an empty key (write a key containing dots as a JSON Pointer, "+
				"e.g. \"/https:~1~1example.com~1roles\")", key, path)
		}
	}
	return segs, nil
}
