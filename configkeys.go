package descopeoidc

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Unknown configuration keys. Traefik decodes the plugin's configuration with mapstructure onto the struct
// CreateConfig returns, matching keys to field names case-insensitively and dropping the keys it has no field for:
// `requiredRole: admin` (singular) would build a middleware that lets every signed-in user through. The ",remain"
// fields (Config.Unknown, ClaimRule.Unknown) collect those keys instead, and New fails naming each one with the
// closest known key. authParams and forwardHeaders are maps with free-form keys: nothing to check there.

// checkUnknownKeys fails when the decoder left keys over, at the top level, in a claimRules entry or under redis.
func checkUnknownKeys(c *Config) error {
	if len(c.Unknown) != 0 {
		return unknownKeysError("", c.Unknown, knownKeys(reflect.TypeOf(Config{})))
	}
	for i, r := range c.ClaimRules {
		if len(r.Unknown) != 0 {
			return unknownKeysError(fmt.Sprintf("claimRules[%d].", i), r.Unknown, knownKeys(reflect.TypeOf(ClaimRule{})))
		}
	}
	if c.Redis != nil && len(c.Redis.Unknown) != 0 {
		return unknownKeysError("redis.", c.Redis.Unknown, knownKeys(reflect.TypeOf(RedisConfig{})))
	}
	return nil
}

// unknownKeysError names every left-over key (sorted) and the known key closest to each.
func unknownKeysError(prefix string, left map[string]any, known []string) error {
	keys := make([]string, 0, len(left))
	for k := range left {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s%s: unknown key (did you mean `%s%s`?)", prefix, k, prefix, closestKey(k, known)))
	}
	return fmt.Errorf("%s", strings.Join(parts, "; "))
}

// knownKeys are the documented keys of a configuration struct: its json names (the same as the field names but for
// case, which mapstructure ignores), without the ",remain" field.
func knownKeys(t reflect.Type) []string {
	keys := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		name := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// closestKey is the known key with the smallest edit distance to k, compared case-insensitively (the first of
// equals, in declaration order).
func closestKey(k string, known []string) string {
	best, bestD := "", -1
	lk := strings.ToLower(k)
	for _, c := range known {
		if d := editDistance(lk, strings.ToLower(c)); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b. It loops over bytes, which is slow under Yaegi, but runs only
// when New is about to fail, on configuration keys (short, and capped here at 64 bytes).
func editDistance(a, b string) int {
	if len(a) > 64 {
		a = a[:64]
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = minInt(minInt(prev[j]+1, cur[j-1]+1), prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}
