package descopeoidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// selfSignedCert is a CA-style self-signed certificate for 127.0.0.1 and its PEM.
func selfSignedCert(t *testing.T, serial int64) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// Issue 10 item 13: a reload with a rotated caFile (same path, new content) takes effect for discovery and JWKS; the
// shared cache of the first instance does not keep its HTTP client forever.
func TestProviderCAFileRotation(t *testing.T) {
	certA, pemA := selfSignedCert(t, 1)
	certB, pemB := selfSignedCert(t, 2)
	var current atomic.Pointer[tls.Certificate]
	current.Store(&certA)
	var srv *httptest.Server
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jsonBytes(t, map[string]string{
			"issuer": srv.URL, "authorization_endpoint": srv.URL + "/a", "token_endpoint": srv.URL + "/t", "jwks_uri": srv.URL + "/j",
		}))
	}))
	srv.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return &tls.Config{Certificates: []tls.Certificate{*current.Load()}}, nil
	}}
	srv.StartTLS()
	defer srv.Close()
	defer forgetProvider(srv.URL)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	build := func(pemData []byte) *Middleware {
		t.Helper()
		if err := os.WriteFile(caFile, pemData, 0o600); err != nil {
			t.Fatal(err)
		}
		c := baseConfig()
		c.Issuer, c.CAFile = srv.URL, caFile
		h, err := New(context.Background(), http.NotFoundHandler(), c, "tls")
		if err != nil {
			t.Fatal(err)
		}
		return h.(*Middleware)
	}
	ctx := context.Background()
	m1 := build(pemA)
	if _, err := m1.p.metadata(ctx); err != nil {
		t.Fatalf("with CA A: %v", err)
	}
	if m1again := build(pemA); m1again.p != m1.p {
		t.Error("the same caFile content got a separate provider cache")
	}
	// The provider's certificate and the CA file rotate to B; Traefik reloads the configuration.
	current.Store(&certB)
	m2 := build(pemB)
	if m2.p == m1.p {
		t.Fatal("a rotated caFile reuses the provider (and HTTP client) of the first instance")
	}
	if _, err := m2.p.fetch(ctx, discoveryURL(srv.URL), epDiscovery); err != nil {
		t.Errorf("discovery with the rotated CA: %v", err)
	}
	if _, err := m2.p.metadata(ctx); err != nil {
		t.Errorf("metadata with the rotated CA: %v", err)
	}
	// Control: the first instance's client trusts only A, so it is the client that made the difference (on a new
	// connection: its kept-alive one was verified before the rotation).
	m1.p.client.CloseIdleConnections()
	if _, err := m1.p.fetch(ctx, discoveryURL(srv.URL), epDiscovery); err == nil {
		t.Error("the client trusting CA A accepted the certificate of CA B")
	}
}
