package main

import (
	"bytes"
	"strings"
	"testing"
)

// The derivation the check prints is the plugin's (descopeproject_test.go asserts the same values for the plugin).
func TestDerive(t *testing.T) {
	regional := "Peuc12abcdefghijklmnopqrstuvwxyz0"
	if d := derive(regional, "", ""); d.issuer != "https://api.euc1.descope.com/"+regional || d.clientID != regional {
		t.Errorf("regional: %+v", d)
	}
	d := derive("P2abc", "", "app")
	want := []string{"https://api.descope.com/P2abc", "P2abc", "https://api.descope.com/v1/apps/P2abc"}
	if d.issuer != want[0] || d.clientID != "app" || strings.Join(d.issuers, " ") != strings.Join(want, " ") {
		t.Errorf("P2abc: %+v", d)
	}
	if err := run(nil, strings.NewReader(""), &bytes.Buffer{}, func(string) string { return "" }); err == nil {
		t.Error("no project ID: want an error")
	}
}
