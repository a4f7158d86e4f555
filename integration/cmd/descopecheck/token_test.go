package main

import (
	"bytes"
	"strings"
	"testing"
)

// Claims outside the shown list appear by name only; a token that is not a JWT is an error.
func TestPrintClaimsHidesValues(t *testing.T) {
	var out bytes.Buffer
	printClaims(&out, map[string]any{"iss": "P2abc", "email": "someone@example.com", "exp": 2e9, "iat": 2e9 - 600,
		"tenants": map[string]any{"T2": nil, "T1": nil}})
	s := out.String()
	for _, want := range []string{`iss:             "P2abc"`, "tenants:         T1 T2", "other claims:    email", "lifetime:        10m0s", "2033-05-18T03:33:20Z"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "someone@example.com") {
		t.Errorf("a profile claim's value is shown:\n%s", s)
	}
	if err := explainToken(&out, "not-a-jwt", derived{}, &docs{}); err == nil {
		t.Error("not a JWT: want an error")
	}
}
