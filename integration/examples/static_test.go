package examples

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"text/template"

	"github.com/traefik/paerser/cli"
	"github.com/traefik/traefik/v3/cmd"
	tcli "github.com/traefik/traefik/v3/pkg/cli"
	"github.com/traefik/traefik/v3/pkg/config/dynamic"
	"github.com/traefik/traefik/v3/pkg/config/static"
	"github.com/traefik/traefik/v3/pkg/provider/file"
	"sigs.k8s.io/yaml"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestStaticExample loads examples/static (the published plugin: no engine of this machine can download it) with
// Traefik's own loaders, as cmd/traefik and the file provider do, and hands its middleware configuration to the
// plugin through Traefik's Yaegi loader with this checkout's source: New must accept it.
func TestStaticExample(t *testing.T) {
	conf := loadStaticConfig(t, repoFile("examples", "static", "traefik.yml"))
	checkPublishedPlugin(t, conf)
	if conf.Providers == nil || conf.Providers.File == nil || !strings.HasSuffix(conf.Providers.File.Filename, "/dynamic.yml") {
		t.Errorf("providers.file.filename = %+v, want the path of dynamic.yml", conf.Providers)
	}

	dyn := loadDynamicFile(t, repoFile("examples", "static", "dynamic.yml"))
	mw, ok := dyn.HTTP.Middlewares["descope-auth"]
	if !ok || mw.Plugin[harness.PluginName] == nil {
		t.Fatalf("dynamic.yml: no middleware descope-auth with plugin %s: %v", harness.PluginName, dyn.HTTP.Middlewares)
	}
	for name, r := range dyn.HTTP.Routers {
		if len(r.Middlewares) != 1 || r.Middlewares[0] != "descope-auth" {
			t.Errorf("router %s: middlewares %v, want [descope-auth]", name, r.Middlewares)
		}
		if _, ok := dyn.HTTP.Services[r.Service]; !ok {
			t.Errorf("router %s: service %q is not defined", name, r.Service)
		}
	}

	// Yaegi captures the environment when the interpreter starts: the values the README asks for, set first.
	t.Setenv("DESCOPE_PROJECT_ID", "P2staticExample0000000000000")
	t.Setenv("DESCOPE_ACCESS_KEY", "static-example-access-key")
	t.Setenv("SESSION_SECRET", sessionSecret)
	y, err := harness.LoadLocal("yaegi", harness.RepoRoot(), harness.ModuleName, harness.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	if _, err := y.Build(mw.Plugin[harness.PluginName], next, "descope-auth@file"); err != nil {
		t.Fatalf("the plugin rejects examples/static/dynamic.yml: %v", err)
	}
}

// TestComposeWithoutOverride reads examples/compose/dynamic.yml as Traefik does for a Docker user against Descope
// (no docker-compose.devidp.yml: OIDC_ISSUER and OIDC_ALLOW_HTTP_ISSUER unset): the issuer must stay empty (derived
// from the project ID), http issuers refused, and the plugin must accept it with the values of .env.example.
// TestCompose runs the file with the override; this is the path no test here can run for real.
func TestComposeWithoutOverride(t *testing.T) {
	for _, name := range []string{"OIDC_ISSUER", "OIDC_ALLOW_HTTP_ISSUER"} {
		t.Setenv(name, "") // restored at the end
		os.Unsetenv(name)
	}
	dyn := loadDynamicFile(t, repoFile("examples", "compose", "dynamic.yml"))
	mw, ok := dyn.HTTP.Middlewares["descope-auth"]
	if !ok || mw.Plugin[harness.PluginName] == nil {
		t.Fatalf("dynamic.yml: no middleware descope-auth with plugin %s", harness.PluginName)
	}
	cfg := mw.Plugin[harness.PluginName]
	// Traefik hands plugin settings over as strings; the plugin decodes the boolean.
	if cfg["issuer"] != "" || fmt.Sprint(cfg["allowInsecureIssuer"]) != "false" {
		t.Errorf("without the override: issuer %#v, allowInsecureIssuer %#v; want \"\" and false", cfg["issuer"], cfg["allowInsecureIssuer"])
	}
	env, err := os.ReadFile(repoFile("examples", "compose", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(env), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
			t.Setenv(k, v)
		}
	}
	y, err := harness.LoadLocal("yaegi", harness.RepoRoot(), harness.ModuleName, harness.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	if _, err := y.Build(cfg, next, "descope-auth@file"); err != nil {
		t.Fatalf("the plugin rejects examples/compose/dynamic.yml with .env.example: %v", err)
	}
}

// TestHelmValues turns examples/kubernetes/traefik-values.yaml into the arguments the Traefik chart renders from
// experimental.plugins (--experimental.plugins.<name>.moduleName/version): Traefik's flag loader must accept them
// and declare the published plugin. (TestKubernetes runs the manifests with the local source instead: the plugin
// catalog is out of reach here.)
func TestHelmValues(t *testing.T) {
	data, err := os.ReadFile(repoFile("examples", "kubernetes", "traefik-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Experimental struct {
			Plugins map[string]map[string]any `json:"plugins"`
		} `json:"experimental"`
		Providers struct {
			KubernetesCRD struct {
				Enabled *bool `json:"enabled"`
			} `json:"kubernetesCRD"`
		} `json:"providers"`
	}
	if err := yaml.UnmarshalStrict(data, &values); err != nil {
		t.Fatalf("traefik-values.yaml: %v", err)
	}
	if e := values.Providers.KubernetesCRD.Enabled; e == nil || !*e {
		t.Errorf("providers.kubernetesCRD.enabled = %v, want true: the example uses IngressRoute and Middleware", e)
	}
	var args []string
	for name, p := range values.Experimental.Plugins { // as traefik/templates/_podtemplate.tpl
		mod, okm := p["moduleName"].(string)
		ver, okv := p["version"].(string)
		if !okm || !okv {
			t.Fatalf("experimental.plugins.%s: the chart requires moduleName and version strings, got %v", name, p)
		}
		args = append(args, "--experimental.plugins."+name+".moduleName="+mod, "--experimental.plugins."+name+".version="+ver)
	}
	tconf := cmd.NewTraefikConfiguration()
	if _, err := (&tcli.FlagLoader{}).Load(args, &cli.Command{Name: "traefik", Configuration: tconf}); err != nil {
		t.Fatalf("Traefik rejects the chart's plugin arguments %v: %v", args, err)
	}
	checkPublishedPlugin(t, &tconf.Configuration)
}

func checkPublishedPlugin(t *testing.T, conf *static.Configuration) {
	t.Helper()
	if conf.Experimental == nil {
		t.Fatal("no experimental section: the plugin is not declared")
	}
	want := pluginVersion(t) // the published plugin as examples/static and the Helm values declare it
	p, ok := conf.Experimental.Plugins[harness.PluginName]
	if !ok || p.ModuleName != harness.ModuleName || p.Version != want {
		t.Errorf("experimental.plugins.%s = %+v (declared %v), want moduleName %s version %s (version.go)",
			harness.PluginName, p, ok, harness.ModuleName, want)
	}
}

// loadStaticConfig loads a static configuration file as cmd/traefik does (its loaders on a TraefikCmdConfiguration
// with the defaults), then SetEffectiveConfiguration and ValidateConfiguration. Unknown top-level sections, which
// Traefik's file loader silently ignores, are errors.
func loadStaticConfig(t *testing.T, filename string) *static.Configuration {
	t.Helper()
	checkTopLevelKeys(t, filename, reflect.TypeOf(static.Configuration{}))
	tconf := cmd.NewTraefikConfiguration()
	ran := false
	command := &cli.Command{
		Name:          "traefik",
		Configuration: tconf,
		Resources:     []cli.ResourceLoader{&tcli.DeprecationLoader{}, &tcli.FileLoader{}, &tcli.FlagLoader{}, &tcli.EnvLoader{}},
		Run:           func([]string) error { ran = true; return nil },
	}
	prev := os.Args
	os.Args = []string{"traefik", "--configFile=" + filename}
	defer func() { os.Args = prev }()
	if err := cli.Execute(command); err != nil || !ran {
		t.Fatalf("Traefik's loaders on %s: %v (ran %v)", filename, err, ran)
	}
	conf := &tconf.Configuration
	conf.SetEffectiveConfiguration()
	if err := conf.ValidateConfiguration(); err != nil {
		t.Fatalf("%s: invalid static configuration: %v", filename, err)
	}
	return conf
}

// loadDynamicFile reads a dynamic configuration file with Traefik's file provider (templating, then decoding).
func loadDynamicFile(t *testing.T, filename string) *dynamic.Configuration {
	t.Helper()
	checkTopLevelKeys(t, filename, reflect.TypeOf(dynamic.Configuration{}))
	conf, err := (&file.Provider{Filename: filename}).CreateConfiguration(context.Background(), filename, template.FuncMap{}, false)
	if err != nil || conf.HTTP == nil {
		t.Fatalf("Traefik's file provider on %s: %v (http section %v)", filename, err, conf != nil && conf.HTTP != nil)
	}
	return conf
}

// checkTopLevelKeys fails on top-level keys of a YAML file that typ does not have (a "provider:" typo would lose the
// providers without a word from Traefik). It reads the unindented "key:" lines: the file provider's templating may
// make the raw file invalid YAML.
func checkTopLevelKeys(t *testing.T, filename string, typ reflect.Type) {
	t.Helper()
	b, err := os.ReadFile(filename)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for i := 0; i < typ.NumField(); i++ {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ",")
		if name == "" {
			name = typ.Field(i).Name
		}
		known[strings.ToLower(name)] = true
	}
	for _, line := range strings.Split(string(b), "\n") {
		key, _, ok := strings.Cut(line, ":")
		if !ok || key == "" || strings.ContainsAny(key[:1], " \t#-") {
			continue
		}
		if !known[strings.ToLower(key)] {
			t.Errorf("%s: unknown top-level section %q (Traefik ignores it)", filename, key)
		}
	}
}
