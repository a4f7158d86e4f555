package scenarios

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/harness"
	"sigs.k8s.io/yaml"
)

// TestUnknownConfigKeys (issue 18 item 3): through Traefik's own loader (its mapstructure decode onto the
// interpreted Config) and compiled, a misspelt key fails the build naming the key and the closest known one; keys in
// another case are the same keys (mapstructure ignores case); a claimRules entry's keys are checked, authParams and
// forwardHeaders keys are free-form. Before, each of these built a middleware that ignored the key.
func TestUnknownConfigKeys(t *testing.T) {
	base := func(extra map[string]any) map[string]any {
		return merge(map[string]any{
			"issuer": "https://idp.example.com", "clientID": "c", "clientSecret": "s", "sessionSecret": sessionSecret,
		}, extra)
	}
	next := http.NotFoundHandler()
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		bad := []struct {
			cfg  map[string]any
			want string
		}{
			{map[string]any{"requiredRole": "admin"}, "requiredRole: unknown key (did you mean `requiredRoles`?)"},
			{map[string]any{"clientSecrett": "x"}, "clientSecrett: unknown key (did you mean `clientSecret`?)"},
			{map[string]any{"ExcludedPath": "/public"}, "ExcludedPath: unknown key (did you mean `excludedPaths`?)"},
			{map[string]any{"claimRules": []any{map[string]any{"claim": "org", "Equal": "acme"}}},
				"claimRules[0].Equal: unknown key (did you mean `claimRules[0].equals`?)"},
		}
		for _, tc := range bad {
			_, err := tg.Build(base(tc.cfg), next, "keys")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v: Build error %v, want one containing %q", tc.cfg, err, tc.want)
			}
		}
		good := base(map[string]any{
			"REQUIREDROLES": "admin", "cookiesecure": "false", "LogLevel": "error",
			"claimRules":     []any{map[string]any{"CLAIM": "org", "equals": "acme"}},
			"authParams":     map[string]any{"anything_goes": "1", "acr_values": "x"},
			"forwardHeaders": map[string]any{"X-Any-Name": "sub"},
		})
		if _, err := tg.Build(good, next, "keys"); err != nil {
			t.Errorf("known keys in other cases, free-form map keys: %v", err)
		}
	})
}

// TestManifestTestDataLoads: the plugin catalog builds the middleware with .traefik.yml's testData; with unknown keys
// now failing New, every key there must be a known one.
func TestManifestTestDataLoads(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(harness.RepoRoot(), ".traefik.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		TestData map[string]any `json:"testData"`
	}
	if err := yaml.Unmarshal(raw, &manifest); err != nil || len(manifest.TestData) == 0 {
		t.Fatalf(".traefik.yml: testData %v (%v)", manifest.TestData, err)
	}
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		if _, err := tg.Build(manifest.TestData, http.NotFoundHandler(), "catalog"); err != nil {
			t.Errorf("testData: %v", err)
		}
	})
}
