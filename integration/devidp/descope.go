package devidp

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// Descope modes: what Descope really does that the plain provider does not (issue 19). Each is off by default;
// the profile "descope-strict" (Options.Profile) turns them all on. Sources are cited per field; "go-sdk" is
// github.com/descope/go-sdk, "node-sdk" github.com/descope/node-sdk, "descope-js" github.com/descope/descope-js.
type Descope struct {
	// SessionIssuer is the iss of access tokens (Descope's session tokens): "" the issuer URL, "bare" the project
	// ID, "apps" <base>/v1/apps/<ProjectID>. node-sdk lib/helpers.ts issuerMatchesProject accepts all three.
	SessionIssuer string
	// NoSessionAudience leaves aud out of access tokens: Descope's session-JWT documentation lists no aud, and
	// older projects' session tokens have none.
	NoSessionAudience bool
	// SessionTokens shapes access tokens as Descope's session JWTs: drn "DS", no client_id and no scope.
	SessionTokens bool
	// TenantOnly is the "tenantOnly" JWT schema: no tenants claim, the current tenant's (dct) roles and permissions
	// at the root. go-sdk descope/internal/auth/auth.go reads roles this way ("dct" claim without "tenants").
	TenantOnly bool
	// AuthOnSessionToken puts amr (and su, true after a multi-factor sign-in) on the access token only; the ID
	// token has no auth_time, amr or acr.
	AuthOnSessionToken bool
	// IgnoreStepUpParams: the authorize endpoint ignores acr_values and max_age (Descope lists neither).
	IgnoreStepUpParams bool
	// JWTRefreshTokens: refresh tokens are JWTs with drn "DSR", as Descope's DSR (about 720 bytes with RS256; Descope's
	// are about 800).
	JWTRefreshTokens bool
	// ErrorEnvelope answers token endpoint errors in Descope's shape, {"errorCode":"E0…","errorDescription":…,
	// "errorMessage":…} (go-sdk descope/errors.go: E064001 a token of a logged-out session, E011003 a validation
	// failure), with ErrorStatus (400 by default; 404 is also seen).
	ErrorEnvelope bool
	ErrorStatus   int
	// AppsIssuer publishes the issuer, discovery and JWKS under <base>/v1/apps/<ProjectID>, as Descope's OIDC apps.
	AppsIssuer bool
	// TemplateClaimsNeedScope: the JWT template's claims (AZPClaim's azp) reach the ID and access tokens only when the
	// authorization asked for the scope descope.custom_claims, as users of Descope report (issue 19 item 6).
	TemplateClaimsNeedScope bool
}

// ProfileDescopeStrict is the Options.Profile that turns every Descope mode on, with an OIDC app's own client ID
// (ID and access tokens then have aud [ProjectID, ClientID] and no azp), no azp template and 10-minute session
// tokens (Descope's default) unless a lifetime is set.
const ProfileDescopeStrict = "descope-strict"

// ScopeCustomClaims is Descope's scope for the claims of the project's JWT template.
const ScopeCustomClaims = "descope.custom_claims"

// StrictClientID is the client ID of the OIDC app in the descope-strict profile.
const StrictClientID = "devidp-oidc-app"

func (o *Options) applyProfile() error {
	switch o.Profile {
	case "":
		return nil
	case ProfileDescopeStrict:
		o.Descope = Descope{SessionIssuer: "bare", NoSessionAudience: true, SessionTokens: true, TenantOnly: true,
			AuthOnSessionToken: true, IgnoreStepUpParams: true, JWTRefreshTokens: true, ErrorEnvelope: true,
			ErrorStatus: o.Descope.ErrorStatus, AppsIssuer: true}
		o.AZPClaim = false
		setDefault(&o.ClientID, StrictClientID)
		setDefault(&o.AccessTokenLifetime, 10*time.Minute)
		return nil
	}
	return errUnknownProfile(o.Profile)
}

type errUnknownProfile string

func (e errUnknownProfile) Error() string { return "devidp: unknown profile " + string(e) }

// aliases maps what a client holds (a reshaped access token, a JWT refresh token) to what zitadel issued.
type aliases struct{ m sync.Map }

func (a *aliases) original(v string) string {
	if o, ok := a.m.Load(v); ok {
		return o.(string)
	}
	return v
}

// shapeTokens reshapes a token response as Descope's: the access token (SessionIssuer, NoSessionAudience,
// SessionTokens, TenantOnly, AuthOnSessionToken, two audiences), the ID token, and a JWT refresh token.
func (s *Server) shapeTokens(tr *oidc.AccessTokenResponse) error {
	noTemplate := s.opts.Descope.TemplateClaimsNeedScope && !slices.Contains(tr.Scope, ScopeCustomClaims)
	if strings.Count(tr.AccessToken, ".") == 2 {
		shaped, err := s.storage.keys.resignWith(tr.AccessToken, func(c map[string]any) {
			s.shapeAccessClaims(c)
			if noTemplate {
				delete(c, "azp")
			}
		})
		if err != nil {
			return err
		}
		s.aliases.m.Store(shaped, tr.AccessToken)
		tr.AccessToken = shaped
	}
	if tr.IDToken != "" {
		idToken, err := s.storage.keys.resignWith(tr.IDToken, func(c map[string]any) {
			s.shapeIDClaims(c)
			if noTemplate {
				delete(c, "azp")
			}
		})
		if err != nil {
			return err
		}
		tr.IDToken = idToken
	}
	if s.opts.Descope.JWTRefreshTokens && tr.RefreshToken != "" {
		jwt, err := s.refreshJWT(tr.RefreshToken)
		if err != nil {
			return err
		}
		s.aliases.m.Store(jwt, tr.RefreshToken)
		tr.RefreshToken = jwt
	}
	return nil
}

// audience is [ProjectID, ClientID] for an app's own client ID (Descope's OIDC and inbound apps), else nil.
func (s *Server) audience() []any {
	if s.opts.ClientID == s.opts.ProjectID {
		return nil
	}
	return []any{s.opts.ProjectID, s.opts.ClientID}
}

func (s *Server) shapeAccessClaims(c map[string]any) {
	d := s.opts.Descope
	switch d.SessionIssuer {
	case "bare":
		c["iss"] = s.opts.ProjectID
	case "apps":
		c["iss"] = s.base + "/v1/apps/" + s.opts.ProjectID
	}
	if aud := s.audience(); aud != nil {
		c["aud"] = aud
	}
	if d.NoSessionAudience {
		delete(c, "aud")
	}
	if d.SessionTokens {
		c["drn"] = "DS"
		delete(c, "client_id")
		delete(c, "scope")
	}
	if d.TenantOnly {
		tenantOnly(c)
	}
	if d.AuthOnSessionToken {
		amr, _ := c["amr"].([]any)
		if slices.Contains(amr, any("mfa")) || slices.Contains(amr, any("otp")) || slices.Contains(amr, any("webauthn")) {
			c["su"] = true
		}
	}
}

func (s *Server) shapeIDClaims(c map[string]any) {
	d := s.opts.Descope
	if aud := s.audience(); aud != nil {
		c["aud"] = aud
		delete(c, "azp")
	}
	if d.TenantOnly {
		tenantOnly(c)
	}
	if d.AuthOnSessionToken {
		delete(c, "auth_time")
		delete(c, "amr")
		delete(c, "acr")
	}
}

// tenantOnly moves the current tenant's roles and permissions to the root and drops tenants (when there is one).
func tenantOnly(c map[string]any) {
	tenants, ok := c["tenants"].(map[string]any)
	if !ok {
		return
	}
	delete(c, "tenants")
	dct, _ := c["dct"].(string)
	t, _ := tenants[dct].(map[string]any)
	c["roles"], c["permissions"] = t["roles"], t["permissions"]
	if t == nil {
		c["roles"], c["permissions"] = []any{}, []any{}
	}
}

// refreshJWT wraps refresh token id into a signed JWT as Descope's DSR: drn "DSR", the project as iss and aud.
func (s *Server) refreshJWT(id string) (string, error) {
	s.storage.mu.Lock()
	rt, ok := s.storage.refreshTokens[id]
	sub, exp := "", time.Now().Add(s.opts.RefreshTokenLifetime)
	if ok {
		sub, exp = rt.subject, rt.expiration
	}
	s.storage.mu.Unlock()
	now := time.Now()
	payload, err := json.Marshal(map[string]any{
		"iss": s.opts.ProjectID, "aud": []string{s.opts.ProjectID}, "sub": sub, "drn": "DSR", "jti": id,
		"iat": now.Unix(), "exp": exp.Unix(), "amr": []string{"pwd"}, "rexp": exp.UTC().Format(time.RFC3339),
	})
	if err != nil {
		return "", err
	}
	return sign(s.storage.keys.signing(), payload)
}

// stepUpParamsIgnored drops acr_values and max_age from authorization requests (IgnoreStepUpParams).
func stepUpParamsIgnored(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Del("acr_values")
		q.Del("max_age")
		r.URL.RawQuery = q.Encode()
		next.ServeHTTP(w, r)
	})
}

// descopeErrors rewrites the token endpoint's OAuth errors as Descope's envelope (ErrorEnvelope).
func (s *Server) descopeErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var oe struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if rec.Code < 400 || json.Unmarshal(rec.Body.Bytes(), &oe) != nil || oe.Error == "" {
			copyResponse(w, rec)
			return
		}
		code := "E011003"
		if oe.Error == "invalid_grant" {
			code = "E064001"
		}
		status := s.opts.Descope.ErrorStatus
		if status == 0 {
			status = http.StatusBadRequest
		}
		body, _ := json.Marshal(map[string]string{"errorCode": code, "errorDescription": oe.Description,
			"errorMessage": "Request is invalid"})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(append(body, '\n'))
	})
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(bytes.Clone(rec.Body.Bytes()))
}
