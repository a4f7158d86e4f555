package benchmarks

import (
	"path/filepath"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// loadAlt loads a modified copy of the plugin (BENCH_PLUGIN_SRC=<dir>) with Traefik's Yaegi loader, as a third
// target "yaegi-alt", to compare a change with the current code in one process:
//
//	cp -r . /tmp/alt && (edit /tmp/alt/*.go) && BENCH_PLUGIN_SRC=/tmp/alt go test -run '^$' -bench Cookie ./benchmarks/
func loadAlt(src string) (harness.Target, error) {
	return harness.LoadLocal("yaegi-alt", src, harness.ModuleName, harness.PluginName)
}

// loadPassthrough loads bench/passthrough, the Yaegi middleware that only calls next: the floor of any plugin.
func loadPassthrough() (harness.Target, error) {
	return harness.LoadLocal("yaegi", filepath.Join(harness.RepoRoot(), "bench", "passthrough"), "github.com/traefik-descope/passthrough", "passthrough")
}
