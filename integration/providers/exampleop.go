package providers

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/webclient"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

// zitadel/oidc's example OP, run in-process the way its example main does, with its natural issuer
// http://127.0.0.1:PORT/ (trailing slash, the gate's address). Nothing of its behaviour is changed beyond what its
// API offers: one storage.WebClient (client_secret_basic, refresh tokens, opaque access tokens) registered for
// Options.RedirectURI in a storage of its own (NewStorageWithClients, not the package-level RegisterClients map,
// so that parallel instances do not share clients), and its own demo user and login form.
//
// What its storage fixes, reported in Capabilities: access tokens live 5 minutes, ID tokens 1 hour, refresh tokens
// 5 hours and rotate; ID tokens carry no email/name once an access token is issued (IDTokenUserinfoClaimsAssertion
// is false for WebClient), only userinfo does; its clients have no post-logout redirect URIs.
const (
	exampleClientID     = "matrix-web"
	exampleClientSecret = "matrix-web-secret"
	exampleUserID       = "id1" // the first user of storage.NewUserStore
	exampleAccessTTL    = 5 * time.Minute
)

// exampleLogger keeps the example's per-request Info lines out of test output. SetupServer installs it as the
// process's slog default (the plugin writes its own log lines to stdout/stderr directly, so they are unaffected).
var exampleLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

type exampleOP struct {
	gate   *Gate
	srv    *http.Server
	issuer string
	user   User
}

// StartExampleOP starts zitadel/oidc's example OP behind a gate.
func StartExampleOP(o Options) (Provider, error) {
	if o.RedirectURI == "" {
		return nil, errors.New("exampleop: Options.RedirectURI is required")
	}
	gate, err := NewGate()
	if err != nil {
		return nil, err
	}
	p := &exampleOP{gate: gate, issuer: gate.URL() + "/"}
	users := storage.NewUserStore(p.issuer)
	u := users.GetUserByID(exampleUserID)
	if u == nil {
		_ = gate.Close()
		return nil, errors.New("exampleop: the example user store has no user " + exampleUserID)
	}
	p.user = User{Username: u.Username, Password: u.Password, Subject: u.ID, Email: u.Email, Name: u.FirstName + " " + u.LastName}
	clients := map[string]*storage.Client{
		exampleClientID: storage.WebClient(exampleClientID, exampleClientSecret, o.RedirectURI),
	}
	router := exampleop.SetupServer(p.issuer, storage.NewStorageWithClients(users, clients), exampleLogger, false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = gate.Close()
		return nil, err
	}
	p.srv = &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	if err := gate.Start("http://" + ln.Addr().String()); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

func (p *exampleOP) Name() string         { return "exampleop" }
func (p *exampleOP) Issuer() string       { return p.issuer }
func (p *exampleOP) ClientID() string     { return exampleClientID }
func (p *exampleOP) ClientSecret() string { return exampleClientSecret }
func (p *exampleOP) Scopes() []string {
	return []string{"openid", "profile", "email", "offline_access"}
}
func (p *exampleOP) PluginConfig() map[string]any { return map[string]any{} }
func (p *exampleOP) User() User                   { return p.user }
func (p *exampleOP) Gate() *Gate                  { return p.gate }

func (p *exampleOP) Capabilities() Capabilities {
	return Capabilities{
		EndSession: true, Revocation: true, Userinfo: true, ClaimsInUserinfoOnly: true,
		JWTAccessTokens: false, AZP: true, RotatingRefresh: true, SigningAlgs: []string{"RS256"},
		MinTokenTTL: exampleAccessTTL, NoPostLogoutRedirect: true,
	}
}

// Login fills in the example's username/password form (GET /login/username?authRequestID=...).
func (p *exampleOP) Login(hc *http.Client, authorizeURL string) (string, error) {
	return webclient.FormLogin(hc, authorizeURL, p.gate.URL(), func(page *url.URL, _ []byte) (*http.Request, error) {
		if page.Path != "/login/username" {
			return nil, nil
		}
		return webclient.PostForm(p.gate.URL()+"/login/username", url.Values{
			"id": {page.Query().Get("authRequestID")}, "username": {p.user.Username}, "password": {p.user.Password},
		})
	})
}

func (p *exampleOP) Close() error {
	err := p.gate.Close()
	if p.srv != nil {
		err = errors.Join(err, p.srv.Close())
	}
	return err
}
