package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// ExampleDynamic returns examples/local/dynamic.yml, the dynamic configuration the demo and the tests start from.
func ExampleDynamic() ([]byte, error) {
	return os.ReadFile(filepath.Join(harness.RepoRoot(), "examples", "local", "dynamic.yml"))
}

// DeriveDynamic returns base with lines inserted right after the first line whose trimmed text starts with after,
// indented like that line. Tests use it to add one setting to the example (for instance after "sessionSecret:" for
// a middleware option, or after "X-Forwarded-User:" for a forwardHeaders entry) instead of keeping a second copy of
// the file: the example stays the single source, and a derived file differs from it only by the inserted lines.
func DeriveDynamic(base []byte, after string, lines ...string) ([]byte, error) {
	src := strings.Split(string(base), "\n")
	for i, l := range src {
		trimmed := strings.TrimLeft(l, " ")
		if !strings.HasPrefix(trimmed, after) {
			continue
		}
		indent := l[:len(l)-len(trimmed)]
		out := make([]string, 0, len(src)+len(lines))
		out = append(out, src[:i+1]...)
		for _, add := range lines {
			out = append(out, indent+add)
		}
		out = append(out, src[i+1:]...)
		return []byte(strings.Join(out, "\n")), nil
	}
	return nil, fmt.Errorf("dynamic configuration: no line starting with %q to insert after", after)
}
