package descopeoidc

import (
	"strings"
	"testing"
)

// FuzzClaimPath: parseClaimPath never panics, accepts only paths of non-empty keys within the depth limit, and a
// JSON Pointer it accepts re-encodes to itself (RFC 6901's escaping is reversible).
func FuzzClaimPath(f *testing.F) {
	for _, s := range []string{"sub", "tenants.T1.roles", "/https:~1~1example.com~1roles", "/a~0b/c", "/~01", "a..b", "/", "/a~2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		segs, err := parseClaimPath("k", in)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "k: ") {
				t.Fatalf("error %q does not name the key", err)
			}
			return
		}
		if len(segs) == 0 || len(segs) > maxClaimPathSegments {
			t.Fatalf("%q: %d segments", in, len(segs))
		}
		for _, s := range segs {
			if s == "" {
				t.Fatalf("%q: empty segment accepted", in)
			}
		}
		if strings.HasPrefix(in, "/") {
			var b strings.Builder
			for _, s := range segs {
				b.WriteString("/" + strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1"))
			}
			if b.String() != in {
				t.Fatalf("%q re-encodes to %q", in, b.String())
			}
		} else if strings.Join(segs, ".") != in {
			t.Fatalf("%q: dotted segments %q do not join back", in, segs)
		}
	})
}
