package descopeoidc

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is the middleware configuration. Traefik decodes it from the dynamic configuration with mapstructure
// (keys are case-insensitive, values weakly typed: "true" and "60" arrive as strings, "a,b" becomes a list).
// Durations are strings such as "90s", "24h" or a number of seconds. Every string value (also in lists and maps) may
// contain ${ENV_NAME}; booleans may not (Traefik decodes them before the plugin sees them).
type Config struct {
	Issuer                  string            `json:"issuer,omitempty"`
	ProjectID               string            `json:"projectID,omitempty"`
	ClientID                string            `json:"clientID,omitempty"`
	ClientSecret            string            `json:"clientSecret,omitempty"`
	ClientSecretFile        string            `json:"clientSecretFile,omitempty"`
	ClientAuthMethod        string            `json:"clientAuthMethod,omitempty"`
	PrivateKeyFile          string            `json:"privateKeyFile,omitempty"`
	PrivateKeyID            string            `json:"privateKeyID,omitempty"`
	SessionSecret           string            `json:"sessionSecret,omitempty"`
	SessionSecretFile       string            `json:"sessionSecretFile,omitempty"`
	PreviousSessionSecrets  []string          `json:"previousSessionSecrets,omitempty"`
	CallbackPath            string            `json:"callbackPath,omitempty"`
	LogoutPath              string            `json:"logoutPath,omitempty"`
	PostLogoutRedirectURL   string            `json:"postLogoutRedirectURL,omitempty"`
	RevokeOnLogout          bool              `json:"revokeOnLogout,omitempty"`
	Scopes                  []string          `json:"scopes,omitempty"`
	AuthParams              map[string]string `json:"authParams,omitempty"`
	RequireAZP              bool              `json:"requireAZP"`
	Leeway                  string            `json:"leeway,omitempty"`
	ForwardHeaders          map[string]string `json:"forwardHeaders,omitempty"`
	ForwardAccessToken      bool              `json:"forwardAccessToken,omitempty"`
	KeepAuthorizationHeader bool              `json:"keepAuthorizationHeader,omitempty"`
	Unauthenticated         string            `json:"unauthenticated,omitempty"`
	CookieName              string            `json:"cookieName,omitempty"`
	CookieDomain            string            `json:"cookieDomain,omitempty"`
	CookiePath              string            `json:"cookiePath,omitempty"`
	CookieSecure            bool              `json:"cookieSecure"`
	CookieSameSite          string            `json:"cookieSameSite,omitempty"`
	SessionMaxAge           string            `json:"sessionMaxAge,omitempty"`
	SessionIdleTimeout      string            `json:"sessionIdleTimeout,omitempty"`
	RefreshMargin           string            `json:"refreshMargin,omitempty"`
	SessionRevalidate       string            `json:"sessionRevalidate,omitempty"`
	CacheMemory             string            `json:"cacheMemory,omitempty"`            // MiB per cache: cache.go
	Redis                   *RedisConfig      `json:"redis,omitempty"`                  // a store shared by replicas: sharedsessions.go
	BackchannelLogoutPath   string            `json:"backchannelLogoutPath,omitempty"`  // backchannel.go
	FrontchannelLogoutPath  string            `json:"frontchannelLogoutPath,omitempty"` // backchannel.go
	AllowBearerTokens       bool              `json:"allowBearerTokens,omitempty"`
	BearerAudiences         []string          `json:"bearerAudiences,omitempty"`
	BearerClients           []string          `json:"bearerClients,omitempty"`
	AcceptedIssuers         []string          `json:"acceptedIssuers,omitempty"`
	AllowMissingAudience    bool              `json:"allowMissingAudience,omitempty"`
	RequiredRoles           []string          `json:"requiredRoles,omitempty"`
	RequiredPermissions     []string          `json:"requiredPermissions,omitempty"`
	RequiredMatch           string            `json:"requiredMatch,omitempty"`
	Tenant                  string            `json:"tenant,omitempty"`
	ClaimRules              []ClaimRule       `json:"claimRules,omitempty"`
	Userinfo                string            `json:"userinfo,omitempty"`
	ClaimsFrom              []string          `json:"claimsFrom,omitempty"`
	RequireVerifiedEmail    bool              `json:"requireVerifiedEmail,omitempty"`
	ExcludedPaths           []string          `json:"excludedPaths,omitempty"`
	CAFile                  string            `json:"caFile,omitempty"`
	InsecureSkipVerify      bool              `json:"insecureSkipVerify,omitempty"`
	AllowInsecureIssuer     bool              `json:"allowInsecureIssuer,omitempty"`
	LogLevel                string            `json:"logLevel,omitempty"`
	// Issue 11 features, each derived in its own file.
	LoginPath             string   `json:"loginPath,omitempty"`             // loginentry.go
	AllowPreflight        bool     `json:"allowPreflight,omitempty"`        // loginentry.go
	DescopeSessionCookie  string   `json:"descopeSessionCookie,omitempty"`  // descopecookie.go
	DescopeRefreshCookie  string   `json:"descopeRefreshCookie,omitempty"`  // descopecookie.go
	ForwardDescopeCookies bool     `json:"forwardDescopeCookies,omitempty"` // descopecookie.go
	RequiredACR           []string `json:"requiredACR,omitempty"`           // stepup.go
	RequiredAMR           []string `json:"requiredAMR,omitempty"`           // stepup.go
	MaxAuthAge            string   `json:"maxAuthAge,omitempty"`            // stepup.go
	RequireStepUp         bool     `json:"requireStepUp,omitempty"`         // stepup.go
	SilentReauth          bool     `json:"silentReauth,omitempty"`          // silent.go
	LogFormat             string   `json:"logFormat,omitempty"`             // events.go
	SessionInfoPath       string   `json:"sessionInfoPath,omitempty"`       // sessioninfo.go
	IntrospectionURL      string   `json:"introspectionURL,omitempty"`      // introspect.go
	IntrospectionCacheTTL string   `json:"introspectionCacheTTL,omitempty"` // introspect.go
	// Issue 20: metrics.go
	MetricsPath        string   `json:"metricsPath,omitempty"`
	MetricsSourceRange []string `json:"metricsSourceRange,omitempty"`
	// Issue 16: dex's access tokens carry nonce and at_hash.
	AllowIDTokenShapedBearer bool `json:"allowIDTokenShapedBearer,omitempty"` // accesstoken.go
	// Unknown collects the keys Traefik's decoder has no field for; New fails naming them (configkeys.go).
	Unknown map[string]any `json:"-" mapstructure:",remain"`
}

// ClaimRule requires a claim (dotted path, e.g. "tenants.T1.roles", or a JSON Pointer such as
// "/https:~1~1example.com~1roles" for keys with dots: claimpath.go) to equal one of Equals, or, when the claim is a
// list, to contain one of Contains. Both may be set; each set one must hold.
type ClaimRule struct {
	Claim    string         `json:"claim,omitempty"`
	Equals   []string       `json:"equals,omitempty"`
	Contains []string       `json:"contains,omitempty"`
	Unknown  map[string]any `json:"-" mapstructure:",remain"` // keys no field takes: New fails (configkeys.go)
}

// CreateConfig returns the default configuration. Traefik calls it before decoding the user's values onto it.
func CreateConfig() *Config {
	return &Config{
		RequireAZP:   true,
		CookieSecure: true,
	}
}

const (
	descopeBaseURL        = "https://api.descope.com/"
	defaultCallbackPath   = "/oauth2/callback"
	defaultLogoutPath     = "/oauth2/logout"
	defaultCookieName     = "_descopeoidc"
	minSessionSecretBytes = 32
	maxSessionChunks      = 8
)

// Unauthenticated request handling modes.
const (
	modeAuto = iota
	modeRedirect
	mode401
)

// settings is everything New derives from Config; it never changes after New.
type settings struct {
	secretsID                      string // a digest of the session secrets: instances with the same one share sessions (registry.go)
	issuer, clientID, clientSecret string
	authMethod                     string
	assertionKey                   any
	assertionAlg, assertionKID     string
	sessionAEADs                   []cipher.AEAD // [0] seals, all open
	stateAEADs                     []cipher.AEAD
	sessionAAD, stateAAD, hintAAD  string // GCM additional data: purpose|issuer|clientID (see session.go)
	callbackPath, logoutPath       string
	postLogoutURL                  string
	revokeOnLogout                 bool
	scope                          string
	authParams                     url.Values
	requireAZP                     bool
	leeway                         time.Duration
	headers                        []headerRule
	stripHeaders                   []string
	keepClaims                     map[string]bool
	forwardAccessToken             bool
	keepAuthorization              bool // keepAuthorizationHeader: the client's Authorization goes upstream on the session path
	unauthMode                     int
	cookieName, cookieDomain       string
	statePrefix                    string // login-state cookies are statePrefix + a part of the state
	cookiePath                     string
	cookieSecure                   bool
	sameSite                       http.SameSite
	maxAge, idleTimeout            time.Duration
	refreshMargin                  time.Duration
	revalidate                     time.Duration // sessionRevalidate; 0: off
	store                          sharedStore   // redis; nil: nothing shared between processes
	storeID                        string        // identifies the store's configuration ("" without one)
	backchannelPath                string        // backchannelLogoutPath; "" off
	frontchannelPath               string        // frontchannelLogoutPath; "" off
	bearer                         bool
	bearerAudiences                []string
	bearerClients                  []string
	requireBearerClient            bool // bearerClients was configured: azp or client_id must be present
	bearerIDTokenShaped            bool // allowIDTokenShapedBearer: nonce and at_hash do not refuse a bearer token
	bearerIssuers                  []string
	projectIssuers                 []string // the issuer and, with projectID, Descope's issuer forms on its host
	allowMissingAud                bool     // allowMissingAudience: a token of projectIssuers may have no aud
	projectID                      string
	authMaxAge                     time.Duration // from authParams.max_age: ID tokens need a recent auth_time
	authz                          *authzRules
	sources                        *claimSources // claimsFrom, userinfo, requireVerifiedEmail (claims.go)
	excluded                       *pathMatcher
	client                         *http.Client
	transportKey                   string // caFile path and TLS switches: which shared provider cache to use
	caFingerprint                  string // SHA-256 of the caFile content
	logLevel                       int
	cacheBytes                     int64  // cacheMemory: the memory bound of each of the configuration's caches
	loginPath                      string // loginentry.go; flat fields, not a struct: under Yaegi a field
	allowPreflight                 bool   // of a struct-valued field allocates on every access (hot path)
	screen                         bool   // allowPreflight or excludedPaths: ServeHTTP asks screened first
	ownPaths                       map[string]bool
	ds                             descopeCookie // descopeSessionCookie: descopecookie.go
	stepUp                         *stepUpRule   // requiredACR, requiredAMR, maxAuthAge, requireStepUp; nil when off: stepup.go
	silentReauth                   bool          // silentReauth: silent.go
	introspect                     introspection // opaque bearer tokens: introspect.go
	logJSON                        bool          // logFormat json: logger.go, events.go
	sessionInfoPath                string        // sessioninfo.go; "" when off
	metricsPath                    string        // "" when off: metrics.go
	metricsSources                 []*net.IPNet  // metricsSourceRange
}

// headerRule sets header name (canonical) from the claim at path.
type headerRule struct {
	name string
	path []string
}

func newSettings(c *Config) (*settings, error) {
	if c == nil {
		return nil, errors.New("missing configuration")
	}
	if err := checkUnknownKeys(c); err != nil {
		return nil, err
	}
	if err := expandConfigEnv(c); err != nil {
		return nil, err
	}
	s := &settings{}
	steps := []func(*Config, *settings) error{
		deriveIdentity, deriveClientAuth, deriveSessionKeys, derivePaths, deriveCookie,
		deriveDurations, deriveScopes, deriveHeaders, deriveBearer, deriveAuthz, deriveStepUp, deriveLogoutChannels, deriveClaimSources, deriveExcluded,
		deriveTransport, deriveStore, deriveMisc, deriveLoginEntry, deriveDescopeCookie, deriveIntrospection,
		deriveLogFormat, deriveSessionInfo,
		deriveMetrics, // last: after every step that adds to ownPaths
	}
	for _, step := range steps {
		if err := step(c, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${NAME} with the environment variable NAME; an unset variable is an error naming the key.
func expandEnv(key, value string) (string, error) {
	if !strings.Contains(value, "${") {
		return value, nil
	}
	var out strings.Builder
	last := 0
	for _, ref := range envRef.FindAllStringSubmatchIndex(value, -1) { // no func literal: yaegilint_test.go
		name := value[ref[2]:ref[3]]
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("%s: environment variable %s is not set", key, name)
		}
		out.WriteString(value[last:ref[0]])
		out.WriteString(v)
		last = ref[1]
	}
	out.WriteString(value[last:])
	return out.String(), nil
}

func expandConfigEnv(c *Config) error {
	fields := []struct {
		key string
		p   *string
	}{
		{"issuer", &c.Issuer}, {"projectID", &c.ProjectID}, {"clientID", &c.ClientID},
		{"clientSecret", &c.ClientSecret}, {"clientSecretFile", &c.ClientSecretFile},
		{"clientAuthMethod", &c.ClientAuthMethod}, {"privateKeyFile", &c.PrivateKeyFile},
		{"privateKeyID", &c.PrivateKeyID}, {"sessionSecret", &c.SessionSecret},
		{"sessionSecretFile", &c.SessionSecretFile}, {"callbackPath", &c.CallbackPath},
		{"logoutPath", &c.LogoutPath}, {"postLogoutRedirectURL", &c.PostLogoutRedirectURL},
		{"leeway", &c.Leeway}, {"unauthenticated", &c.Unauthenticated}, {"cookieName", &c.CookieName},
		{"cookieDomain", &c.CookieDomain}, {"cookiePath", &c.CookiePath}, {"cookieSameSite", &c.CookieSameSite},
		{"sessionMaxAge", &c.SessionMaxAge}, {"sessionIdleTimeout", &c.SessionIdleTimeout},
		{"refreshMargin", &c.RefreshMargin}, {"sessionRevalidate", &c.SessionRevalidate},
		{"backchannelLogoutPath", &c.BackchannelLogoutPath}, {"frontchannelLogoutPath", &c.FrontchannelLogoutPath}, {"requiredMatch", &c.RequiredMatch}, {"tenant", &c.Tenant},
		{"caFile", &c.CAFile}, {"logLevel", &c.LogLevel}, {"userinfo", &c.Userinfo},
		{"loginPath", &c.LoginPath}, {"descopeSessionCookie", &c.DescopeSessionCookie}, {"metricsPath", &c.MetricsPath},
		{"descopeRefreshCookie", &c.DescopeRefreshCookie}, {"maxAuthAge", &c.MaxAuthAge},
		{"introspectionURL", &c.IntrospectionURL}, {"cacheMemory", &c.CacheMemory},
		{"logFormat", &c.LogFormat}, {"sessionInfoPath", &c.SessionInfoPath}, {"introspectionCacheTTL", &c.IntrospectionCacheTTL},
	}
	for _, f := range fields {
		v, err := expandEnv(f.key, *f.p)
		if err != nil {
			return err
		}
		*f.p = strings.TrimSpace(v)
	}
	lists := []struct {
		key string
		l   []string
	}{
		{"previousSessionSecrets", c.PreviousSessionSecrets}, {"scopes", c.Scopes},
		{"bearerAudiences", c.BearerAudiences}, {"bearerClients", c.BearerClients}, {"acceptedIssuers", c.AcceptedIssuers},
		{"requiredRoles", c.RequiredRoles}, {"requiredPermissions", c.RequiredPermissions},
		{"excludedPaths", c.ExcludedPaths}, {"claimsFrom", c.ClaimsFrom},
		{"requiredACR", c.RequiredACR}, {"requiredAMR", c.RequiredAMR}, {"metricsSourceRange", c.MetricsSourceRange},
	}
	for _, f := range lists {
		for i, v := range f.l {
			e, err := expandEnv(f.key, v)
			if err != nil {
				return err
			}
			f.l[i] = e
		}
	}
	if err := expandRedisEnv(c.Redis); err != nil {
		return err
	}
	maps := []struct {
		key string
		m   map[string]string
	}{{"authParams", c.AuthParams}, {"forwardHeaders", c.ForwardHeaders}}
	for _, f := range maps {
		for k, v := range f.m {
			e, err := expandEnv(f.key+"."+k, v)
			if err != nil {
				return err
			}
			f.m[k] = e
		}
	}
	return nil
}

func deriveIdentity(c *Config, s *settings) error {
	s.issuer = c.Issuer // exactly as configured: compared with discovery's issuer and iss as is (OIDC Discovery 4.3)
	s.clientID = c.ClientID
	s.projectID = c.ProjectID
	if c.ProjectID != "" {
		if err := validProjectID(c.ProjectID); err != nil {
			return fmt.Errorf("projectID: %q is %v", c.ProjectID, err)
		}
		if s.issuer == "" {
			s.issuer = descopeBase(c.ProjectID) + c.ProjectID // regional hosts: descopeproject.go
		}
		if s.clientID == "" {
			s.clientID = c.ProjectID
		}
	}
	if s.issuer == "" {
		return errors.New("issuer: required (or set projectID for Descope)")
	}
	if s.clientID == "" {
		return errors.New("clientID: required (or set projectID for Descope)")
	}
	u, err := url.Parse(s.issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("issuer: %q is not an absolute http(s) URL without query", s.issuer)
	}
	if u.Scheme == "http" && !c.AllowInsecureIssuer && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("issuer: %q must use https (http is allowed only for loopback hosts or with allowInsecureIssuer: true)", s.issuer)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readSecret returns the inline value or the content of the file; setting both is a conflict.
func readSecret(key, inline, file string) (string, error) {
	if inline != "" && file != "" {
		return "", fmt.Errorf("%s and %sFile: set only one", key, key)
	}
	if file == "" {
		return inline, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%sFile: cannot read %q: %v", key, file, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func deriveClientAuth(c *Config, s *settings) error {
	secret, err := readSecret("clientSecret", c.ClientSecret, c.ClientSecretFile)
	if err != nil {
		return err
	}
	s.clientSecret = secret
	s.authMethod = strings.ToLower(c.ClientAuthMethod)
	switch s.authMethod {
	case "":
		s.authMethod = "client_secret_basic"
	case "client_secret_basic", "client_secret_post":
	case "private_key_jwt":
		if c.PrivateKeyFile == "" {
			return errors.New("privateKeyFile: required when clientAuthMethod is private_key_jwt")
		}
		key, alg, err := loadPrivateKey(c.PrivateKeyFile)
		if err != nil {
			return fmt.Errorf("privateKeyFile: %v", err)
		}
		s.assertionKey = key // not in a tuple assignment: an `any` from an `any` there panics under Yaegi (reflect.Set)
		s.assertionAlg, s.assertionKID = alg, c.PrivateKeyID
	default:
		return fmt.Errorf("clientAuthMethod: %q is not one of client_secret_basic, client_secret_post, private_key_jwt", c.ClientAuthMethod)
	}
	return nil
}

func deriveSessionKeys(c *Config, s *settings) error {
	secret, err := readSecret("sessionSecret", c.SessionSecret, c.SessionSecretFile)
	if err != nil {
		return err
	}
	if secret == "" {
		return errors.New("sessionSecret: required (at least 32 bytes; e.g. openssl rand -base64 48), or sessionSecretFile")
	}
	secrets := append([]string{secret}, c.PreviousSessionSecrets...)
	for i, sec := range secrets {
		key := "sessionSecret"
		if i > 0 {
			key = "previousSessionSecrets[" + strconv.Itoa(i-1) + "]"
		}
		if len(sec) < minSessionSecretBytes {
			return fmt.Errorf("%s: must be at least %d bytes, got %d", key, minSessionSecretBytes, len(sec))
		}
		sa, err := newAEAD(sec, "session")
		if err != nil {
			return fmt.Errorf("%s: %v", key, err)
		}
		st, err := newAEAD(sec, "state")
		if err != nil {
			return fmt.Errorf("%s: %v", key, err)
		}
		s.sessionAEADs = append(s.sessionAEADs, sa)
		s.stateAEADs = append(s.stateAEADs, st)
	}
	s.secretsID = digest(append([]string{"descopeoidc/registry"}, secrets...)...) // which sessions it shares: registry.go
	s.sessionAAD = cookieAAD("session", s.issuer, s.clientID)                     // deriveIdentity ran first
	s.stateAAD = cookieAAD("state", s.issuer, s.clientID)
	s.hintAAD = cookieAAD("logout", s.issuer, s.clientID) // sealed with the session keys: hint.go
	return nil
}

func validPath(key, p string) error {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "?#\\ ") {
		return fmt.Errorf("%s: %q must be an absolute path such as /oauth2/callback", key, p)
	}
	return nil
}

func derivePaths(c *Config, s *settings) error {
	s.callbackPath = orDefault(c.CallbackPath, defaultCallbackPath)
	s.logoutPath = orDefault(c.LogoutPath, defaultLogoutPath)
	if err := validPath("callbackPath", s.callbackPath); err != nil {
		return err
	}
	if err := validPath("logoutPath", s.logoutPath); err != nil {
		return err
	}
	if s.callbackPath == s.logoutPath {
		return errors.New("logoutPath: must differ from callbackPath")
	}
	s.postLogoutURL = orDefault(c.PostLogoutRedirectURL, "/")
	if _, ok := safeRedirectPath(s.postLogoutURL); !ok {
		u, err := url.Parse(s.postLogoutURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("postLogoutRedirectURL: %q must be a path on this host or an absolute http(s) URL", s.postLogoutURL)
		}
	}
	s.revokeOnLogout = c.RevokeOnLogout
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

var cookieNameRe = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+\-.^_|~]+$`)

// defaultLoginPath is loginPath's default: the login entry for single-page apps (loginentry.go).
const defaultLoginPath = "/oauth2/login"

// deriveLoginEntry derives loginPath and allowPreflight (loginentry.go), and the paths the plugin answers itself.
func deriveLoginEntry(c *Config, s *settings) error {
	s.loginPath = orDefault(c.LoginPath, defaultLoginPath)
	if err := validPath("loginPath", s.loginPath); err != nil {
		return err
	}
	if s.loginPath == s.callbackPath || s.loginPath == s.logoutPath || s.loginPath == s.backchannelPath || s.loginPath == s.frontchannelPath {
		return fmt.Errorf("loginPath: %q must differ from callbackPath, logoutPath and the logout channels' paths", s.loginPath)
	}
	s.allowPreflight = c.AllowPreflight
	s.screen = s.allowPreflight || s.excluded.any // deriveExcluded ran before
	s.ownPaths = map[string]bool{s.callbackPath: true, s.logoutPath: true, s.loginPath: true}
	for _, p := range []string{s.backchannelPath, s.frontchannelPath} { // deriveLogoutChannels ran before
		if p != "" {
			s.ownPaths[p] = true
		}
	}
	return nil
}

func deriveCookie(c *Config, s *settings) error {
	s.cookieName = orDefault(c.CookieName, defaultCookieName)
	if !cookieNameRe.MatchString(s.cookieName) {
		return fmt.Errorf("cookieName: %q contains characters not allowed in a cookie name", s.cookieName)
	}
	s.cookieDomain = c.CookieDomain
	if strings.ContainsAny(s.cookieDomain, "/:; ") {
		return fmt.Errorf("cookieDomain: %q is not a domain", s.cookieDomain)
	}
	s.cookiePath = orDefault(c.CookiePath, "/")
	if err := validPath("cookiePath", s.cookiePath); err != nil {
		return err
	}
	s.cookieSecure = c.CookieSecure
	switch strings.ToLower(c.CookieSameSite) {
	case "", "lax":
		s.sameSite = http.SameSiteLaxMode
	case "strict":
		s.sameSite = http.SameSiteStrictMode
	case "none":
		if !c.CookieSecure {
			return errors.New("cookieSameSite: none requires cookieSecure: true (browsers reject it otherwise)")
		}
		s.sameSite = http.SameSiteNoneMode
	default:
		return fmt.Errorf("cookieSameSite: %q is not one of lax, strict, none", c.CookieSameSite)
	}
	if err := cookiePrefixRules(s); err != nil {
		return err
	}
	s.statePrefix = stateCookiePrefix(s.cookieName)
	return cookiesFit(s)
}

// cookiePrefixRules enforces what browsers require of __Host- and __Secure- cookie names (RFC 6265bis 4.1.3;
// browsers match the prefixes case-insensitively): they silently drop such a cookie otherwise.
func cookiePrefixRules(s *settings) error {
	lower := strings.ToLower(s.cookieName)
	switch {
	case strings.HasPrefix(lower, "__host-"):
		if !s.cookieSecure || s.cookiePath != "/" || s.cookieDomain != "" {
			return fmt.Errorf("cookieName: %q (__Host-) requires cookieSecure: true, cookiePath \"/\" and no cookieDomain; got cookieSecure %t, cookiePath %q, cookieDomain %q",
				s.cookieName, s.cookieSecure, s.cookiePath, s.cookieDomain)
		}
	case strings.HasPrefix(lower, "__secure-"):
		if !s.cookieSecure {
			return fmt.Errorf("cookieName: %q (__Secure-) requires cookieSecure: true", s.cookieName)
		}
	}
	return nil
}

// stateCookiePrefix names the login-state cookies after the session cookie. They live on the callback path, which a
// __Host- cookie may not (it needs Path=/): with a __Host- session name they take __Secure- instead (both need
// Secure, which __Host- requires).
func stateCookiePrefix(cookieName string) string {
	if strings.HasPrefix(strings.ToLower(cookieName), "__host-") {
		return "__Secure-" + cookieName[len("__host-"):] + "_state_"
	}
	return cookieName + "_state_"
}

// maxCookieBytes is what browsers store of one cookie (name, value and attributes, as in Set-Cookie): RFC 6265bis
// 5.6 caps name plus value at 4096 bytes and each attribute value at 1024.
const maxCookieBytes = 4096

// cookiesFit checks that the largest session chunk the plugin writes, with its name and attributes, fits in
// maxCookieBytes.
func cookiesFit(s *settings) error {
	c := &http.Cookie{
		Name: s.cookieName + "_" + strconv.Itoa(maxSessionChunks-1), Value: strconv.Itoa(maxSessionChunks) + "." + strings.Repeat("A", maxCookieChunk),
		Path: s.cookiePath, Domain: s.cookieDomain, MaxAge: 1 << 30, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	}
	if n := len(c.String()); n > maxCookieBytes {
		return fmt.Errorf("cookieName, cookiePath and cookieDomain: together too long; a session cookie would take %d bytes, browsers keep at most %d", n, maxCookieBytes)
	}
	// A login cookie holds about 250 bytes of value with the target "/"; leave room for 1024, so that return targets
	// of several hundred bytes fit too (longer ones are shortened).
	st := &http.Cookie{
		Name: s.statePrefix + strings.Repeat("A", 16), Value: strings.Repeat("A", 1024), Path: s.callbackPath,
		MaxAge: 600, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
	if n := len(st.String()); n > maxCookieBytes {
		return fmt.Errorf("cookieName and callbackPath: together too long; a login cookie would take %d bytes, browsers keep at most %d", n, maxCookieBytes)
	}
	return nil
}

// parseDuration accepts Go durations ("90s", "24h") and plain seconds ("60").
func parseDuration(key, v string, def time.Duration) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return def, nil
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("%s: %q must not be negative", key, v)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q is not a duration such as 90s or 24h", key, v)
	}
	return d, nil
}

func deriveDurations(c *Config, s *settings) error {
	var err error
	if s.leeway, err = parseDuration("leeway", c.Leeway, 60*time.Second); err != nil {
		return err
	}
	if s.leeway > 10*time.Minute {
		return fmt.Errorf("leeway: %s is more than 10m", s.leeway)
	}
	if s.maxAge, err = parseDuration("sessionMaxAge", c.SessionMaxAge, 24*time.Hour); err != nil {
		return err
	}
	if s.maxAge < time.Minute {
		return fmt.Errorf("sessionMaxAge: %s is shorter than 1m", s.maxAge)
	}
	if s.idleTimeout, err = parseDuration("sessionIdleTimeout", c.SessionIdleTimeout, 0); err != nil {
		return err
	}
	if s.idleTimeout != 0 && s.idleTimeout < time.Minute {
		return fmt.Errorf("sessionIdleTimeout: %s is shorter than 1m", s.idleTimeout)
	}
	if s.refreshMargin, err = parseDuration("refreshMargin", c.RefreshMargin, time.Minute); err != nil {
		return err
	}
	if s.revalidate, err = parseDuration("sessionRevalidate", c.SessionRevalidate, 0); err != nil {
		return err
	}
	if s.revalidate != 0 && (s.revalidate < 10*time.Second || s.revalidate > s.maxAge) {
		return fmt.Errorf("sessionRevalidate: %s is not between 10s and sessionMaxAge (%s)", s.revalidate, s.maxAge)
	}
	return nil
}

func deriveScopes(c *Config, s *settings) error {
	scopes := []string{"openid"}
	seen := map[string]bool{"openid": true}
	list := c.Scopes
	if len(list) == 0 {
		list = defaultScopes(c.ProjectID) // descopeproject.go
	}
	for _, item := range list {
		for _, sc := range strings.Fields(strings.ReplaceAll(item, ",", " ")) {
			if !seen[sc] {
				seen[sc] = true
				scopes = append(scopes, sc)
			}
		}
	}
	s.scope = strings.Join(scopes, " ")
	s.authParams = url.Values{}
	reserved := map[string]bool{
		"response_type": true, "client_id": true, "redirect_uri": true, "scope": true, "state": true,
		"nonce": true, "code_challenge": true, "code_challenge_method": true, "response_mode": true,
	}
	for k, v := range c.AuthParams {
		if reserved[strings.ToLower(k)] {
			return fmt.Errorf("authParams: %q is set by the plugin and cannot be overridden", k)
		}
		s.authParams.Set(k, v)
		if strings.EqualFold(k, "max_age") {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				return fmt.Errorf("authParams: max_age %q is not a number of seconds", v)
			}
			s.authMaxAge = time.Duration(n) * time.Second
			if n == 0 {
				s.authMaxAge = time.Nanosecond // max_age=0: auth_time required, the authentication must be fresh
			}
		}
	}
	return nil
}

var headerNameRe = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+\-.^_|~]+$`)

func deriveHeaders(c *Config, s *settings) error {
	fh := c.ForwardHeaders
	if len(fh) == 0 {
		fh = map[string]string{"X-Forwarded-User": "sub"}
	}
	s.keepClaims = map[string]bool{"sub": true}
	for name, claim := range fh {
		if !headerNameRe.MatchString(name) {
			return fmt.Errorf("forwardHeaders: %q is not a valid header name", name)
		}
		canon := http.CanonicalHeaderKey(name)
		switch canon {
		case "Cookie", "Host", "Authorization", "Content-Length", "Transfer-Encoding", "Connection":
			return fmt.Errorf("forwardHeaders: %q cannot be set by the plugin", name)
		}
		s.stripHeaders = append(s.stripHeaders, underscoreSpellings(canon)...)
		claim = strings.TrimSpace(claim)
		if claim == "" {
			continue // an empty claim only strips the header
		}
		path, err := parseClaimPath("forwardHeaders."+name, claim)
		if err != nil {
			return err
		}
		s.keepClaims[path[0]] = true
		s.headers = append(s.headers, headerRule{name: canon, path: path})
	}
	sortHeaderRules(s.headers)
	s.forwardAccessToken = c.ForwardAccessToken
	s.keepAuthorization = c.KeepAuthorizationHeader
	if s.forwardAccessToken && s.keepAuthorization {
		return errors.New("keepAuthorizationHeader: cannot be combined with forwardAccessToken, which sets the Authorization header itself")
	}
	return nil
}

// underscoreSpellings returns name and every spelling of it with some '-' written as '_', canonicalized as Go's
// server stores request header names (X-Forwarded_User becomes "X-Forwarded_user").
func underscoreSpellings(name string) []string {
	out := []string{name}
	if strings.Count(name, "-") > 6 {
		return out // 2^k spellings: beyond that, only the canonical name
	}
	for i := 0; i < len(name); i++ {
		if name[i] != '-' {
			continue
		}
		n := len(out)
		for j := 0; j < n; j++ {
			out = append(out, http.CanonicalHeaderKey(out[j][:i]+"_"+out[j][i+1:]))
		}
	}
	return out
}

// sortHeaderRules orders rules by name so that upstream headers are deterministic (insertion sort: a few entries).
func sortHeaderRules(h []headerRule) {
	for i := 1; i < len(h); i++ {
		for j := i; j > 0 && h[j].name < h[j-1].name; j-- {
			h[j], h[j-1] = h[j-1], h[j]
		}
	}
}

func deriveBearer(c *Config, s *settings) error {
	s.bearer = c.AllowBearerTokens
	if c.AllowIDTokenShapedBearer && !c.AllowBearerTokens {
		return errors.New("allowIDTokenShapedBearer: only with allowBearerTokens")
	}
	s.bearerIDTokenShaped = c.AllowIDTokenShapedBearer
	s.bearerAudiences = nonEmpty(c.BearerAudiences)
	if len(s.bearerAudiences) == 0 {
		s.bearerAudiences = []string{s.clientID}
	}
	s.bearerClients = nonEmpty(c.BearerClients)
	s.requireBearerClient = len(s.bearerClients) > 0
	if !s.requireBearerClient {
		s.bearerClients = []string{s.clientID}
	}
	// Descope's session token: iss is the bare project ID or a URL of the project on the issuer's host
	// (descopeproject.go); allowMissingAudience applies to these issuers only, never to acceptedIssuers.
	s.projectIssuers = appendNew([]string{s.issuer}, projectIssuers(s.issuer, s.projectID)...)
	s.bearerIssuers = appendNew(append([]string(nil), s.projectIssuers...), nonEmpty(c.AcceptedIssuers)...)
	s.allowMissingAud = c.AllowMissingAudience
	if s.allowMissingAud && s.projectID == "" {
		return errors.New("allowMissingAudience: requires projectID (it accepts Descope session tokens without aud from the project's own issuers only)")
	}
	return nil
}

func nonEmpty(in []string) []string {
	var out []string
	for _, v := range in {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func deriveAuthz(c *Config, s *settings) error {
	a, err := newAuthzRules(c)
	if err != nil {
		return err
	}
	s.authz = a
	for _, name := range a.claimNames() {
		s.keepClaims[name] = true
	}
	return nil
}

func deriveExcluded(c *Config, s *settings) error {
	s.excluded = &pathMatcher{}
	for _, p := range nonEmpty(c.ExcludedPaths) {
		if strings.HasPrefix(p, "^") {
			re, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("excludedPaths: %q is not a valid regular expression: %v", p, err)
			}
			s.excluded.any = true
			s.excluded.regexps = append(s.excluded.regexps, re)
			continue
		}
		if err := validPath("excludedPaths", p); err != nil {
			return err
		}
		s.excluded.add(p)
	}
	return nil
}

func deriveMisc(c *Config, s *settings) error {
	s.requireAZP = c.RequireAZP
	s.silentReauth = c.SilentReauth // silent.go
	switch strings.ToLower(c.Unauthenticated) {
	case "", "auto":
		s.unauthMode = modeAuto
	case "redirect":
		s.unauthMode = modeRedirect
	case "401":
		s.unauthMode = mode401
	default:
		return fmt.Errorf("unauthenticated: %q is not one of auto, redirect, 401", c.Unauthenticated)
	}
	lvl, ok := logLevels[strings.ToLower(orDefault(c.LogLevel, "info"))]
	if !ok {
		return fmt.Errorf("logLevel: %q is not one of error, warn, info, debug", c.LogLevel)
	}
	s.logLevel = lvl
	return deriveCacheMemory(c, s)
}

// deriveCacheMemory reads cacheMemory: MiB that each cache of the configuration (sessions, bearer tokens, Descope
// session JWTs) may hold, by the cache's estimate (entryBytes); 128 by default. A whole number from 1 to 65536.
func deriveCacheMemory(c *Config, s *settings) error {
	s.cacheBytes = defaultCacheMemory
	if c.CacheMemory == "" {
		return nil
	}
	mib, err := strconv.Atoi(strings.TrimSuffix(c.CacheMemory, "Mi"))
	if err != nil || mib < 1 || mib > 65536 {
		return fmt.Errorf("cacheMemory: %q is not a whole number of MiB from 1 to 65536 (e.g. 128)", c.CacheMemory)
	}
	s.cacheBytes = int64(mib) << 20
	return nil
}

// deriveStore validates redis (reading its password and TLS files, no connection) into the shared store. Its keys
// are under a prefix of the sessions they serve (issuer, client, cookie), so several configurations share a server.
func deriveStore(c *Config, s *settings) error {
	if c.Redis == nil {
		return nil
	}
	o, err := c.Redis.options("redis.")
	if err != nil {
		return err
	}
	s.store = newRedisStore(o, "descopeoidc:"+digest(s.issuer, s.clientID, s.cookieName)[:16]+":", s.maxAge)
	s.storeID = o.key
	return nil
}

// expandRedisEnv expands ${NAME} in redis's addresses and strings (file paths, names), naming the key.
func expandRedisEnv(rc *RedisConfig) error {
	if rc == nil {
		return nil
	}
	for i, a := range rc.Addresses {
		v, err := expandEnv("redis.addresses", a)
		if err != nil {
			return err
		}
		rc.Addresses[i] = strings.TrimSpace(v)
	}
	for _, f := range []struct {
		key string
		p   *string
	}{
		{"redis.masterName", &rc.MasterName}, {"redis.username", &rc.Username}, {"redis.passwordFile", &rc.PasswordFile},
		{"redis.sentinelUsername", &rc.SentinelUsername}, {"redis.sentinelPasswordFile", &rc.SentinelPasswordFile},
		{"redis.caFile", &rc.CAFile}, {"redis.certFile", &rc.CertFile}, {"redis.keyFile", &rc.KeyFile},
		{"redis.serverName", &rc.ServerName},
	} {
		v, err := expandEnv(f.key, *f.p)
		if err != nil {
			return err
		}
		*f.p = strings.TrimSpace(v)
	}
	return nil
}
