package examples

import (
	"crypto/tls"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/browser"
	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

// TestKubernetes deploys examples/kubernetes on a real API server (etcd + kube-apiserver, no nodes) and serves it
// with the real Traefik binary's kubernetesCRD provider:
//   - Traefik's own CRD definitions and every file of examples/kubernetes/manifests go through `kubectl apply
//     --server-side` (the API server enforces the schemas: a bad IngressRoute is refused);
//   - the user's steps of the README follow: the Secret with the access key and the session secret, the project ID
//     (here the dev provider's, with its issuer);
//   - Traefik reads the API with a ServiceAccount token bound to the ClusterRole of Traefik's documentation, and
//     resolves the Middleware's urn:k8s:secret: values from the Secret (the code exchange succeeds only with the
//     access key from the Secret);
//   - no kubelet runs: the echo service runs in a network namespace of the test, and the test writes the
//     EndpointSlice a controller would;
//   - headless Chromium signs in through the IngressRoute's host, sees the identity headers, and signs out.
func TestKubernetes(t *testing.T) {
	needRoot(t)
	traefik := needTraefik(t)
	hostLock(t, "netns") // the namespace, the veth pair and their addresses are the machine's
	start := time.Now()
	k := startKubeAPI(t)
	applyTraefikCRDs(t, k)

	manifests := repoFile("examples", "kubernetes", "manifests")
	out := k.Kubectl("", "apply", "--server-side", "-f", manifests)
	t.Logf("kubectl apply --server-side -f examples/kubernetes/manifests:\n%s", out)
	checkBadIngressRouteRefused(t, k)
	// examples/kubernetes/redis (Redis with Sentinel for several replicas) is validated by the API server, not run:
	// no kubelet runs pods here, and no registry serves the Redis image.
	out = k.Kubectl("", "apply", "--server-side", "--dry-run=server", "-f", repoFile("examples", "kubernetes", "redis"))
	t.Logf("kubectl apply --server-side --dry-run=server -f examples/kubernetes/redis:\n%s", out)

	n := newNetns(t)
	startEchoInNetns(t, n)
	k.Kubectl(endpointSlice(n.NSIP), "apply", "--server-side", "-f", "-")

	webPort := freePort(t)
	site := "https://echo.localhost:" + webPort
	idp, err := devidp.Start(devidp.Options{
		AZPClaim: true, RedirectURIs: []string{site + "/oauth2/callback"}, PostLogoutRedirectURIs: []string{site + "/"},
	})
	if err != nil {
		t.Fatalf("devidp: %v", err)
	}
	t.Cleanup(func() { _ = idp.Close() })
	configureForProvider(t, k, idp)

	token := traefikToken(t, k)
	tr := startTraefikCRD(t, traefik, k, token, webPort)
	n.checkRoute()
	waitIngressLogin(t, tr, webPort, idp.URL()+devidp.PathAuthorize+"?")
	timing(t, "kubernetes setup until the IngressRoute answers", time.Since(start))

	b := browser.Start(t, browser.Options{IgnoreCertErrors: true, Shots: repoFile("integration", "artifacts", "kubernetes")})
	browserLogin(t, b, site, idp.URL())
	checkEchoIdentity(t, b, site)
	browserLogout(t, b, site, idp.URL())

	if lines := logProblems(tr.String()); len(lines) > 0 {
		t.Errorf("traefik logged %d problem line(s):\n%s", len(lines), strings.Join(lines, "\n"))
	}
	timing(t, "kubernetes test before teardown", time.Since(start))
}

// traefikModuleFile is a file of the github.com/traefik/traefik/v3 module integration/go.mod pins (v3.6.12).
func traefikModuleFile(t *testing.T, parts ...string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/traefik/traefik/v3")
	cmd.Dir = repoFile("integration")
	dir, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(dir)) == "" {
		t.Fatalf("go list -m github.com/traefik/traefik/v3: %v (run `go mod download` in integration/)", err)
	}
	return filepath.Join(append([]string{strings.TrimSpace(string(dir))}, parts...)...)
}

// applyTraefikCRDs applies Traefik's CRD definitions and waits until the API serves them.
func applyTraefikCRDs(t *testing.T, k *kubeAPI) {
	t.Helper()
	crds := traefikModuleFile(t, "docs", "content", "reference", "dynamic-configuration", "kubernetes-crd-definition-v1.yml")
	k.Kubectl("", "apply", "--server-side", "-f", crds)
	k.Kubectl("", "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
}

// checkBadIngressRouteRefused applies an IngressRoute whose route kind is not the schema's "Rule": the API server
// must refuse it and store nothing.
func checkBadIngressRouteRefused(t *testing.T, k *kubeAPI) {
	t.Helper()
	bad := `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: bad, namespace: echo}
spec:
  entryPoints: [websecure]
  routes:
    - kind: Rules
      match: Host(` + "`bad.localhost`" + `)
      services: [{name: echo, port: 80}]
`
	out, err := k.TryKubectl(bad, "apply", "--server-side", "-f", "-")
	if err == nil || !strings.Contains(out, `Unsupported value: "Rules"`) {
		t.Errorf("kubectl apply of an IngressRoute with kind: Rules: err %v, output %q; want a refusal naming the value", err, out)
	}
	if out, err := k.TryKubectl("", "-n", "echo", "get", "ingressroute", "bad"); err == nil {
		t.Errorf("the refused IngressRoute exists: %s", out)
	}
}

// configureForProvider does what the README asks of a user, for the dev provider: the Secret with its access key
// and a session secret (created by hand, replacing the placeholder one), and its project ID in the Middleware
// (plus its issuer: it is not api.descope.com).
func configureForProvider(t *testing.T, k *kubeAPI, idp *devidp.Server) {
	t.Helper()
	k.Kubectl("", "-n", "echo", "delete", "secret", "descopeoidc")
	k.Kubectl("", "-n", "echo", "create", "secret", "generic", "descopeoidc",
		"--from-literal=accessKey="+idp.ClientSecret(), "--from-literal=sessionSecret="+sessionSecret)
	patch := `{"spec":{"plugin":{"descopeoidc":{"projectID":"` + idp.ClientID() + `","issuer":"` + idp.Issuer() + `"}}}}`
	k.Kubectl("", "-n", "echo", "patch", "middleware", "descope-auth", "--type=merge", "-p", patch)
	cfg := k.Kubectl("", "-n", "echo", "get", "middleware", "descope-auth", "-o", "jsonpath={.spec.plugin.descopeoidc}")
	for _, want := range []string{"urn:k8s:secret:descopeoidc:accessKey", "urn:k8s:secret:descopeoidc:sessionSecret"} {
		if !strings.Contains(cfg, want) {
			t.Fatalf("the Middleware's plugin configuration %s lacks %s", cfg, want)
		}
	}
}

// traefikToken creates Traefik's ServiceAccount bound by Traefik's documented RBAC (kubernetes-crd-rbac.yml: the
// ServiceAccount traefik-ingress-controller in default) and returns a token for it, after checking that it is not
// an admin: it may read Secrets but not create them.
func traefikToken(t *testing.T, k *kubeAPI) string {
	t.Helper()
	k.Kubectl("", "-n", "default", "create", "serviceaccount", "traefik-ingress-controller")
	k.Kubectl("", "apply", "--server-side", "-f", traefikModuleFile(t, "docs", "content", "reference", "dynamic-configuration", "kubernetes-crd-rbac.yml"))
	token := strings.TrimSpace(k.Kubectl("", "-n", "default", "create", "token", "traefik-ingress-controller", "--duration=1h"))
	for verb, want := range map[string]string{"list": "yes", "create": "no"} {
		out, _ := k.TryKubectl("", "--token="+token, "auth", "can-i", verb, "secrets", "-n", "echo")
		if strings.TrimSpace(out) != want {
			t.Fatalf("Traefik's ServiceAccount: can-i %s secrets = %q, want %s", verb, strings.TrimSpace(out), want)
		}
	}
	return token
}

// endpointSlice is what the EndpointSlice controller would write for the echo Service: the echo process in the
// network namespace, on the Deployment's container port.
func endpointSlice(ip string) string {
	return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: echo-netns
  namespace: echo
  labels: {kubernetes.io/service-name: echo}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints: [{addresses: ["` + ip + `"], conditions: {ready: true}}]
`
}

// startEchoInNetns builds the echo service and runs it inside the namespace on the Deployment's port 8080.
func startEchoInNetns(t *testing.T, n *netns) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "echo")
	mustRun(t, 5*time.Minute, []string{"CGO_ENABLED=0"}, repoFile("integration"), "go", "build", "-o", bin, "./cmd/echo")
	name, args := n.Exec(bin, "-addr", n.NSIP+":8080")
	startDaemon(t, "echo (in netns)", name, args...)
}

// startTraefikCRD runs bin/traefik with the kubernetesCRD provider against the API server, the websecure entry
// point of the IngressRoute on loopback, and this checkout as the local plugin "descopeoidc" (the Helm values
// install the published one from the plugin catalog, which is out of reach here).
func startTraefikCRD(t *testing.T, bin string, k *kubeAPI, token, webPort string) *stack.LogBuffer {
	t.Helper()
	dir := t.TempDir()
	if err := harness.CopyPlugin(harness.RepoRoot(), filepath.Join(dir, "plugins-local", "src", harness.ModuleName)); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--global.checknewversion=false", "--global.sendanonymoususage=false", "--log.level=INFO",
		"--entrypoints.websecure.address=127.0.0.1:"+webPort,
		"--providers.kubernetescrd.endpoint="+k.URL, "--providers.kubernetescrd.token="+token,
		"--providers.kubernetescrd.certauthfilepath="+k.CAFile,
		"--experimental.localplugins.descopeoidc.modulename="+harness.ModuleName)
	cmd.Dir, cmd.Env = dir, os.Environ()
	log := startProcess(t, "traefik", cmd)
	stack.CheckPanicsAtCleanup(t, "traefik (kubernetesCRD)", log.String) // runs before startProcess stops it: the log of the whole test
	return log
}

// waitIngressLogin polls the IngressRoute's host until the middleware answers with a redirect to the provider (the
// provider has read the API, resolved the Secrets and loaded the plugin).
func waitIngressLogin(t *testing.T, log *stack.LogBuffer, webPort, authorize string) {
	t.Helper()
	c := &http.Client{
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "echo.localhost"}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	deadline := time.Now().Add(90 * time.Second)
	last := "no answer"
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, "https://127.0.0.1:"+webPort+"/", nil)
		req.Host = "echo.localhost:" + webPort
		if resp, err := c.Do(req); err != nil {
			last = err.Error()
		} else {
			resp.Body.Close()
			if resp.StatusCode == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), authorize) {
				return
			}
			last = resp.Status + " Location " + resp.Header.Get("Location")
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("https://echo.localhost:%s/ never redirected to %s within 90s (last: %s)\ntraefik log:\n%s", webPort, authorize, last, tail(log.String(), 8000))
}
