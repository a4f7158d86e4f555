// Package harness builds the descopeoidc middleware two ways from the same configuration map: through Traefik's own
// Yaegi plugin loader (pkg/plugins, exactly as Traefik does in local plugin mode) and compiled. Tests run the same
// scenarios against both and compare.
package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/mitchellh/mapstructure"
	"github.com/traefik-descope/descopeoidc"
	"github.com/traefik/traefik/v3/pkg/plugins"
)

// ModuleName is the plugin's module path, as in Traefik's static configuration.
const ModuleName = "github.com/traefik-descope/descopeoidc"

// PluginName is the alias used in Traefik's experimental.localPlugins.
const PluginName = "descopeoidc"

// Target builds a middleware handler from a Traefik-style configuration map.
type Target interface {
	Name() string
	Build(cfg map[string]any, next http.Handler, name string) (http.Handler, error)
}

// RepoRoot is the plugin repository root (the parent of the integration module).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Compiled builds the middleware with the Go compiler, decoding the map as Traefik does (mapstructure, weakly
// typed, "a,b" to lists).
type Compiled struct{}

func (Compiled) Name() string { return "compiled" }

func (Compiled) Build(cfg map[string]any, next http.Handler, name string) (http.Handler, error) {
	c := descopeoidc.CreateConfig()
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook:       mapstructure.StringToSliceHookFunc(","),
		WeaklyTypedInput: true,
		Result:           c,
	})
	if err != nil {
		return nil, err
	}
	if err := dec.Decode(cfg); err != nil {
		return nil, fmt.Errorf("failed to decode configuration: %w", err)
	}
	return descopeoidc.New(context.Background(), next, c, name)
}

// Yaegi builds the middleware through Traefik's plugin builder. One builder (one interpreter) is shared by all
// middlewares of a process, as in Traefik, so package-level caches behave as they do there.
type Yaegi struct {
	builder     *plugins.Builder
	alias, name string
}

func (y *Yaegi) Name() string { return y.name }

func (y *Yaegi) Build(cfg map[string]any, next http.Handler, name string) (http.Handler, error) {
	ctor, err := y.builder.Build(y.alias, cfg, name)
	if err != nil {
		return nil, err
	}
	return ctor(context.Background(), next)
}

var (
	yaegiOnce sync.Once
	yaegiInst *Yaegi
	yaegiErr  error
	chdirMu   sync.Mutex
)

// LoadYaegi loads the plugin from a copy of the repository under a temporary plugins-local tree, once per process.
func LoadYaegi() (*Yaegi, error) {
	yaegiOnce.Do(func() {
		yaegiInst, yaegiErr = LoadLocal("yaegi", RepoRoot(), ModuleName, PluginName)
	})
	return yaegiInst, yaegiErr
}

// LoadLocal loads the plugin whose source is in src (module path, alias in the static configuration) with Traefik's
// local plugin loader, from a copy under a temporary plugins-local tree, as a target called name. Each call is a
// new interpreter, as Traefik has one per plugin.
func LoadLocal(name, src, module, alias string) (*Yaegi, error) {
	dir, err := os.MkdirTemp("", "descopeoidc-yaegi-")
	if err != nil {
		return nil, err
	}
	if err := CopyPlugin(src, filepath.Join(dir, "plugins-local", "src", module)); err != nil {
		return nil, err
	}
	chdirMu.Lock()
	defer chdirMu.Unlock()
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
	return &Yaegi{builder: b, alias: alias, name: name}, nil
}

// CopyPlugin copies what Traefik needs of the plugin (non-test Go files of the root package, go.mod, go.sum,
// .traefik.yml and vendor/) into dst.
func CopyPlugin(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		keep := (strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go")) || n == "go.mod" || n == "go.sum" || n == ".traefik.yml"
		if e.Type().IsRegular() && keep {
			if err := copyFile(filepath.Join(src, n), filepath.Join(dst, n)); err != nil {
				return err
			}
		}
	}
	if _, err := os.Stat(filepath.Join(src, "vendor")); os.IsNotExist(err) {
		return nil // a plugin without dependencies
	}
	return copyTree(filepath.Join(src, "vendor"), filepath.Join(dst, "vendor"))
}

func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		return copyFile(p, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Targets returns the compiled and the Yaegi target; the Yaegi one fails loudly if the plugin does not load.
func Targets() ([]Target, error) {
	y, err := LoadYaegi()
	if err != nil {
		return nil, fmt.Errorf("loading the plugin with Traefik's Yaegi loader: %w", err)
	}
	return []Target{Compiled{}, y}, nil
}
