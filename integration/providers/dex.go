package providers

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Dex's static user and client. The hash is bcrypt (cost 10) of dexPassword: dex stores only hashes, and the
// login test proves the two belong together.
const (
	dexClientID     = "descopeoidc-matrix"
	dexClientSecret = "dex-matrix-client-secret-0123456789"
	dexEmail        = "dex.user@example.test"
	dexPassword     = "dex-matrix-password"
	dexPasswordHash = "$2a$10$ZzCdMwkCnHOpuTJiNPYoqubFthU5I8bJyijzPRLNTxBdnfA0tx.va"
	dexUserID       = "4f1c2a9e-6b0d-4c8e-9a57-2d3e1f0b7c61"
	dexName         = "Dex User"
	dexConnectorID  = "local" // the password database's connector ID
)

// Dex is dex (github.com/dexidp/dex, built into bin/dex by `make bin/dex` from .ci/tools/dex) with memory storage,
// one static client and one static password user, behind a Gate; its issuer is the gate's URL + /dex.
//
// Its quirks: no end_session_endpoint; access tokens are JWTs built like ID tokens (aud = client ID, no azp, the
// authorization request's nonce, an at_hash of a random value, no typ): the same claim names as an ID token from
// a refresh (one from the code exchange adds c_hash), so no rule on the token alone tells them apart;
// ID tokens carry email/name themselves (no azp with a single audience); refresh tokens rotate and, with dex's
// default (no reuse interval), the previous one is dead at once: 400 invalid_request, not invalid_grant.
type Dex struct {
	opts   Options
	gate   *Gate
	proc   *process
	dir    string
	issuer string
}

// StartDex starts bin/dex with a configuration written from opts, behind a new gate, and waits for discovery.
func StartDex(opts Options) (*Dex, error) {
	bin, err := findTool("dex", "bin/dex")
	if err != nil {
		return nil, err
	}
	gate, err := NewGate()
	if err != nil {
		return nil, err
	}
	d := &Dex{opts: opts, gate: gate, issuer: gate.URL() + "/dex"}
	if d.dir, err = os.MkdirTemp("", "dex-"); err != nil {
		_ = d.Close()
		return nil, err
	}
	// dex takes its port from the configuration: a port that was free a moment ago may be taken by the time it
	// binds (other tests run in parallel), so that one case is retried.
	for attempt := 1; ; attempt++ {
		err = d.start(bin)
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

// dexAddr picks dex's listen address (a variable for the test of the retry).
var dexAddr = freeLoopbackAddr

func (d *Dex) start(bin string) error {
	addr, err := dexAddr()
	if err != nil {
		return err
	}
	conf, err := json.MarshalIndent(d.config(addr), "", "  ")
	if err != nil {
		return err
	}
	file := filepath.Join(d.dir, "config.yaml") // JSON is YAML
	if err := os.WriteFile(file, conf, 0o600); err != nil {
		return err
	}
	if d.proc, err = startProcess("dex", d.dir, nil, bin, "serve", file); err != nil {
		return err
	}
	// dex itself first (whoever else holds the port, if dex could not bind it, does not answer dex's discovery),
	// then through the gate.
	if err := d.proc.waitDiscovery("http://"+addr+"/dex", d.issuer); err != nil {
		return err
	}
	if err := d.gate.Start("http://" + addr); err != nil {
		return err
	}
	return d.proc.waitDiscovery(d.issuer, d.issuer)
}

// config is dex's configuration file (config.yaml.dist's keys).
func (d *Dex) config(addr string) map[string]any {
	expiry := map[string]any{"refreshTokens": map[string]any{"disableRotation": false}}
	if d.opts.TokenTTL > 0 {
		expiry["idTokens"] = d.opts.TokenTTL.String() // also the access tokens' lifetime
	}
	client := map[string]any{
		"id": dexClientID, "secret": dexClientSecret, "name": "descopeoidc provider matrix",
		"redirectURIs": []string{d.opts.RedirectURI},
	}
	return map[string]any{
		"issuer":  d.issuer,
		"storage": map[string]any{"type": "memory"},
		"web":     map[string]any{"http": addr},
		"logger":  map[string]any{"level": "info", "format": "text"},
		"expiry":  expiry,
		// dex's default: the user approves the client's scopes on a page of its own (Login fills it in).
		"oauth2":           map[string]any{"responseTypes": []string{"code"}, "skipApprovalScreen": false},
		"staticClients":    []any{client},
		"enablePasswordDB": true,
		"staticPasswords": []any{map[string]any{
			"email": dexEmail, "hash": dexPasswordHash, "username": "dexuser", "name": dexName, "userID": dexUserID,
		}},
	}
}

func (d *Dex) Name() string                 { return "dex" }
func (d *Dex) Issuer() string               { return d.issuer }
func (d *Dex) ClientID() string             { return dexClientID }
func (d *Dex) ClientSecret() string         { return dexClientSecret }
func (d *Dex) Scopes() []string             { return []string{"openid", "email", "profile", "offline_access"} }
func (d *Dex) Gate() *Gate                  { return d.gate }
func (d *Dex) PluginConfig() map[string]any { return map[string]any{"requireAZP": false} }

// User is dex's static password user; dex logs in by email, and its sub is the base64url protobuf of the user ID
// and the connector ID (what dex's internal.IDTokenSubject marshals to).
func (d *Dex) User() User {
	return User{Username: dexEmail, Password: dexPassword, Subject: dexSubject(dexUserID, dexConnectorID),
		Email: dexEmail, Name: dexName}
}

func (d *Dex) Capabilities() Capabilities {
	return Capabilities{
		EndSession: false, Revocation: false, Userinfo: true, ClaimsInUserinfoOnly: false,
		JWTAccessTokens: true, AccessTokenAudience: dexClientID, AZP: false, RotatingRefresh: true,
		SigningAlgs: []string{"RS256"}, MinTokenTTL: time.Second,
	}
}

// Login fills in dex's password form and then its approval page ("Grant Access").
func (d *Dex) Login(client *http.Client, authorizeURL string) (string, error) {
	return walkToRedirect(client, authorizeURL, d.opts.RedirectURI, func(_ *url.URL, _ string, forms []htmlForm) (*htmlForm, error) {
		if f := formWith(forms, "password", ""); f != nil {
			f.Fields.Set("login", dexEmail)
			f.Fields.Set("password", dexPassword)
			return f, nil
		}
		if f := formWith(forms, "approval", "approve"); f != nil {
			return f, nil // posts to the approval page itself
		}
		return nil, errors.New("neither dex's login form nor its approval form")
	})
}

// Close stops dex and the gate and removes the configuration; safe to call more than once.
func (d *Dex) Close() error {
	if d.proc != nil {
		d.proc.stop()
	}
	err := d.gate.Close()
	if d.dir != "" {
		_ = os.RemoveAll(d.dir)
	}
	return err
}

// Output is what dex logged (the last 64 KiB), for a failing test's message.
func (d *Dex) Output() string {
	if d.proc == nil {
		return ""
	}
	return d.proc.output()
}

// dexSubject encodes dex's IDTokenSubject{UserId: 1, ConnId: 2} as protobuf, base64url without padding.
func dexSubject(userID, connID string) string {
	var b []byte
	for i, s := range []string{userID, connID} {
		b = append(b, byte((i+1)<<3|2), byte(len(s))) // field i+1, length-delimited; both are shorter than 128
		b = append(b, s...)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// freeLoopbackAddr returns 127.0.0.1:PORT with a port that was free a moment ago (for servers that take their
// address from a configuration file).
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
