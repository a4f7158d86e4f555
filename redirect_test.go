package descopeoidc

import (
	"strings"
	"testing"
)

func TestSafeRedirectPath(t *testing.T) {
	cases := map[string]bool{
		"/":                             true,
		"/a/b?x=1&y=%2F":                true,
		"/a%20b":                        true,
		"":                              false,
		"a/b":                           false,
		"//evil.example":                false,
		"///evil.example":               false,
		"/\\evil.example":               false,
		"/%2F%2Fevil.example":           false,
		"/%2f/evil.example":             false,
		"/%5Cevil.example":              false,
		"/\t/evil.example":              false,
		"/%09/evil.example":             false,
		"/x\r\nSet-Cookie: a=b":         false,
		"/x%0d%0aSet-Cookie:%20a=b":     false,
		"https://evil.example":          false,
		"javascript:alert(1)":           false,
		"/%zz":                          false,
		"/" + strings.Repeat("a", 5000): false,
	}
	for p, ok := range cases {
		got, gotOK := safeRedirectPath(p)
		if gotOK != ok || (ok && got != p) {
			t.Errorf("safeRedirectPath(%q) = %q, %v; want ok=%v", p, got, gotOK, ok)
		}
	}
}
