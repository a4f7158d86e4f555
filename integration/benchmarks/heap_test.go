package benchmarks

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// jwtOnlySrc is a plugin that imports github.com/golang-jwt/jwt/v5 and nothing else of ours: what Yaegi holds for the
// vendored library alone.
const jwtOnlySrc = `package jwtonly

import (
	"context"
	"net/http"

	"github.com/golang-jwt/jwt/v5"
)

type Config struct{}

func CreateConfig() *Config { return &Config{} }

type h struct{ next http.Handler }

func New(ctx context.Context, next http.Handler, c *Config, name string) (http.Handler, error) {
	_, _ = jwt.Parse("x.y.z", func(*jwt.Token) (any, error) { return nil, nil })
	return &h{next}, nil
}

func (x *h) ServeHTTP(w http.ResponseWriter, r *http.Request) { x.next.ServeHTTP(w, r) }
`

// BenchmarkInterpretedHeap is the live heap (after GC) that one interpreter holds once Traefik's loader has loaded
// a plugin and built one middleware from it, in MiB: the Yaegi floor (bench/passthrough, Traefik's stdlib symbols),
// the vendored jwt/v5 alone, and descopeoidc (its own code plus jwt/v5). It is what the RSS target of `make bench`
// weighs: Go's GC lets the heap grow to about twice the live heap.
//
//	go test -run '^$' -bench InterpretedHeap -benchtime 3x ./benchmarks/
func BenchmarkInterpretedHeap(b *testing.B) {
	jwtDir, err := jwtOnlyPlugin(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	plugins := []struct {
		name string
		load func() (*harness.Yaegi, error)
		cfg  map[string]any
	}{
		{"passthrough", func() (*harness.Yaegi, error) {
			return harness.LoadLocal("yaegi", filepath.Join(harness.RepoRoot(), "bench", "passthrough"), "github.com/traefik-descope/passthrough", "passthrough")
		}, map[string]any{}},
		{"jwt-only", func() (*harness.Yaegi, error) {
			return harness.LoadLocal("yaegi", jwtDir, "example.com/jwtonly", "jwtonly")
		}, map[string]any{}},
		{"descopeoidc", func() (*harness.Yaegi, error) {
			return harness.LoadLocal("yaegi", harness.RepoRoot(), harness.ModuleName, harness.PluginName)
		}, nil},
	}
	for _, p := range plugins {
		b.Run(p.name, func(b *testing.B) {
			var total float64
			for i := 0; i < b.N; i++ {
				before := liveHeapMiB()
				y, err := p.load()
				if err != nil {
					b.Fatal(err)
				}
				cfg := p.cfg
				if cfg == nil {
					cfg = mustFixture(b).config(nil) // the provider only answers discovery, after New
				}
				h, err := y.Build(cfg, noop, "heap")
				if err != nil {
					b.Fatal(err)
				}
				total += liveHeapMiB() - before
				runtime.KeepAlive(h)
			}
			b.ReportMetric(total/float64(b.N), "live-MiB")
		})
	}
}

func liveHeapMiB() float64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

// jwtOnlyPlugin writes the jwt-only plugin into dir: what harness.CopyPlugin takes of the repository (go.mod and
// vendor/ with jwt/v5), with jwtonly.go in place of the plugin's own files.
func jwtOnlyPlugin(dir string) (string, error) {
	if err := harness.CopyPlugin(harness.RepoRoot(), dir); err != nil {
		return "", err
	}
	own, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return "", err
	}
	for _, f := range own {
		if err := os.Remove(f); err != nil {
			return "", err
		}
	}
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	files := map[string]string{
		"jwtonly.go":   jwtOnlySrc,
		"go.mod":       strings.Replace(string(mod), "module "+harness.ModuleName, "module example.com/jwtonly", 1),
		".traefik.yml": "displayName: jwt only\ntype: middleware\nimport: example.com/jwtonly\nsummary: heap of jwt/v5 under Yaegi\ntestData: {}\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}
