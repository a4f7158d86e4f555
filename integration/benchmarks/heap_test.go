package benchmarks

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
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
// the vendored jwt/v5 alone, and descopeoidc (its own code plus jwt/v5). It is what the idle RSS target of `make
// bench` weighs: Go's GC lets the heap grow to about twice the live heap. It also reports the size of the code the
// interpreter compiled, in Go syntax nodes (go/ast, the files Yaegi loads: no tests), and the live heap per node:
// Yaegi keeps a node of ~320 bytes (interp.node) per syntax node, plus scopes, types and closures, so the idle
// memory grows with the code, and a change that adds code shows what it costs here.
//
//	go test -run '^$' -bench InterpretedHeap -benchtime 3x ./benchmarks/
func BenchmarkInterpretedHeap(b *testing.B) {
	jwtDir, err := jwtOnlyPlugin(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	cfg := mustFixture(b).config(nil) // before measuring: the fixture holds an interpreter of its own
	passDir := filepath.Join(harness.RepoRoot(), "bench", "passthrough")
	plugins := []struct {
		name, dir string
		load      func() (*harness.Yaegi, error)
		cfg       map[string]any
	}{
		{"passthrough", passDir, func() (*harness.Yaegi, error) {
			return harness.LoadLocal("yaegi", passDir, "github.com/traefik-descope/passthrough", "passthrough")
		}, map[string]any{}},
		{"jwt-only", jwtDir, func() (*harness.Yaegi, error) {
			return harness.LoadLocal("yaegi", jwtDir, "example.com/jwtonly", "jwtonly")
		}, map[string]any{}},
		{"descopeoidc", harness.RepoRoot(), func() (*harness.Yaegi, error) {
			return harness.LoadLocal("yaegi", harness.RepoRoot(), harness.ModuleName, harness.PluginName)
		}, cfg}, // the provider only answers discovery, after New
	}
	for _, p := range plugins {
		nodes, err := syntaxNodes(p.dir)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(p.name, func(b *testing.B) {
			var total float64
			for i := 0; i < b.N; i++ {
				before := liveHeapMiB()
				y, err := p.load()
				if err != nil {
					b.Fatal(err)
				}
				h, err := y.Build(p.cfg, noop, "heap")
				if err != nil {
					b.Fatal(err)
				}
				total += liveHeapMiB() - before
				runtime.KeepAlive(h)
			}
			live := total / float64(b.N)
			b.ReportMetric(live, "live-MiB")
			b.ReportMetric(float64(nodes), "ast-nodes")
			b.ReportMetric(live*(1<<20)/float64(nodes), "live-B/node")
		})
	}
}

// syntaxNodes counts the go/ast nodes of the Go files Yaegi loads for the plugin in dir: its own files and those of
// its vendored packages, without tests.
func syntaxNodes(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if filepath.Dir(rel) != "." && !strings.HasPrefix(rel, "vendor"+string(filepath.Separator)) {
			return nil // another package (the repository's integration module, examples): not loaded
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(x ast.Node) bool {
			if x != nil {
				n++
			}
			return true
		})
		return nil
	})
	return n, err
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
