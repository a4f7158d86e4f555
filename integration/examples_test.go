package integration_test

// Tests for the examples users copy (examples/compose, examples/kubernetes, examples/static). Every file is read
// the way Traefik (or Kubernetes) reads it:
//
//   - Kubernetes manifests: Traefik kinds are pruned and validated against the OpenAPI v3 schemas of the CRDs shipped
//     in the traefik module (with the API server's own structural-schema code), then decoded strictly into
//     Traefik's Go types; core kinds are decoded strictly into k8s.io/api types and cross-checked.
//   - The manifests are then served by a fake Kubernetes API server to Traefik's real kubernetescrd provider, which
//     resolves the urn:k8s:secret values of the plugin configuration and builds the dynamic configuration.
//   - Static configurations go through Traefik's own CLI loaders (as cmd/traefik does), dynamic files through the
//     file provider, the Helm values through the flag loader (with the arguments the chart renders).
//   - Every plugin configuration is fed to Traefik's Yaegi plugin loader with this repository's source: New must
//     succeed.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/log"
	"github.com/traefik/paerser/cli"
	"github.com/traefik/traefik/v3/cmd"
	tcli "github.com/traefik/traefik/v3/pkg/cli"
	"github.com/traefik/traefik/v3/pkg/config/dynamic"
	"github.com/traefik/traefik/v3/pkg/config/static"
	"github.com/traefik/traefik/v3/pkg/plugins"
	"github.com/traefik/traefik/v3/pkg/provider/file"
	"github.com/traefik/traefik/v3/pkg/provider/kubernetes/crd"
	traefikv1alpha1 "github.com/traefik/traefik/v3/pkg/provider/kubernetes/crd/traefikio/v1alpha1"
	"github.com/traefik/traefik/v3/pkg/safe"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	kvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"
)

const (
	examplesPluginName   = "descopeoidc"
	examplesModuleName   = "github.com/traefik-descope/descopeoidc"
	examplesPluginMount  = "/plugins-local/src/github.com/traefik-descope/descopeoidc"
	examplesTraefikImage = "traefik:v3.6"
	examplesPluginVer    = "v0.1.0"
)

// ---------------------------------------------------------------------------------------------------------------
// Kubernetes

// TestExampleKubernetesManifests validates every object of examples/kubernetes/manifests: Traefik kinds against the
// CRD schemas (unknown fields are errors, as with kubectl's default strict field validation) and Traefik's Go types,
// core kinds against k8s.io/api types, and the references between them.
func TestExampleKubernetesManifests(t *testing.T) {
	objs := exReadExampleManifests(t)
	crds := exLoadTraefikCRDs(t)

	var (
		namespaces   = map[string]bool{}
		deployments  []*appsv1.Deployment
		services     = map[string]*corev1.Service{}
		secrets      = map[string]*corev1.Secret{}
		middlewares  = map[string]*traefikv1alpha1.Middleware{}
		ingressRoute []*traefikv1alpha1.IngressRoute
	)

	for _, o := range objs {
		t.Run(o.id(), func(t *testing.T) {
			if o.Namespace == "" && o.Kind != "Namespace" {
				t.Errorf("metadata.namespace is not set: kubectl would use the current context's namespace")
			}
			for _, msg := range kvalidation.IsDNS1123Subdomain(o.Name) {
				t.Errorf("metadata.name %q: %s", o.Name, msg)
			}

			gv, err := exSchemaGroupVersion(o.APIVersion)
			if err != nil {
				t.Fatal(err)
			}
			if gv.group == traefikv1alpha1.GroupName {
				exValidateAgainstCRD(t, crds, o)
			}

			switch o.APIVersion + "/" + o.Kind {
			case "v1/Namespace":
				var ns corev1.Namespace
				exStrictDecode(t, o, &ns)
				namespaces[ns.Name] = true
			case "apps/v1/Deployment":
				var d appsv1.Deployment
				exStrictDecode(t, o, &d)
				exCheckDeployment(t, &d)
				deployments = append(deployments, &d)
			case "v1/Service":
				var s corev1.Service
				exStrictDecode(t, o, &s)
				services[s.Namespace+"/"+s.Name] = &s
			case "v1/Secret":
				var s corev1.Secret
				exStrictDecode(t, o, &s)
				if s.Labels["owner"] == "helm" {
					t.Errorf("Traefik ignores Secrets labelled owner=helm")
				}
				secrets[s.Namespace+"/"+s.Name] = &s
			case "traefik.io/v1alpha1/Middleware":
				var m traefikv1alpha1.Middleware
				exStrictDecode(t, o, &m)
				middlewares[m.Namespace+"/"+m.Name] = &m
			case "traefik.io/v1alpha1/IngressRoute":
				var ir traefikv1alpha1.IngressRoute
				exStrictDecode(t, o, &ir)
				ingressRoute = append(ingressRoute, &ir)
			default:
				t.Errorf("unexpected kind %s %s in the Kubernetes example", o.APIVersion, o.Kind)
			}
		})
	}

	// Cross-references.
	for _, o := range objs {
		if o.Kind != "Namespace" && !namespaces[o.Namespace] {
			t.Errorf("%s: namespace %q is not created by the manifests", o.id(), o.Namespace)
		}
	}
	if len(ingressRoute) == 0 || len(middlewares) == 0 || len(secrets) == 0 || len(deployments) == 0 || len(services) == 0 {
		t.Fatalf("the example must have an IngressRoute, a Middleware, a Secret, a Deployment and a Service; got %d, %d, %d, %d, %d",
			len(ingressRoute), len(middlewares), len(secrets), len(deployments), len(services))
	}

	for key, svc := range services {
		exCheckServiceSelectsDeployment(t, key, svc, deployments)
	}

	pluginMiddlewares := 0
	for key, m := range middlewares {
		raw, ok := m.Spec.Plugin[examplesPluginName]
		if !ok {
			continue
		}
		pluginMiddlewares++
		var cfg map[string]any
		if err := json.Unmarshal(raw.Raw, &cfg); err != nil {
			t.Fatalf("middleware %s: plugin configuration: %v", key, err)
		}
		exCheckPluginConfigKeys(t, "middleware "+key, cfg)
		// Secrets must come by reference, never inline.
		for _, k := range []string{"clientSecret", "sessionSecret"} {
			if v, _ := cfg[k].(string); !strings.HasPrefix(v, "urn:k8s:secret:") {
				t.Errorf("middleware %s: %s must reference a Secret (urn:k8s:secret:<name>:<key>), got %q", key, k, v)
			}
		}
		// Every URN must name an existing key of a Secret of the middleware's own namespace, in the exact form
		// Traefik parses (pkg/provider/kubernetes/crd: 5 colon-separated parts, whole string value).
		exWalkStrings(cfg, func(v string) {
			if !strings.Contains(v, "urn:k8s:secret:") {
				return
			}
			if !strings.HasPrefix(v, "urn:k8s:secret:") {
				t.Errorf("middleware %s: %q: Traefik only resolves a value that is a whole URN", key, v)
				return
			}
			parts := strings.Split(v, ":")
			if len(parts) != 5 {
				t.Errorf("middleware %s: malformed secret URN %q", key, v)
				return
			}
			s, ok := secrets[m.Namespace+"/"+parts[3]]
			if !ok {
				t.Errorf("middleware %s: %q: no Secret %s in namespace %s", key, v, parts[3], m.Namespace)
				return
			}
			if _, ok := exSecretData(s)[parts[4]]; !ok {
				t.Errorf("middleware %s: %q: Secret %s has no key %q", key, v, parts[3], parts[4])
			}
		})
	}
	if pluginMiddlewares != 1 {
		t.Errorf("expected exactly one Middleware using the %s plugin, got %d", examplesPluginName, pluginMiddlewares)
	}

	for _, ir := range ingressRoute {
		for i, r := range ir.Spec.Routes {
			if len(r.Middlewares) == 0 {
				t.Errorf("IngressRoute %s/%s route %d has no middleware", ir.Namespace, ir.Name, i)
			}
			for _, mref := range r.Middlewares {
				ns := mref.Namespace
				if ns == "" {
					ns = ir.Namespace
				}
				if ns != ir.Namespace {
					t.Errorf("IngressRoute %s/%s: middleware %s/%s is in another namespace (needs allowCrossNamespace)", ir.Namespace, ir.Name, ns, mref.Name)
				}
				if _, ok := middlewares[ns+"/"+mref.Name]; !ok {
					t.Errorf("IngressRoute %s/%s: middleware %s/%s is not defined", ir.Namespace, ir.Name, ns, mref.Name)
				}
			}
			for _, s := range r.Services {
				svc, ok := services[ir.Namespace+"/"+s.Name]
				if !ok {
					t.Errorf("IngressRoute %s/%s: service %s is not defined", ir.Namespace, ir.Name, s.Name)
					continue
				}
				if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool {
					return (s.Port.IntValue() != 0 && int(p.Port) == s.Port.IntValue()) || (s.Port.IntValue() == 0 && p.Name == s.Port.String())
				}) {
					t.Errorf("IngressRoute %s/%s: service %s has no port %s", ir.Namespace, ir.Name, s.Name, s.Port.String())
				}
			}
		}
	}
}

// TestExampleKubernetesTraefikProvider serves the manifests to Traefik's kubernetescrd provider through a fake API
// server and checks the dynamic configuration it produces: the IngressRoute's router uses the plugin middleware, and
// the plugin configuration carries the Secret's values in place of the urn:k8s:secret references.
func TestExampleKubernetesTraefikProvider(t *testing.T) {
	objs := exReadExampleManifests(t)
	conf := exRunKubernetesCRDProvider(t, objs)

	pluginConf, mwName := exFindPluginMiddleware(t, conf)

	// What the manifests say: the Secrets' values and the Middleware's URN-valued keys.
	secretValues := map[string]string{} // "<namespace>/<urn>" -> value
	var urnKeys map[string]string       // plugin key -> "<namespace>/<urn>"
	for _, o := range objs {
		switch o.Kind {
		case "Secret":
			var s corev1.Secret
			exStrictDecode(t, o, &s)
			for k, v := range exSecretData(&s) {
				secretValues[s.Namespace+"/urn:k8s:secret:"+s.Name+":"+k] = string(v)
			}
		case "Middleware":
			var m traefikv1alpha1.Middleware
			exStrictDecode(t, o, &m)
			raw, ok := m.Spec.Plugin[examplesPluginName]
			if !ok {
				continue
			}
			var cfg map[string]any
			if err := json.Unmarshal(raw.Raw, &cfg); err != nil {
				t.Fatal(err)
			}
			urnKeys = map[string]string{}
			for k, v := range cfg {
				if s, ok := v.(string); ok && strings.HasPrefix(s, "urn:k8s:secret:") {
					urnKeys[k] = m.Namespace + "/" + s
				}
			}
		}
	}
	if len(urnKeys) < 2 {
		t.Fatalf("the Middleware should take clientSecret and sessionSecret from a Secret; URN keys: %v", urnKeys)
	}
	for k, ref := range urnKeys {
		want, ok := secretValues[ref]
		if !ok {
			t.Errorf("%s: %s does not name a key of a Secret of the Middleware's namespace", k, ref)
			continue
		}
		if got := pluginConf[k]; got != want {
			t.Errorf("%s resolved by Traefik = %q, want the Secret's value %q", k, got, want)
		}
	}
	exWalkStrings(pluginConf, func(v string) {
		if strings.HasPrefix(v, "urn:k8s:secret:") {
			t.Errorf("value %q was not resolved by Traefik", v)
		}
	})

	routed := false
	for name, r := range conf.HTTP.Routers {
		if !slices.Contains(r.Middlewares, mwName) {
			continue
		}
		routed = true
		if _, ok := conf.HTTP.Services[r.Service]; !ok {
			t.Errorf("router %s: service %s is missing from the dynamic configuration", name, r.Service)
		}
		if r.TLS == nil {
			t.Errorf("router %s: the example should serve over TLS (cookieSecure defaults to true)", name)
		}
	}
	if !routed {
		t.Errorf("no router uses middleware %s; routers: %v", mwName, conf.HTTP.Routers)
	}
}

// TestExampleKubernetesHelmValues checks traefik-values.yaml: the chart's experimental.plugins key, turned into the
// arguments the chart renders (--experimental.plugins.<name>.moduleName/version), must load with Traefik's flag
// loader and declare the plugin.
func TestExampleKubernetesHelmValues(t *testing.T) {
	data := exReadExampleFile(t, "kubernetes", "traefik-values.yaml")
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
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatalf("traefik-values.yaml: %v", err)
	}
	if e := values.Providers.KubernetesCRD.Enabled; e != nil && !*e {
		t.Errorf("providers.kubernetesCRD.enabled must not be false: the example uses IngressRoute and Middleware")
	}
	if len(values.Experimental.Plugins) == 0 {
		t.Fatal("traefik-values.yaml: experimental.plugins is empty")
	}

	// As traefik/templates/_podtemplate.tpl: both keys are required, then one argument per key.
	var args []string
	for name, p := range values.Experimental.Plugins {
		mod, okm := p["moduleName"].(string)
		ver, okv := p["version"].(string)
		if !okm || !okv {
			t.Fatalf("experimental.plugins.%s: the chart requires moduleName and version strings, got %v", name, p)
		}
		args = append(args,
			"--experimental.plugins."+name+".moduleName="+mod,
			"--experimental.plugins."+name+".version="+ver)
	}
	tconf := cmd.NewTraefikConfiguration()
	command := &cli.Command{Name: "traefik", Configuration: tconf}
	if _, err := (&tcli.FlagLoader{}).Load(args, command); err != nil {
		t.Fatalf("Traefik rejects the chart's plugin arguments %v: %v", args, err)
	}
	exCheckRemotePlugin(t, &tconf.Configuration)
}

// ---------------------------------------------------------------------------------------------------------------
// Compose and static

// TestExampleStaticConfigs loads examples/compose/traefik.yml and examples/static/traefik.yml with Traefik's own
// static configuration loaders and checks the plugin declaration, entry points and file provider.
func TestExampleStaticConfigs(t *testing.T) {
	t.Run("compose", func(t *testing.T) {
		conf := exLoadTraefikStaticConfig(t, exExampleFile(t, "compose", "traefik.yml"))
		lp := conf.Experimental.LocalPlugins[examplesPluginName]
		if lp.ModuleName != examplesModuleName {
			t.Errorf("experimental.localPlugins.%s.moduleName = %q, want %q", examplesPluginName, lp.ModuleName, examplesModuleName)
		}
		if len(conf.Experimental.Plugins) != 0 {
			t.Errorf("the compose example runs the local source: experimental.plugins should be empty, got %v", conf.Experimental.Plugins)
		}
		exCheckFileProvider(t, conf)
	})
	t.Run("static", func(t *testing.T) {
		conf := exLoadTraefikStaticConfig(t, exExampleFile(t, "static", "traefik.yml"))
		exCheckRemotePlugin(t, conf)
		exCheckFileProvider(t, conf)
	})
}

// TestExampleDynamicConfigs loads the dynamic files with Traefik's file provider and checks that the routers use the
// plugin middleware, defined in the same file, and existing services.
func TestExampleDynamicConfigs(t *testing.T) {
	for _, dir := range []string{"compose", "static"} {
		t.Run(dir, func(t *testing.T) {
			conf := exLoadTraefikDynamicFile(t, exExampleFile(t, dir, "dynamic.yml"))
			_, mwName := exFindPluginMiddleware(t, conf)
			if len(conf.HTTP.Routers) == 0 {
				t.Fatal("no router")
			}
			for name, r := range conf.HTTP.Routers {
				if !slices.ContainsFunc(r.Middlewares, func(m string) bool { return m == mwName || m == mwName+"@file" }) {
					t.Errorf("router %s does not use middleware %s: %v", name, mwName, r.Middlewares)
				}
				for _, m := range r.Middlewares {
					if _, ok := conf.HTTP.Middlewares[strings.TrimSuffix(m, "@file")]; !ok {
						t.Errorf("router %s: middleware %s is not defined in dynamic.yml", name, m)
					}
				}
				svc, ok := conf.HTTP.Services[r.Service]
				if !ok || svc.LoadBalancer == nil || len(svc.LoadBalancer.Servers) == 0 {
					t.Errorf("router %s: service %q is not a load balancer with servers", name, r.Service)
				}
				if len(r.EntryPoints) == 0 {
					t.Errorf("router %s: no entry point", name)
				}
			}
			exCheckPluginConfigKeys(t, dir+"/dynamic.yml", conf.HTTP.Middlewares[mwName].Plugin[examplesPluginName])

			// Every ${NAME} must be one of the .env.example variables.
			env := exReadDotEnv(t, exExampleFile(t, "compose", ".env.example"))
			for _, name := range exEnvRefs(string(exReadExampleFile(t, dir, "dynamic.yml"))) {
				if _, ok := env[name]; !ok {
					t.Errorf("dynamic.yml uses ${%s}, which compose/.env.example does not define", name)
				}
			}
		})
	}
}

// TestExampleCompose checks the structure of examples/compose/docker-compose.yml against the other files of the
// example: images, the plugin mount, the configuration mounts, the environment and the echo service address.
func TestExampleCompose(t *testing.T) {
	dir := exExampleFile(t, "compose")
	var compose struct {
		Name     string `json:"name"`
		Services map[string]struct {
			Image       string            `json:"image"`
			Command     any               `json:"command"`
			Ports       []string          `json:"ports"`
			Environment map[string]string `json:"environment"`
			Volumes     []string          `json:"volumes"`
			Labels      any               `json:"labels"`
			DependsOn   []string          `json:"depends_on"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(exReadExampleFile(t, "compose", "docker-compose.yml"), &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for name := range compose.Services {
		if name != "traefik" && name != "echo" {
			t.Errorf("unexpected compose service %q", name)
		}
	}
	traefik, ok := compose.Services["traefik"]
	if !ok {
		t.Fatal("no traefik service")
	}
	echo, ok := compose.Services["echo"]
	if !ok {
		t.Fatal("no echo service")
	}
	if traefik.Image != examplesTraefikImage {
		t.Errorf("traefik image = %q, want %q", traefik.Image, examplesTraefikImage)
	}
	if !strings.HasPrefix(echo.Image, "ealen/echo-server") {
		t.Errorf("echo image = %q, want ealen/echo-server", echo.Image)
	}
	if traefik.Command != nil {
		t.Errorf("the traefik service should rely on /etc/traefik/traefik.yml, not a command: %v", traefik.Command)
	}

	// Mounts: container path -> host path (absolute), read-only.
	mounts := map[string]string{}
	for _, v := range traefik.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) != 3 || parts[2] != "ro" {
			t.Errorf("volume %q: want host:container:ro", v)
			continue
		}
		host := parts[0]
		if !filepath.IsAbs(host) {
			host = filepath.Join(dir, host)
		}
		mounts[parts[1]] = filepath.Clean(host)
	}
	if got, want := mounts[examplesPluginMount], exRepoRoot(t); got != want {
		t.Errorf("plugin mount %s <- %q, want the repository root %q", examplesPluginMount, got, want)
	}
	// /etc/traefik/traefik.yml is one of the default locations Traefik's file loader searches.
	if got := mounts["/etc/traefik/traefik.yml"]; got != filepath.Join(dir, "traefik.yml") {
		t.Errorf("/etc/traefik/traefik.yml <- %q, want ./traefik.yml", got)
	}
	static := exLoadTraefikStaticConfig(t, filepath.Join(dir, "traefik.yml"))
	dynFile := static.Providers.File.Filename
	if got := mounts[dynFile]; got != filepath.Join(dir, "dynamic.yml") {
		t.Errorf("the file provider reads %s, mounted from %q; want ./dynamic.yml", dynFile, got)
	}

	// Published port -> web entry point.
	web := static.EntryPoints["web"]
	if web == nil {
		t.Fatal("no web entry point")
	}
	_, webPort, _ := net.SplitHostPort(web.GetAddress())
	if !slices.Contains(traefik.Ports, "80:"+webPort) {
		t.Errorf("ports %v do not publish the web entry point (%s) on 80", traefik.Ports, web.Address)
	}

	// Environment: each variable the plugin expands comes from .env (compose interpolation, required).
	env := exReadDotEnv(t, filepath.Join(dir, ".env.example"))
	dynamicRefs := exEnvRefs(string(exReadExampleFile(t, "compose", "dynamic.yml")))
	for _, name := range dynamicRefs {
		v, ok := traefik.Environment[name]
		if !ok {
			t.Errorf("dynamic.yml uses ${%s} but the traefik service does not set %s", name, name)
			continue
		}
		if !regexp.MustCompile(`^\$\{` + name + `(:\?[^}]*)?\}$`).MatchString(v) {
			t.Errorf("environment %s = %q, want ${%s:?message} (from .env)", name, v, name)
		}
	}
	for name := range env {
		if !slices.Contains(dynamicRefs, name) {
			t.Errorf(".env.example defines %s, which dynamic.yml does not use", name)
		}
	}
	if len(echo.Environment) != 0 {
		t.Errorf("the echo service echoes its environment: it must not get any (%v)", slices.Collect(maps.Keys(echo.Environment)))
	}

	// The dynamic configuration reaches the echo container by service name on its default port (80).
	dyn := exLoadTraefikDynamicFile(t, filepath.Join(dir, "dynamic.yml"))
	for name, svc := range dyn.HTTP.Services {
		for _, s := range svc.LoadBalancer.Servers {
			u, err := url.Parse(s.URL)
			if err != nil || u.Hostname() != "echo" || u.Port() != "80" {
				t.Errorf("service %s: server %q, want http://echo:80", name, s.URL)
			}
		}
	}

	// Docker labels are optional, but any router label must use a middleware of dynamic.yml as <name>@file.
	for sname, s := range compose.Services {
		if s.Labels != nil {
			lbls := map[string]string{}
			b, _ := json.Marshal(s.Labels)
			if err := json.Unmarshal(b, &lbls); err != nil {
				t.Errorf("service %s: labels must be a map: %v", sname, err)
			}
			for k, v := range lbls {
				if strings.HasSuffix(k, ".middlewares") {
					for _, m := range strings.Split(v, ",") {
						if name, ok := strings.CutSuffix(strings.TrimSpace(m), "@file"); !ok || dyn.HTTP.Middlewares[name] == nil {
							t.Errorf("service %s: label %s=%s: want <middleware of dynamic.yml>@file", sname, k, v)
						}
					}
				}
			}
		}
	}
}

// TestExamplePluginLoads feeds each example's plugin configuration, as Traefik hands it to the plugin, to Traefik's
// Yaegi loader with this repository's source, and calls the middleware constructor: New must accept it.
func TestExamplePluginLoads(t *testing.T) {
	env := exReadDotEnv(t, exExampleFile(t, "compose", ".env.example"))

	t.Run("kubernetes", func(t *testing.T) {
		conf := exRunKubernetesCRDProvider(t, exReadExampleManifests(t))
		pc, mw := exFindPluginMiddleware(t, conf)
		exLoadExamplePlugin(t, pc, mw+"@kubernetescrd", nil)
	})
	for _, dir := range []string{"compose", "static"} {
		t.Run(dir, func(t *testing.T) {
			conf := exLoadTraefikDynamicFile(t, exExampleFile(t, dir, "dynamic.yml"))
			pc, mw := exFindPluginMiddleware(t, conf)
			exLoadExamplePlugin(t, pc, mw+"@file", env)
		})
	}
}

func exLoadExamplePlugin(t *testing.T, cfg map[string]any, middlewareName string, env map[string]string) {
	t.Helper()
	// Yaegi captures the environment when the interpreter is created: set it first.
	for k, v := range env {
		t.Setenv(k, v)
	}
	t.Logf("%s: plugin configuration as Traefik passes it: %#v", middlewareName, exRedactedPluginConfig(cfg))
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h, err := loadYaegiPluginForExamples(t, cfg, middlewareName, next)
	if err != nil {
		t.Fatalf("the plugin rejects the example configuration %v: %v", exRedactedPluginConfig(cfg), err)
	}
	if h == nil {
		t.Fatal("New returned a nil handler")
	}
}

// loadYaegiPluginForExamples loads the plugin from this repository's source the way Traefik loads a local plugin
// (./plugins-local/src/<module> under the working directory, manifest .traefik.yml), builds a middleware from cfg and
// calls its constructor with next.
func loadYaegiPluginForExamples(t *testing.T, cfg map[string]any, middlewareName string, next http.Handler) (http.Handler, error) {
	t.Helper()
	root := exRepoRoot(t)
	for _, f := range []string{"descopeoidc.go", ".traefik.yml", "go.mod"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Fatalf("the plugin is not complete at the repository root: %v", err)
		}
	}

	work := t.TempDir()
	dst := filepath.Join(work, "plugins-local", "src", filepath.FromSlash(examplesModuleName))
	exCopyPluginSource(t, root, dst)

	chdirForExamples(t, work)

	descriptors := map[string]plugins.LocalDescriptor{examplesPluginName: {ModuleName: examplesModuleName}}
	if err := plugins.SetupLocalPlugins(descriptors); err != nil {
		t.Fatalf("SetupLocalPlugins: %v", err)
	}
	builder, err := plugins.NewBuilder(nil, nil, descriptors)
	if err != nil {
		t.Fatalf("NewBuilder (Yaegi): %v", err)
	}
	constructor, err := builder.Build(examplesPluginName, cfg, middlewareName)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	return constructor(context.Background(), next)
}

// exCopyPluginSource copies what Traefik needs to interpret the plugin: the package's non-test Go files, go.mod,
// go.sum, .traefik.yml and vendor/.
func exCopyPluginSource(t *testing.T, root, dst string) {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir() && name == "vendor":
			exCopyTree(t, filepath.Join(root, name), filepath.Join(dst, name))
		case e.IsDir():
		case strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go"),
			name == "go.mod", name == "go.sum", name == ".traefik.yml":
			exCopyFile(t, filepath.Join(root, name), filepath.Join(dst, name))
		}
	}
}

func exCopyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		exCopyFile(t, p, filepath.Join(dst, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func exCopyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// chdirForExamples changes the working directory for the rest of the test and restores it afterwards.
func chdirForExamples(t *testing.T, dir string) {
	t.Helper()
	prev, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Chdir(prev); err != nil {
			t.Errorf("restore working directory: %v", err)
		}
	})
}

// ---------------------------------------------------------------------------------------------------------------
// Traefik loaders

// exLoadTraefikStaticConfig loads a static configuration file exactly as cmd/traefik does (deprecation, file, flag and
// environment loaders on a TraefikCmdConfiguration with its defaults), then applies SetEffectiveConfiguration and
// ValidateConfiguration.
func exLoadTraefikStaticConfig(t *testing.T, filename string) *static.Configuration {
	t.Helper()
	tconf := cmd.NewTraefikConfiguration()
	ran := false
	command := &cli.Command{
		Name:          "traefik",
		Configuration: tconf,
		Resources:     []cli.ResourceLoader{&tcli.DeprecationLoader{}, &tcli.FileLoader{}, &tcli.FlagLoader{}, &tcli.EnvLoader{}},
		Run: func([]string) error {
			ran = true
			return nil
		},
	}
	exCheckTopLevelKeys(t, filename, reflect.TypeOf(static.Configuration{}))
	prevArgs := os.Args
	os.Args = []string{"traefik", "--configFile=" + filename}
	defer func() { os.Args = prevArgs }()
	if err := cli.Execute(command); err != nil {
		t.Fatalf("Traefik rejects %s: %v", filename, err)
	}
	if !ran {
		t.Fatalf("%s: Traefik's loaders did not run the command", filename)
	}
	conf := &tconf.Configuration
	conf.SetEffectiveConfiguration()
	if err := conf.ValidateConfiguration(); err != nil {
		t.Fatalf("%s: invalid static configuration: %v", filename, err)
	}
	if conf.Experimental == nil {
		t.Fatalf("%s: no experimental section (plugins)", filename)
	}
	return conf
}

// exLoadTraefikDynamicFile reads a dynamic configuration file with Traefik's file provider (template rendering, then
// paerser decoding, as providers.file.filename does).
func exLoadTraefikDynamicFile(t *testing.T, filename string) *dynamic.Configuration {
	t.Helper()
	exCheckTopLevelKeys(t, filename, reflect.TypeOf(dynamic.Configuration{}))
	p := &file.Provider{Filename: filename}
	conf, err := p.CreateConfiguration(context.Background(), filename, template.FuncMap{}, false)
	if err != nil {
		t.Fatalf("Traefik's file provider rejects %s: %v", filename, err)
	}
	if conf.HTTP == nil {
		t.Fatalf("%s: no http section", filename)
	}
	return conf
}

// exCheckTopLevelKeys reports top-level keys of a YAML configuration file that typ does not have: Traefik's file
// loader only decodes the sections it knows and silently ignores the others (a "provider:" typo loses the providers).
func exCheckTopLevelKeys(t *testing.T, filename string, typ reflect.Type) {
	t.Helper()
	b, err := os.ReadFile(filename)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := yaml.Unmarshal(b, &top); err != nil {
		t.Fatalf("%s: %v", filename, err)
	}
	known := map[string]bool{}
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ",")
		if name == "" {
			name = typ.Field(i).Name
		}
		known[strings.ToLower(name)] = true
	}
	for k := range top {
		if !known[strings.ToLower(k)] {
			t.Errorf("%s: unknown top-level section %q (Traefik ignores it)", filename, k)
		}
	}
}

func exCheckRemotePlugin(t *testing.T, conf *static.Configuration) {
	t.Helper()
	p, ok := conf.Experimental.Plugins[examplesPluginName]
	if !ok {
		t.Fatalf("experimental.plugins.%s is not declared (got %v)", examplesPluginName, conf.Experimental.Plugins)
	}
	if p.ModuleName != examplesModuleName {
		t.Errorf("experimental.plugins.%s.moduleName = %q, want %q", examplesPluginName, p.ModuleName, examplesModuleName)
	}
	if p.Version != examplesPluginVer {
		t.Errorf("experimental.plugins.%s.version = %q, want %q", examplesPluginName, p.Version, examplesPluginVer)
	}
}

func exCheckFileProvider(t *testing.T, conf *static.Configuration) {
	t.Helper()
	if conf.Providers == nil || conf.Providers.File == nil || conf.Providers.File.Filename == "" {
		t.Fatal("providers.file.filename is not set")
	}
	if path.Base(conf.Providers.File.Filename) != "dynamic.yml" {
		t.Errorf("providers.file.filename = %q, want a path to dynamic.yml", conf.Providers.File.Filename)
	}
	if _, ok := conf.EntryPoints["web"]; !ok {
		t.Errorf("no web entry point")
	}
}

// exFindPluginMiddleware returns the configuration of the single middleware using the plugin, and its name.
func exFindPluginMiddleware(t *testing.T, conf *dynamic.Configuration) (map[string]any, string) {
	t.Helper()
	var (
		found map[string]any
		name  string
	)
	for n, m := range conf.HTTP.Middlewares {
		if pc, ok := m.Plugin[examplesPluginName]; ok {
			if found != nil {
				t.Fatalf("more than one middleware uses the plugin: %s and %s", name, n)
			}
			found, name = pc, n
		}
	}
	if found == nil {
		t.Fatalf("no middleware uses plugin %s (middlewares: %v)", examplesPluginName, slices.Collect(maps.Keys(conf.HTTP.Middlewares)))
	}
	return found, name
}

// exCheckPluginConfigKeys reports keys that the plugin's Config does not have: Traefik's decoder (mapstructure,
// case-insensitive field names) silently ignores them, so a typo would go unnoticed.
func exCheckPluginConfigKeys(t *testing.T, where string, cfg map[string]any) {
	t.Helper()
	fields := exPluginConfigFields(t)
	for k := range cfg {
		if !fields[strings.ToLower(k)] {
			t.Errorf("%s: %q is not a configuration key of the plugin", where, k)
		}
	}
}

var (
	exPluginFieldsOnce sync.Once
	exPluginFields     map[string]bool
	exPluginFieldsErr  error
)

// exPluginConfigFields parses the repository root's Go files and returns the lower-cased field names of type Config.
func exPluginConfigFields(t *testing.T) map[string]bool {
	t.Helper()
	exPluginFieldsOnce.Do(func() {
		fset := token.NewFileSet()
		matches, _ := filepath.Glob(filepath.Join(exRepoRoot(t), "*.go"))
		for _, f := range matches {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
			if err != nil {
				exPluginFieldsErr = err
				return
			}
			ast.Inspect(af, func(n ast.Node) bool {
				ts, ok := n.(*ast.TypeSpec)
				if !ok || ts.Name.Name != "Config" {
					return true
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					return false
				}
				exPluginFields = map[string]bool{}
				for _, fl := range st.Fields.List {
					for _, n := range fl.Names {
						exPluginFields[strings.ToLower(n.Name)] = true
					}
				}
				return false
			})
		}
		if exPluginFields == nil && exPluginFieldsErr == nil {
			exPluginFieldsErr = errors.New("no type Config in the repository root's Go files")
		}
	})
	if exPluginFieldsErr != nil {
		t.Fatalf("plugin Config: %v", exPluginFieldsErr)
	}
	return exPluginFields
}

// ---------------------------------------------------------------------------------------------------------------
// Manifests and CRD schemas

type exManifestObject struct {
	File       string
	Doc        int
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	JSON       []byte         // the document, as JSON
	Object     map[string]any // the document, decoded with integers as int64 (as the API server does)
}

func (o exManifestObject) id() string {
	return fmt.Sprintf("%s#%d_%s_%s", o.File, o.Doc, o.Kind, o.Name)
}

func exReadExampleManifests(t *testing.T) []exManifestObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(exExampleFile(t, "kubernetes", "manifests"), "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in examples/kubernetes/manifests (%v)", err)
	}
	sort.Strings(files) // kubectl apply -f <dir> applies in lexical order: the Namespace must come first.
	var objs []exManifestObject
	for _, f := range files {
		for i, doc := range exSplitYAMLDocuments(t, f) {
			js, err := yaml.YAMLToJSONStrict(doc)
			if err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			if string(js) == "null" {
				continue
			}
			var obj map[string]any
			if err := utiljson.Unmarshal(js, &obj); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			var meta struct {
				metav1.TypeMeta
				Metadata metav1.ObjectMeta `json:"metadata"`
			}
			if err := json.Unmarshal(js, &meta); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			if meta.APIVersion == "" || meta.Kind == "" || meta.Metadata.Name == "" {
				t.Fatalf("%s document %d: apiVersion, kind and metadata.name are required", f, i)
			}
			objs = append(objs, exManifestObject{
				File: filepath.Base(f), Doc: i, APIVersion: meta.APIVersion, Kind: meta.Kind,
				Name: meta.Metadata.Name, Namespace: meta.Metadata.Namespace, JSON: js, Object: obj,
			})
		}
	}
	if objs[0].Kind != "Namespace" {
		t.Errorf("the first object applied is %s, want the Namespace", objs[0].id())
	}
	return objs
}

func exSplitYAMLDocuments(t *testing.T, filename string) [][]byte {
	t.Helper()
	f, err := os.Open(filename)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", filename, err)
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			docs = append(docs, doc)
		}
	}
}

// exStrictDecode decodes the object into a typed value, rejecting unknown and duplicate fields.
func exStrictDecode(t *testing.T, o exManifestObject, into any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(o.JSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		t.Errorf("%s: strict decoding into %T: %v", o.id(), into, err)
	}
}

type exCrdVersion struct {
	plural     string
	kind       string
	group      string
	version    string
	namespaced bool
	structural *structuralschema.Structural
	openAPI    *spec.Schema
}

type exGroupVersion struct{ group, version string }

func exSchemaGroupVersion(apiVersion string) (exGroupVersion, error) {
	parts := strings.Split(apiVersion, "/")
	switch len(parts) {
	case 1:
		return exGroupVersion{version: parts[0]}, nil
	case 2:
		return exGroupVersion{group: parts[0], version: parts[1]}, nil
	}
	return exGroupVersion{}, fmt.Errorf("bad apiVersion %q", apiVersion)
}

var (
	exTraefikCRDsOnce sync.Once
	exTraefikCRDs     map[string]*exCrdVersion // "group/version/Kind"
	exTraefikCRDsErr  error
)

// exLoadTraefikCRDs reads the CRD definitions shipped with the traefik module (the file users apply before
// installing Traefik) and prepares each served version's schema as the API server does.
func exLoadTraefikCRDs(t *testing.T) map[string]*exCrdVersion {
	t.Helper()
	exTraefikCRDsOnce.Do(func() {
		exTraefikCRDs, exTraefikCRDsErr = exReadTraefikCRDs(t)
	})
	if exTraefikCRDsErr != nil {
		t.Fatal(exTraefikCRDsErr)
	}
	return exTraefikCRDs
}

func exReadTraefikCRDs(t *testing.T) (map[string]*exCrdVersion, error) {
	filename := filepath.Join(exTraefikModuleDir(t), "docs", "content", "reference", "dynamic-configuration", "kubernetes-crd-definition-v1.yml")
	out := map[string]*exCrdVersion{}
	for i, doc := range exSplitYAMLDocuments(t, filename) {
		var c apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(doc, &c); err != nil {
			return nil, fmt.Errorf("%s document %d: %w", filename, i, err)
		}
		for _, v := range c.Spec.Versions {
			if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			var internal apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				return nil, fmt.Errorf("%s %s: %w", c.Name, v.Name, err)
			}
			s, err := structuralschema.NewStructural(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", c.Name, v.Name, err)
			}
			if errs := structuralschema.ValidateStructural(field.NewPath("openAPIV3Schema"), s); len(errs) > 0 {
				return nil, fmt.Errorf("%s %s: schema is not structural: %v", c.Name, v.Name, errs.ToAggregate())
			}
			out[c.Spec.Group+"/"+v.Name+"/"+c.Spec.Names.Kind] = &exCrdVersion{
				plural: c.Spec.Names.Plural, kind: c.Spec.Names.Kind, group: c.Spec.Group, version: v.Name,
				namespaced: c.Spec.Scope == apiextensionsv1.NamespaceScoped, structural: s, openAPI: s.ToKubeOpenAPI(),
			}
		}
	}
	for _, k := range []string{"traefik.io/v1alpha1/Middleware", "traefik.io/v1alpha1/IngressRoute"} {
		if out[k] == nil {
			return nil, fmt.Errorf("%s: no CRD for %s", filename, k)
		}
	}
	return out, nil
}

// exValidateAgainstCRD does what the API server does with a custom resource on create: fields unknown to the
// structural schema are reported (kubectl's default strict field validation fails on them instead of pruning), then
// the object is validated against the OpenAPI v3 schema. CEL rules (x-kubernetes-validations) are not evaluated:
// cel-go and k8s.io/apiserver are not in the module graph (the few rules of the Traefik CRDs concern fields the
// example does not use).
func exValidateAgainstCRD(t *testing.T, crds map[string]*exCrdVersion, o exManifestObject) {
	t.Helper()
	cv := crds[o.APIVersion+"/"+o.Kind]
	if cv == nil {
		t.Errorf("%s: no served CRD version for %s %s", o.id(), o.APIVersion, o.Kind)
		return
	}
	if cv.namespaced != (o.Namespace != "") {
		t.Errorf("%s: namespace %q for a resource whose scope is namespaced=%v", o.id(), o.Namespace, cv.namespaced)
	}

	// Pruning works in place: use a copy.
	var pruned map[string]any
	if err := utiljson.Unmarshal(o.JSON, &pruned); err != nil {
		t.Fatal(err)
	}
	unknown := pruning.PruneWithOptions(pruned, cv.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, p := range unknown {
		t.Errorf("%s: unknown field %q (not in the %s CRD schema)", o.id(), p, cv.kind)
	}

	// The API server's validator: kube-openapi's, on the structural schema (faithful conversion), with the
	// standard formats.
	res := validate.NewSchemaValidator(cv.openAPI, nil, "", strfmt.Default).Validate(o.Object)
	for _, e := range res.Errors {
		t.Errorf("%s: %v", o.id(), e)
	}
}

func exCheckDeployment(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	if d.Spec.Selector == nil {
		t.Fatalf("deployment %s: no selector", d.Name)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatalf("deployment %s: selector: %v", d.Name, err)
	}
	if sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("deployment %s: selector %s does not match the pod template labels %v", d.Name, sel, d.Spec.Template.Labels)
	}
	if len(d.Spec.Template.Spec.Containers) == 0 {
		t.Fatalf("deployment %s: no container", d.Name)
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, msg := range kvalidation.IsDNS1123Label(c.Name) {
			t.Errorf("deployment %s: container name %q: %s", d.Name, c.Name, msg)
		}
		if c.Image == "" {
			t.Errorf("deployment %s: container %s has no image", d.Name, c.Name)
		}
		for _, p := range c.Ports {
			if p.ContainerPort <= 0 || p.ContainerPort > 65535 {
				t.Errorf("deployment %s: container %s: bad port %d", d.Name, c.Name, p.ContainerPort)
			}
			if p.Name != "" {
				for _, msg := range kvalidation.IsValidPortName(p.Name) {
					t.Errorf("deployment %s: port name %q: %s", d.Name, p.Name, msg)
				}
			}
		}
		// The echo server listens on $PORT (80 by default): it must be a declared container port.
		if strings.Contains(c.Image, "echo-server") {
			port := int32(80)
			for _, e := range c.Env {
				if e.Name == "PORT" {
					n, err := strconv.Atoi(e.Value)
					if err != nil {
						t.Errorf("deployment %s: PORT=%q", d.Name, e.Value)
					}
					port = int32(n)
				}
			}
			if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == port }) {
				t.Errorf("deployment %s: echo-server listens on %d, which is not a container port", d.Name, port)
			}
		}
		for _, probe := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
			if probe != nil && probe.HTTPGet != nil && !exContainerHasPort(c, probe.HTTPGet.Port.String(), probe.HTTPGet.Port.IntValue()) {
				t.Errorf("deployment %s: probe port %s is not a container port", d.Name, probe.HTTPGet.Port.String())
			}
		}
	}
}

func exContainerHasPort(c corev1.Container, name string, number int) bool {
	return slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool {
		return (number != 0 && int(p.ContainerPort) == number) || (number == 0 && p.Name == name)
	})
}

func exCheckServiceSelectsDeployment(t *testing.T, key string, svc *corev1.Service, deployments []*appsv1.Deployment) {
	t.Helper()
	if len(svc.Spec.Selector) == 0 {
		t.Errorf("service %s: no selector", key)
		return
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	for _, d := range deployments {
		if d.Namespace != svc.Namespace || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			continue
		}
		for _, p := range svc.Spec.Ports {
			target := p.TargetPort
			if target.IntValue() == 0 && target.String() == "0" {
				target.IntVal = p.Port // targetPort defaults to port
			}
			if !slices.ContainsFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool {
				return exContainerHasPort(c, target.String(), target.IntValue())
			}) {
				t.Errorf("service %s: targetPort %s is not a port of deployment %s", key, target.String(), d.Name)
			}
		}
		return
	}
	t.Errorf("service %s: selector %v matches no deployment's pods", key, svc.Spec.Selector)
}

// exSecretData returns the Secret's data as the API server stores it: stringData merged over data.
func exSecretData(s *corev1.Secret) map[string][]byte {
	out := map[string][]byte{}
	maps.Copy(out, s.Data)
	for k, v := range s.StringData {
		out[k] = []byte(v)
	}
	return out
}

// exRedactedPluginConfig shows the keys of a plugin configuration with the secrets masked, for error messages.
func exRedactedPluginConfig(cfg map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range cfg {
		if strings.Contains(strings.ToLower(k), "secret") {
			v = "<redacted>"
		}
		out[k] = v
	}
	return out
}

func exWalkStrings(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case []any:
		for _, e := range x {
			exWalkStrings(e, fn)
		}
	case map[string]any:
		for _, e := range x {
			exWalkStrings(e, fn)
		}
	}
}

// ---------------------------------------------------------------------------------------------------------------
// Traefik's kubernetescrd provider against a fake API server

// exRunKubernetesCRDProvider serves objs from a fake Kubernetes API server (list and watch of every resource Traefik's
// informers use) and returns the first dynamic configuration Traefik's kubernetescrd provider builds from them,
// with the chart's defaults (all namespaces, allowEmptyServices).
func exRunKubernetesCRDProvider(t *testing.T, objs []exManifestObject) *dynamic.Configuration {
	t.Helper()
	crds := exLoadTraefikCRDs(t)

	// resource path "group/version/plural" -> kind
	resources := map[string]string{
		"/v1/services":                       "Service",
		"/v1/secrets":                        "Secret",
		"/v1/configmaps":                     "ConfigMap",
		"/v1/nodes":                          "Node",
		"/v1/namespaces":                     "Namespace",
		"/v1/endpoints":                      "Endpoints",
		"discovery.k8s.io/v1/endpointslices": "EndpointSlice",
	}
	for _, cv := range crds {
		resources[cv.group+"/"+cv.version+"/"+cv.plural] = cv.kind
	}

	// Store what the API server would store.
	var stored []map[string]any
	for i, o := range objs {
		var obj map[string]any
		if err := json.Unmarshal(o.JSON, &obj); err != nil {
			t.Fatal(err)
		}
		meta, _ := obj["metadata"].(map[string]any)
		meta["resourceVersion"] = "1"
		meta["uid"] = fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
		if o.Kind == "Secret" && o.APIVersion == "v1" {
			data, _ := obj["data"].(map[string]any)
			if data == nil {
				data = map[string]any{}
			}
			if sd, ok := obj["stringData"].(map[string]any); ok {
				for k, v := range sd {
					data[k] = base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(v)))
				}
				delete(obj, "stringData")
			}
			obj["data"] = data
		}
		stored = append(stored, obj)
	}

	stop := make(chan struct{})
	var (
		mu         sync.Mutex
		unexpected []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gvr, ns, ok := exParseAPIPath(r.URL.Path)
		kind := resources[gvr]
		if !ok || kind == "" || r.Method != http.MethodGet {
			mu.Lock()
			unexpected = append(unexpected, r.Method+" "+r.URL.String())
			mu.Unlock()
			http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`, http.StatusNotFound)
			return
		}
		q := r.URL.Query()
		if q.Get("watch") == "true" || q.Get("watch") == "1" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-stop:
			}
			return
		}
		selector := labels.Everything()
		if s := q.Get("labelSelector"); s != "" {
			var err error
			if selector, err = labels.Parse(s); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		group, version, _ := strings.Cut(strings.TrimSuffix(gvr, "/"+path.Base(gvr)), "/")
		apiVersion := version
		if group != "" {
			apiVersion = group + "/" + version
		}
		items := []any{}
		for _, obj := range stored {
			meta, _ := obj["metadata"].(map[string]any)
			objLabels := map[string]string{}
			if l, ok := meta["labels"].(map[string]any); ok {
				for k, v := range l {
					objLabels[k] = fmt.Sprint(v)
				}
			}
			if obj["apiVersion"] != apiVersion || obj["kind"] != kind ||
				(ns != "" && meta["namespace"] != ns) || !selector.Matches(labels.Set(objLabels)) {
				continue
			}
			items = append(items, obj)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"apiVersion": apiVersion,
			"kind":       kind + "List",
			"metadata":   map[string]any{"resourceVersion": "1"},
			"items":      items,
		})
	}))
	t.Cleanup(func() {
		close(stop)
		srv.Close()
	})

	// Make sure Traefik uses the endpoint rather than an in-cluster or kubeconfig client.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	t.Setenv("KUBECONFIG", "")

	// Collect Traefik's logs: the provider reports a bad resource (a missing Secret key...) with an error log and
	// leaves it out of the configuration.
	logs := &exLogCapture{}
	prevLogger := log.Logger
	log.Logger = zerolog.New(logs).Level(zerolog.InfoLevel)
	t.Cleanup(func() { log.Logger = prevLogger }) // runs last: after the pool has stopped

	p := &crd.Provider{Endpoint: srv.URL, AllowEmptyServices: true}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pool := safe.NewPool(ctx)
	t.Cleanup(func() {
		cancel()
		pool.Stop()
	})
	msgs := make(chan dynamic.Message, 10)
	if err := p.Provide(msgs, pool); err != nil {
		t.Fatalf("kubernetescrd provider: %v", err)
	}
	select {
	case msg := <-msgs:
		mu.Lock()
		defer mu.Unlock()
		if len(unexpected) > 0 {
			t.Logf("fake API server: unexpected requests: %v", unexpected)
		}
		for _, e := range logs.entries(t) {
			if e.Level == "error" || e.Level == "fatal" || e.Level == "panic" {
				t.Errorf("Traefik's kubernetescrd provider: %s: %s", e.Message, e.Error)
			} else if e.Level == "warn" {
				t.Logf("Traefik's kubernetescrd provider (warning): %s: %s", e.Message, e.Error)
			}
		}
		if msg.Configuration == nil || msg.Configuration.HTTP == nil {
			t.Fatal("the provider sent an empty configuration")
		}
		return msg.Configuration
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("no configuration from the kubernetescrd provider after 60s (unexpected requests: %v)", unexpected)
	}
	return nil
}

// exLogCapture collects zerolog's JSON lines.
type exLogCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *exLogCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

type exLogEntry struct {
	Level   string `json:"level"`
	Message string `json:"message"`
	Error   string `json:"error"`
}

func (c *exLogCapture) entries(t *testing.T) []exLogEntry {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []exLogEntry
	for _, line := range bytes.Split(c.buf.Bytes(), []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e exLogEntry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Logf("Traefik log line: %s", line)
			continue
		}
		out = append(out, e)
	}
	return out
}

// exParseAPIPath splits /api/v1/[namespaces/<ns>/]<resource> and /apis/<group>/<version>/[namespaces/<ns>/]<resource>
// into "group/version/resource" and the namespace.
func exParseAPIPath(p string) (gvr, ns string, ok bool) {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	var group, version string
	switch {
	case len(segs) >= 3 && segs[0] == "api":
		version, segs = segs[1], segs[2:]
	case len(segs) >= 4 && segs[0] == "apis":
		group, version, segs = segs[1], segs[2], segs[3:]
	default:
		return "", "", false
	}
	switch {
	case len(segs) == 1:
		return group + "/" + version + "/" + segs[0], "", true
	case len(segs) == 3 && segs[0] == "namespaces":
		return group + "/" + version + "/" + segs[2], segs[1], true
	}
	return "", "", false
}

// ---------------------------------------------------------------------------------------------------------------
// Files

// examplesRepoRoot is resolved when the test binary starts, from the package directory (go test's working
// directory), before any test changes directory.
var examplesRepoRoot, examplesRepoRootErr = func() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return filepath.Dir(wd), nil
}()

func exRepoRoot(t *testing.T) string {
	t.Helper()
	if examplesRepoRootErr != nil {
		t.Fatal(examplesRepoRootErr)
	}
	if _, err := os.Stat(filepath.Join(examplesRepoRoot, "examples")); err != nil {
		t.Fatalf("repository root not found: %v", err)
	}
	return examplesRepoRoot
}

func exExampleFile(t *testing.T, parts ...string) string {
	t.Helper()
	return filepath.Join(append([]string{exRepoRoot(t), "examples"}, parts...)...)
}

func exReadExampleFile(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(exExampleFile(t, parts...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	exTraefikDirOnce sync.Once
	exTraefikDir     string
	exTraefikDirErr  error
)

// exTraefikModuleDir locates the traefik module this test module builds against (go list, from the module directory).
func exTraefikModuleDir(t *testing.T) string {
	t.Helper()
	exTraefikDirOnce.Do(func() {
		c := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/traefik/traefik/v3")
		c.Dir = filepath.Join(exRepoRoot(t), "integration")
		out, err := c.Output()
		if err != nil {
			exTraefikDirErr = fmt.Errorf("go list -m github.com/traefik/traefik/v3: %w", err)
			return
		}
		exTraefikDir = strings.TrimSpace(string(out))
		if exTraefikDir == "" {
			exTraefikDirErr = errors.New("the traefik module is not downloaded (go mod download github.com/traefik/traefik/v3)")
		}
	})
	if exTraefikDirErr != nil {
		t.Fatal(exTraefikDirErr)
	}
	return exTraefikDir
}

// exReadDotEnv parses a KEY=value file (comments and blank lines ignored, no quoting).
func exReadDotEnv(t *testing.T, filename string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filename)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`).MatchString(k) {
			t.Fatalf("%s:%d: want KEY=value", filename, i+1)
		}
		if strings.ContainsAny(v, `"'$ `) {
			t.Errorf("%s:%d: keep values unquoted, without spaces or $ (compose and shells read them differently)", filename, i+1)
		}
		env[k] = v
	}
	return env
}

// exEnvRefs returns the ${NAME} references of s (outside YAML comments), sorted and unique.
func exEnvRefs(s string) []string {
	var names []string
	re := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range re.FindAllStringSubmatch(line, -1) {
			if !slices.Contains(names, m[1]) {
				names = append(names, m[1])
			}
		}
	}
	sort.Strings(names)
	return names
}
