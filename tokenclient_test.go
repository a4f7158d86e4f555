package descopeoidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func formKeys(v url.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// callbackRequest is the request the browser sends to the callback, behind a TLS-terminating proxy.
func callbackRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://app.example/oauth2/callback?code=c&state=s", nil)
	r.Header.Set("X-Forwarded-Proto", "https")
	return r
}

func TestTokenRequestIsExact(t *testing.T) {
	const oddID, oddSecret = "client:ü/1", "s3cr%t +&=:"
	rsaKey := testRSAKey(t, 0)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkcs8 := func(k any) string {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return string(pemEncode("PRIVATE KEY", der))
	}
	cases := []struct {
		name      string
		configure func(c *Config)
		wantForm  string // sorted form keys
		check     func(t *testing.T, f *fakeIdP, rec recordedRequest)
	}{
		{"client_secret_basic", func(c *Config) {}, "code,code_verifier,grant_type,redirect_uri", func(t *testing.T, f *fakeIdP, rec recordedRequest) {
			if !rec.BasicOK {
				t.Fatal("no Basic authorization")
			}
			// RFC 6749 2.3.1: form-urlencoded before the Basic encoding.
			if rec.BasicUser != url.QueryEscape(oddID) || rec.BasicPass != url.QueryEscape(oddSecret) {
				t.Errorf("basic credentials %q:%q not form-urlencoded", rec.BasicUser, rec.BasicPass)
			}
			u, _ := url.QueryUnescape(rec.BasicUser)
			p, _ := url.QueryUnescape(rec.BasicPass)
			if u != oddID || p != oddSecret {
				t.Errorf("decoded credentials %q:%q", u, p)
			}
		}},
		{"client_secret_post", func(c *Config) { c.ClientAuthMethod = "client_secret_post" },
			"client_id,client_secret,code,code_verifier,grant_type,redirect_uri", func(t *testing.T, f *fakeIdP, rec recordedRequest) {
				if rec.BasicOK || rec.Header.Get("Authorization") != "" {
					t.Error("Authorization header sent with client_secret_post")
				}
				if rec.Form.Get("client_id") != oddID || rec.Form.Get("client_secret") != oddSecret {
					t.Errorf("form credentials %q %q", rec.Form.Get("client_id"), rec.Form.Get("client_secret"))
				}
			}},
		{"public client", func(c *Config) { c.ClientSecret = "" }, "client_id,code,code_verifier,grant_type,redirect_uri",
			func(t *testing.T, f *fakeIdP, rec recordedRequest) {
				if rec.Header.Get("Authorization") != "" || rec.Form.Get("client_id") != oddID {
					t.Errorf("public client: Authorization %q client_id %q", rec.Header.Get("Authorization"), rec.Form.Get("client_id"))
				}
			}},
		{"private_key_jwt RSA", func(c *Config) {
			c.ClientSecret, c.ClientAuthMethod, c.PrivateKeyID = "", "private_key_jwt", "assertion-kid"
			c.PrivateKeyFile = writeFile(t, "rsa.pem", pkcs8(rsaKey))
		}, "client_assertion,client_assertion_type,client_id,code,code_verifier,grant_type,redirect_uri",
			func(t *testing.T, f *fakeIdP, rec recordedRequest) {
				checkAssertion(t, f, rec, &rsaKey.PublicKey, "RS256", "assertion-kid", oddID)
			}},
		{"private_key_jwt EC", func(c *Config) {
			c.ClientSecret, c.ClientAuthMethod = "", "private_key_jwt"
			c.PrivateKeyFile = writeFile(t, "ec.pem", pkcs8(ecKey))
		}, "client_assertion,client_assertion_type,client_id,code,code_verifier,grant_type,redirect_uri",
			func(t *testing.T, f *fakeIdP, rec recordedRequest) {
				checkAssertion(t, f, rec, &ecKey.PublicKey, "ES256", "", oddID)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIdP(t)
			f.set(func(f *fakeIdP) {
				f.tokenHook = func(w http.ResponseWriter, r *http.Request, form url.Values) bool {
					c := f.idClaims("the-nonce")
					c["aud"], c["azp"] = oddID, oddID
					writeJSON(w, http.StatusOK, map[string]any{"access_token": "at", "token_type": "Bearer", "id_token": f.mint(c)})
					return true
				}
			})
			cfg := f.config()
			cfg.ClientID, cfg.ClientSecret = oddID, oddSecret
			tc.configure(cfg)
			m, _ := newMW(t, f, cfg)
			sd := &stateData{Verifier: "the-verifier", Nonce: "the-nonce"}
			if _, _, err := m.exchange(callbackRequest(), sd, "the-code"); err != nil {
				t.Fatalf("exchange: %v", err)
			}
			reqs := f.tokenRequests()
			if len(reqs) != 1 {
				t.Fatalf("%d token requests", len(reqs))
			}
			rec := reqs[0]
			if rec.Method != http.MethodPost || rec.ContentType != "application/x-www-form-urlencoded" {
				t.Errorf("method %s content type %q", rec.Method, rec.ContentType)
			}
			if got := formKeys(rec.Form); got != tc.wantForm {
				t.Errorf("form keys %s, want %s", got, tc.wantForm)
			}
			want := map[string]string{
				"grant_type": "authorization_code", "code": "the-code",
				"redirect_uri": "https://app.example/oauth2/callback", "code_verifier": "the-verifier",
			}
			for k, v := range want {
				if got := rec.Form.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			tc.check(t, f, rec)
		})
	}
}

func checkAssertion(t *testing.T, f *fakeIdP, rec recordedRequest, pub any, alg, kid, clientID string) {
	t.Helper()
	if rec.Form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || rec.Form.Get("client_id") != clientID {
		t.Errorf("assertion type %q client_id %q", rec.Form.Get("client_assertion_type"), rec.Form.Get("client_id"))
	}
	if rec.Header.Get("Authorization") != "" || rec.Form.Get("client_secret") != "" {
		t.Error("secret-based authentication sent along with private_key_jwt")
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(rec.Form.Get("client_assertion"), claims, func(tok *jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{alg}), jwt.WithoutClaimsValidation())
	if err != nil || !tok.Valid {
		t.Fatalf("assertion does not verify with the public key: %v", err)
	}
	if got, _ := tok.Header["kid"].(string); got != kid {
		t.Errorf("assertion kid %q, want %q", got, kid)
	}
	now := f.clock.Now().Unix()
	if claims["iss"] != clientID || claims["sub"] != clientID || claims["aud"] != f.url("/token") {
		t.Errorf("assertion iss %v sub %v aud %v", claims["iss"], claims["sub"], claims["aud"])
	}
	if jti, _ := claims["jti"].(string); len(jti) < 16 {
		t.Errorf("jti %q", jti)
	}
	if exp, _ := claims["exp"].(float64); int64(exp) != now+60 {
		t.Errorf("exp %v, want now+60 (%d)", claims["exp"], now+60)
	}
	if iat, _ := claims["iat"].(float64); int64(iat) != now {
		t.Errorf("iat %v, want %d", claims["iat"], now)
	}
}

func TestClientAssertionJTIIsUnique(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	der, _ := x509.MarshalPKCS8PrivateKey(testRSAKey(t, 0))
	cfg.ClientSecret, cfg.ClientAuthMethod, cfg.PrivateKeyFile = "", "private_key_jwt", writeFile(t, "k.pem", string(pemEncode("PRIVATE KEY", der)))
	m, _ := newMW(t, f, cfg)
	seen := map[string]bool{}
	for i := 0; i < 5; i++ {
		a, err := m.tc.clientAssertion("https://idp.example/token")
		if err != nil {
			t.Fatal(err)
		}
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(a, claims); err != nil {
			t.Fatal(err)
		}
		jti := claims["jti"].(string)
		if seen[jti] {
			t.Fatalf("jti %q repeated", jti)
		}
		seen[jti] = true
	}
}

func TestTokenRequestOverHTTP(t *testing.T) {
	cases := []struct {
		name             string
		status           int
		body             string
		invalid, unavail bool
		wantErr          bool
	}{
		{"success, expires_in as string", 200, `{"access_token":"a","refresh_token":"r2","expires_in":"90","token_type":"Bearer"}`, false, false, false},
		{"invalid_grant", 400, `{"error":"invalid_grant"}`, true, false, true},
		{"error with status 200", 200, `{"error":"temporarily_unavailable"}`, false, true, true}, // an outage: tokenerrors.go
		{"bad gateway", 502, `bad gateway`, false, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIdP(t)
			f.set(func(f *fakeIdP) {
				f.tokenHook = func(w http.ResponseWriter, r *http.Request, form url.Values) bool {
					w.WriteHeader(tc.status)
					_, _ = w.Write([]byte(tc.body))
					return true
				}
			})
			m, _ := newMW(t, f, f.config())
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"r1"}}
			tr, err := m.tc.tokenRequest(context.Background(), f.url("/token"), form)
			if (err != nil) != tc.wantErr || errors.Is(err, errInvalidGrant) != tc.invalid || errors.Is(err, errProviderUnavailable) != tc.unavail {
				t.Fatalf("err = %v", err)
			}
			if !tc.wantErr && (tr.RefreshToken != "r2" || tr.ExpiresIn != 90 || tr.AccessToken != "a") {
				t.Errorf("tr %+v", tr)
			}
			if got := f.tokenRequests()[0].Form.Get("refresh_token"); got != "r1" {
				t.Errorf("refresh_token sent %q", got)
			}
		})
	}

	t.Run("unreachable", func(t *testing.T) {
		f := newFakeIdP(t)
		m, _ := newMW(t, f, f.config())
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL + "/token"
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := m.tc.tokenRequest(ctx, u, url.Values{}); !errors.Is(err, errProviderUnavailable) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestRevoke(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	if err := m.tc.revoke(context.Background(), f.url("/revoke"), "rt-1", "refresh_token"); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.revocations) != 1 {
		t.Fatalf("%d revocations", len(f.revocations))
	}
	rec := f.revocations[0]
	if rec.Method != http.MethodPost || rec.Form.Get("token") != "rt-1" || rec.Form.Get("token_type_hint") != "refresh_token" ||
		!rec.BasicOK || rec.BasicUser != testClientID || rec.BasicPass != testClientSecret {
		t.Errorf("revocation request %+v", rec)
	}
	if err := m.tc.revoke(context.Background(), f.url("/nope"), "rt-1", "refresh_token"); err == nil {
		t.Error("revocation answered 404 reported as success")
	}
}

func pemEncode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
