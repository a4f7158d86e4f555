package providers

import (
	"errors"
	"slices"
	"testing"
)

// TestStartersDexOIDCProvider: the registry starts dex and oidc-provider under their names; a failed start is a
// nil Provider, not a typed nil.
func TestStartersDexOIDCProvider(t *testing.T) {
	for _, name := range []string{"dex", "oidcprovider"} {
		if !slices.Contains(Names(), name) {
			t.Fatalf("Names: expected %s in %v", name, Names())
		}
		p, err := Starters[name](testOptions())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Name() != name {
			t.Errorf("%s: Name() = %q", name, p.Name())
		}
		checkDiscovery(t, p)
		if err := p.Close(); err != nil {
			t.Errorf("%s: Close: %v", name, err)
		}
	}
	if p, err := asProvider((*Dex)(nil), errTest); p != nil || err != errTest {
		t.Errorf("asProvider on error: expected a nil Provider and the error, got %v, %v", p, err)
	}
}

var errTest = errors.New("start failed")
