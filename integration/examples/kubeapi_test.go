package examples

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/stack"
)

// kubeAPI is a real Kubernetes control plane without nodes: etcd (Debian's etcd-server) and kube-apiserver (built
// by `make kube` from k8s.io/kubernetes v1.34.4), both on loopback, with RBAC on. The test itself talks to it as
// system:masters through kubectl; what it gives Traefik is a ServiceAccount token.
type kubeAPI struct {
	t       *testing.T
	dir     string
	URL     string // https://127.0.0.1:<port>
	CAFile  string // the serving certificate the API server generated (self-signed for 127.0.0.1)
	kubectl string
	config  string // kubeconfig of the admin
}

// startKubeAPI starts etcd and kube-apiserver in temporary directories on free loopback ports; both are stopped at
// cleanup (their logs are printed when the test failed).
func startKubeAPI(t *testing.T) *kubeAPI {
	t.Helper()
	etcdBin := needTool(t, "etcd", "run `make deps` (apt-get install etcd-server)")
	apiserver := needBin(t, "kube-apiserver", "kube")
	k := &kubeAPI{t: t, dir: t.TempDir(), kubectl: needBin(t, "kubectl", "kube")}
	start := time.Now()

	client, peer := "http://127.0.0.1:"+freePort(t), "http://127.0.0.1:"+freePort(t)
	startDaemon(t, "etcd", etcdBin, "--name", "t", "--data-dir", filepath.Join(k.dir, "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "t="+peer)

	admin := randomHex(t, 16)
	k.writeFile("tokens.csv", admin+",admin,admin-uid,system:masters\n")
	k.writeServiceAccountKeys()
	port := freePort(t)
	certDir := filepath.Join(k.dir, "certs")
	k.URL, k.CAFile = "https://127.0.0.1:"+port, filepath.Join(certDir, "apiserver.crt")
	startDaemon(t, "kube-apiserver", apiserver, "--etcd-servers="+client,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+port, "--cert-dir="+certDir,
		"--service-cluster-ip-range=10.96.0.0/16", "--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+filepath.Join(k.dir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(k.dir, "sa.key"),
		"--token-auth-file="+filepath.Join(k.dir, "tokens.csv"), "--authorization-mode=RBAC",
		"--enable-priority-and-fairness=false")
	k.waitReady(admin, 90*time.Second)
	k.config = k.writeFile("kubeconfig", fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: t, cluster: {server: %q, certificate-authority: %q}}]
users: [{name: admin, user: {token: %q}}]
contexts: [{name: t, context: {cluster: t, user: admin}}]
current-context: t
`, k.URL, k.CAFile, admin))
	timing(t, "etcd + kube-apiserver until /readyz", time.Since(start))
	return k
}

func (k *kubeAPI) writeFile(name, content string) string {
	k.t.Helper()
	p := filepath.Join(k.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		k.t.Fatal(err)
	}
	return p
}

// writeServiceAccountKeys writes the key pair the API server signs and checks ServiceAccount tokens with.
func (k *kubeAPI) writeServiceAccountKeys() {
	k.t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		k.t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		k.t.Fatal(err)
	}
	k.writeFile("sa.key", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	k.writeFile("sa.pub", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})))
}

// waitReady polls /readyz (the serving certificate appears in cert-dir when the server starts).
func (k *kubeAPI) waitReady(token string, timeout time.Duration) {
	k.t.Helper()
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		ca, err := os.ReadFile(k.CAFile)
		if err != nil {
			continue
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		req, _ := http.NewRequest(http.MethodGet, k.URL+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
		last = resp.Status
	}
	k.t.Fatalf("kube-apiserver %s not ready within %s (last: %s)", k.URL, timeout, last)
}

// Kubectl runs kubectl as the admin with stdin and returns its output; an error fails the test.
func (k *kubeAPI) Kubectl(stdin string, args ...string) string {
	k.t.Helper()
	out, err := k.TryKubectl(stdin, args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TryKubectl runs kubectl as the admin and returns its output and error.
func (k *kubeAPI) TryKubectl(stdin string, args ...string) (string, error) {
	cmd := exec.Command(k.kubectl, append([]string{"--kubeconfig", k.config}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

// startDaemon runs a server process until cleanup (SIGTERM, then SIGKILL after 10 s); its log is printed when the
// test failed, and an early exit fails the test at cleanup.
func startDaemon(t *testing.T, name, bin string, args ...string) *stack.LogBuffer {
	t.Helper()
	return startProcess(t, name, exec.Command(bin, args...))
}

// startProcess is startDaemon for a prepared command (working directory, environment).
func startProcess(t *testing.T, name string, cmd *exec.Cmd) *stack.LogBuffer {
	t.Helper()
	log := &stack.LogBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case err := <-done:
			t.Errorf("%s exited early: %v", name, err)
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, tail(log.String(), 6000))
		}
	})
	return log
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
