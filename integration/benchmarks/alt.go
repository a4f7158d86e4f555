package benchmarks

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/traefik-descope/descopeoidc/integration/harness"
	"github.com/traefik/traefik/v3/pkg/plugins"
)

// altTarget loads a modified copy of the plugin (BENCH_PLUGIN_SRC=<dir>) with Traefik's Yaegi loader, as a third
// target "yaegi-alt", to compare a change with the current code in one process:
//
//	cp -r . /tmp/alt && (edit /tmp/alt/*.go) && BENCH_PLUGIN_SRC=/tmp/alt go test -run '^$' -bench Cookie ./benchmarks/
type localTarget struct {
	name, alias string
	b           *plugins.Builder
}

func (t localTarget) Name() string { return t.name }

func (t localTarget) Build(cfg map[string]any, next http.Handler, name string) (http.Handler, error) {
	ctor, err := t.b.Build(t.alias, cfg, name)
	if err != nil {
		return nil, err
	}
	return ctor(context.Background(), next)
}

func loadAlt(src string) (harness.Target, error) {
	return loadLocal("yaegi-alt", src, harness.ModuleName, harness.PluginName)
}

// loadPassthrough loads bench/passthrough, the Yaegi middleware that only calls next: the floor of any plugin.
func loadPassthrough() (harness.Target, error) {
	return loadLocal("yaegi", filepath.Join(harness.RepoRoot(), "bench", "passthrough"), "github.com/traefik-descope/passthrough", "passthrough")
}

// loadLocal loads a plugin from src with Traefik's local plugin loader, as Traefik does (one interpreter per plugin).
func loadLocal(targetName, src, module, alias string) (harness.Target, error) {
	dir, err := os.MkdirTemp("", "descopeoidc-local-")
	if err != nil {
		return nil, err
	}
	if err := harness.CopyPlugin(src, filepath.Join(dir, "plugins-local", "src", module)); err != nil {
		return nil, err
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	if err := os.Chdir(dir); err != nil {
		return nil, err
	}
	defer func() { _ = os.Chdir(wd) }()
	local := map[string]plugins.LocalDescriptor{alias: {ModuleName: module}}
	if err := plugins.SetupLocalPlugins(local); err != nil {
		return nil, fmt.Errorf("plugin %s: SetupLocalPlugins: %w", src, err)
	}
	b, err := plugins.NewBuilder(nil, nil, local)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: NewBuilder: %w", src, err)
	}
	return localTarget{name: targetName, alias: alias, b: b}, nil
}
