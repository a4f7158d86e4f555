package examples

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// pluginVersion is the plugin's version constant (version.go), which the examples must pin.
func pluginVersion(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(repoFile("version.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^const version = "([^"]+)"`).FindSubmatch(src)
	if m == nil {
		t.Fatal(`version.go: no line const version = "..."`)
	}
	return string(m[1])
}

// releaseCopy copies what .ci/release-check.sh reads into a temporary directory (not a git work tree).
func releaseCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"version.go", "CHANGELOG.md", "examples/static/traefik.yml", "examples/static/README.md",
		"examples/kubernetes/traefik-values.yaml", "examples/local/traefik.yml"} {
		b, err := os.ReadFile(repoFile(f))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func releaseCheck(dir string) (string, error) {
	out, err := exec.Command("bash", repoFile(".ci", "release-check.sh"), dir).CombinedOutput()
	return string(out), err
}

func rewrite(t *testing.T, file, old, repl string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), old, repl, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReleaseCheck: make release-check passes on the repository and fails, naming the place, when one of the
// version's homes disagrees with version.go.
func TestReleaseCheck(t *testing.T) {
	v := pluginVersion(t)
	if out, err := releaseCheck(releaseCopy(t)); err != nil || !strings.Contains(out, v) {
		t.Fatalf("release-check on this checkout: %v\n%s", err, out)
	}
	bump := "v9.9.9"
	cases := []struct{ file, old, repl, want string }{
		{"version.go", `"` + v + `"`, `"` + bump + `"`, "CHANGELOG.md's top entry is " + v + ", version.go says " + bump},
		{"examples/static/traefik.yml", "version: " + v, "version: " + bump, "examples/static/traefik.yml pins version " + bump},
		{"examples/kubernetes/traefik-values.yaml", "version: " + v, "version: " + bump, "traefik-values.yaml pins version " + bump},
		{"examples/static/README.md", "(`" + v + "`)", "(`" + bump + "`)", "examples/static/README.md quotes version " + bump},
		{"CHANGELOG.md", "## [" + v[1:] + "]", "## [" + bump[1:] + "] - 2026-12-08\n\n## [" + v[1:] + "]", "top entry is " + bump},
		{"version.go", `"` + v + `"`, `"0.1"`, "is not vMAJOR.MINOR.PATCH"},
	}
	for _, c := range cases {
		dir := releaseCopy(t)
		rewrite(t, filepath.Join(dir, c.file), c.old, c.repl)
		out, err := releaseCheck(dir)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%s changed to %q: release-check err=%v, output %q; want a failure saying %q", c.file, c.repl, err, out, c.want)
		}
	}
}

// TestManifestTestData: what the Traefik plugin catalog does with .traefik.yml, offline. Its testData builds a
// middleware under Traefik's Yaegi loader and compiled, with no provider reachable: New does no network I/O.
func TestManifestTestData(t *testing.T) {
	raw, err := os.ReadFile(repoFile(".traefik.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Type     string         `json:"type"`
		Import   string         `json:"import"`
		Runtime  string         `json:"runtime"`
		TestData map[string]any `json:"testData"`
	}
	if err := yaml.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.Type != "middleware" || manifest.Import != harness.ModuleName || manifest.Runtime != "yaegi" || len(manifest.TestData) == 0 {
		t.Fatalf(".traefik.yml: type %q import %q runtime %q testData %v", manifest.Type, manifest.Import, manifest.Runtime, manifest.TestData)
	}
	targets, err := harness.Targets()
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		start := time.Now()
		if _, err := tg.Build(manifest.TestData, http.NotFoundHandler(), "catalog"); err != nil {
			t.Errorf("%s: New with .traefik.yml's testData: %v", tg.Name(), err)
		}
		if d := time.Since(start); d > 5*time.Second && tg.Name() == "compiled" {
			t.Errorf("%s: New took %v", tg.Name(), d)
		}
	}
}
