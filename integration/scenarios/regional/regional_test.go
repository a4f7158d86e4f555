// Package regional checks, under Traefik's Yaegi loader and compiled, that the projectID shortcut reaches a
// regional Descope project where Descope's SDKs do (issue 19 item 1): a project ID of 32 characters or more is served
// by https://api.<ID[1:5]>.descope.com. The test cannot reach Descope: an HTTPS proxy (HTTPS_PROXY, read once per
// process by net/http, hence a package of its own) records which host the plugin connects to and tunnels it to a
// local TLS server holding a certificate for api.euc1.descope.com, trusted through caFile.
package regional

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

const (
	projectID = "Peuc12RegionalProject0000000000000" // 34 characters: region "euc1"
	host      = "api.euc1.descope.com"
)

var (
	proxy     *httptest.Server
	connectMu sync.Mutex
	connected []string // CONNECT targets, in order
	backend   string   // host:port of the local TLS server
)

func TestMain(m *testing.M) {
	proxy = httptest.NewServer(http.HandlerFunc(tunnel))
	os.Setenv("HTTPS_PROXY", proxy.URL) // before any HTTPS request of this process
	code := m.Run()
	proxy.Close()
	os.Exit(code)
}

// tunnel records a CONNECT's target and joins the client to the local TLS server.
func tunnel(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	connectMu.Lock()
	connected = append(connected, r.Host)
	target := backend
	connectMu.Unlock()
	up, err := net.Dial("tcp", target)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	go func() { _, _ = io.Copy(up, conn); up.Close() }()
	go func() { _, _ = io.Copy(conn, up); conn.Close() }()
}

// startDescope serves a discovery document for the regional project over TLS with a certificate for host, and
// returns the path of that certificate (the plugin's caFile).
func startDescope(t *testing.T) string {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{host}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	issuer := "https://" + host + "/" + projectID
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/"+projectID+"/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": issuer,
			"authorization_endpoint": "https://" + host + "/oauth2/v1/authorize", "token_endpoint": "https://" + host + "/oauth2/v1/token",
			"jwks_uri": issuer + "/.well-known/jwks.json", "response_types_supported": []string{"code"},
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	connectMu.Lock()
	backend, connected = srv.Listener.Addr().String(), nil
	connectMu.Unlock()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestRegionalProjectID(t *testing.T) {
	targets, err := harness.Targets()
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		t.Run(tg.Name(), func(t *testing.T) {
			cfg := map[string]any{"projectID": projectID, "clientSecret": "access-key", "caFile": startDescope(t),
				"sessionSecret": "regional-session-secret-0123456789abcdef0123"}
			h, err := tg.Build(cfg, http.NotFoundHandler(), "regional-"+tg.Name())
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			req := httptest.NewRequest(http.MethodGet, "https://app.example/page", nil)
			req.Header.Set("Accept", "text/html")
			req.Header.Set("Sec-Fetch-Mode", "navigate")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			loc, _ := url.Parse(rec.Header().Get("Location"))
			connectMu.Lock()
			seen := append([]string(nil), connected...)
			connectMu.Unlock()
			if rec.Code != http.StatusFound || loc.Host != host || loc.Query().Get("client_id") != projectID {
				t.Fatalf("status %d Location %q (connected to %v), want 302 to https://%s/oauth2/v1/authorize", rec.Code, loc, seen, host)
			}
			if len(seen) == 0 || seen[0] != host+":443" {
				t.Errorf("the plugin connected to %v, want %s:443 first", seen, host)
			}
		})
	}
}
