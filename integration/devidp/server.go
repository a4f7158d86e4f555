package devidp

import (
	"crypto/rand"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// Paths served by the provider; the issuer-relative ones are below IssuerPath.
const (
	PathAuthorize   = "/oauth2/v1/authorize"
	PathToken       = "/oauth2/v1/token"
	PathUserinfo    = "/oauth2/v1/userinfo"
	PathRevoke      = "/oauth2/v1/revoke"
	PathLogout      = "/oauth2/v1/logout"
	PathIntrospect  = "/oauth2/v1/introspect"
	PathLogin       = "/login"
	PathLoggedOut   = "/logged-out" // end_session without post_logout_redirect_uri
	discoverySuffix = "/.well-known/openid-configuration"
	jwksSuffix      = "/.well-known/jwks.json"
)

// Server is a running provider.
type Server struct {
	opts     Options
	base     string // http://host:port, as advertised (Options.PublicURL when set)
	listen   string // http://host:port of the listener
	issuer   string
	storage  *storage
	passkeys *passkeys
	provider *op.Provider
	http     *http.Server
	stats    statsCounter
	sso      ssoStore // provider sessions (Options.SSO): stepup.go
	// userinfoStatus, when not 0, is what the userinfo endpoint answers (SetUserinfoStatus).
	userinfoStatus atomic.Int32
	aliases        aliases // Descope modes: reshaped tokens to zitadel's (descope.go)
}

// Start listens on opts.Addr and serves until Close.
func Start(opts Options) (*Server, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, listen: "http://" + advertisedAddr(opts.Addr, ln.Addr())}
	s.base = s.listen
	if opts.PublicURL != "" {
		s.base = strings.TrimSuffix(opts.PublicURL, "/")
	}
	s.issuer = s.base + s.IssuerPath()
	if err := s.setup(); err != nil {
		_ = ln.Close()
		return nil, err
	}
	s.http = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// advertisedAddr is the host:port put into URLs: the configured host unless
// it is empty or unspecified, then 127.0.0.1; always the bound port.
func advertisedAddr(configured string, bound net.Addr) string {
	host, _, err := net.SplitHostPort(configured)
	if ip := net.ParseIP(host); err != nil || host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	_, port, _ := net.SplitHostPort(bound.String())
	return net.JoinHostPort(host, port)
}

func (s *Server) setup() error {
	keys, err := newKeyRing(s.opts.SigningAlg)
	if err != nil {
		return err
	}
	c := &client{
		id: s.opts.ClientID, secret: s.opts.ClientSecret,
		redirects:       slices.Clone(s.opts.RedirectURIs),
		postLogout:      slices.Clone(s.opts.PostLogoutRedirectURIs),
		idTokenLifetime: s.opts.IDTokenLifetime,
		loginURL:        PathLogin,
		opaque:          s.opts.OpaqueAccessTokens,
	}
	s.storage = newStorage(s.opts, c, keys)
	if s.passkeys, err = newPasskeys(s.base, "Descope demo ("+s.opts.ProjectID+")"); err != nil {
		return err
	}
	config := &op.Config{
		DefaultLogoutRedirectURI: PathLoggedOut,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedClaims:          append(slices.Clone(op.DefaultSupportedClaims), "roles", "permissions", "tenants", "dct"),
	}
	if _, err := rand.Read(config.CryptoKey[:]); err != nil {
		return err
	}
	s.provider, err = op.NewProvider(config, s.storage, op.StaticIssuer(s.issuer),
		op.WithAllowInsecure(),
		op.WithCustomEndpoints(s.endpoint(PathAuthorize), s.endpoint(PathToken), s.endpoint(PathUserinfo),
			s.endpoint(PathRevoke), s.endpoint(PathLogout),
			op.NewEndpointWithURL(s.IssuerPath()+jwksSuffix, s.issuer+jwksSuffix)),
		op.WithCustomIntrospectionEndpoint(s.endpoint(PathIntrospect)),
		// Not supported (no device storage); routed so that it answers an OAuth error.
		op.WithCustomDeviceAuthorizationEndpoint(s.endpoint("/oauth2/v1/device_authorization")),
	)
	return err
}

// endpoint is an endpoint served at path of the server root (outside the issuer path).
func (s *Server) endpoint(path string) *op.Endpoint {
	return op.NewEndpointWithURL(path, s.base+path)
}

func (s *Server) handler() http.Handler {
	srv := &opServer{LegacyServer: op.NewLegacyServer(s.provider, s.provider.Endpoints()), s: s}
	opHandler := op.RegisterLegacyServer(srv, op.AuthorizeCallbackHandler(s.provider))
	mux := http.NewServeMux()
	mux.Handle(s.IssuerPath()+discoverySuffix, http.StripPrefix(s.IssuerPath(), opHandler))
	mux.HandleFunc("GET "+PathLogin, s.loginPage)
	mux.HandleFunc("POST "+PathLogin, s.loginSubmit)
	s.routePasskeys(mux)
	mux.HandleFunc("GET "+PathLoggedOut, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("signed out\n"))
	})
	mux.Handle(PathUserinfo, s.userinfoGate(opHandler))
	if s.opts.Descope.IgnoreStepUpParams {
		mux.Handle(PathAuthorize, stepUpParamsIgnored(loopbackURIs(opHandler)))
	}
	if s.opts.Descope.ErrorEnvelope {
		mux.Handle(PathToken, s.descopeErrors(loopbackURIs(opHandler)))
	}
	mux.Handle("/", loopbackURIs(opHandler))
	return s.count(mux)
}

// Issuer is http://<addr>/<ProjectID> (Descope.AppsIssuer: http://<addr>/v1/apps/<ProjectID>).
func (s *Server) Issuer() string { return s.issuer }

// IssuerPath is "/<ProjectID>" (Descope.AppsIssuer: "/v1/apps/<ProjectID>").
func (s *Server) IssuerPath() string {
	if s.opts.Descope.AppsIssuer {
		return "/v1/apps/" + s.opts.ProjectID
	}
	return "/" + s.opts.ProjectID
}

// URL is the root of the server, http://<addr>.
func (s *Server) URL() string { return s.base }

// ListenURL is where the server itself listens, http://<addr> (the same as URL unless Options.PublicURL is set).
func (s *Server) ListenURL() string { return s.listen }

// ClientID is the client_id (the project ID unless Options.ClientID names an app).
func (s *Server) ClientID() string { return s.opts.ClientID }

// ProjectID is the Descope project ID.
func (s *Server) ProjectID() string { return s.opts.ProjectID }

// ClientSecret is the client secret (the access key).
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// Options returns the effective options (defaults applied).
func (s *Server) Options() Options { return s.opts }

// RotateKey makes the provider sign with a new key; the JWKS then publishes
// the new key and all previous ones. It returns the new key ID.
func (s *Server) RotateKey() (string, error) { return s.storage.keys.rotate() }

// Passkeys is the number of passkeys registered for username (0 for an unknown user).
func (s *Server) Passkeys(username string) int {
	u, ok := s.storage.dir.byName(username)
	if !ok {
		return 0
	}
	return s.passkeys.count(u.Subject)
}

// PasskeysAvailable reports whether the login page offers passkeys: browsers need a host name (such as
// localhost) as WebAuthn relying party ID, not an IP address, so start the provider on localhost:PORT.
func (s *Server) PasskeysAvailable() bool { return s.passkeys.available() }

// KeyID returns the ID (kid) of the current signing key.
func (s *Server) KeyID() string { return s.storage.keys.signing().id }

// Close stops the server immediately.
func (s *Server) Close() error {
	if err := s.http.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
