package devidp

// The request and token models below are adapted from zitadel/oidc's
// example/server/storage (Apache-2.0, github.com/zitadel/oidc/v3@v3.52.0).

import (
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authRequest implements op.AuthRequest.
type authRequest struct {
	id            string
	created       time.Time
	clientID      string
	redirectURI   string
	state         string
	nonce         string
	scopes        []string
	responseType  oidc.ResponseType
	responseMode  oidc.ResponseMode
	codeChallenge *oidc.CodeChallenge

	subject  string
	done     bool
	authTime time.Time
	amr      []string // how the user authenticated: amrPassword or amrPasskey
	acr      string   // the level reached (ACRPassword, ACRMFA): stepup.go

	acrValues []string // what the client asked for (acr_values, max_age, prompt): stepup.go
	maxAge    *uint
	prompt    []string
}

var _ op.AuthRequest = (*authRequest)(nil)

func newAuthRequest(id string, r *oidc.AuthRequest, scopes []string) *authRequest {
	var cc *oidc.CodeChallenge
	if r.CodeChallenge != "" {
		// Pass the method through, so that an unsupported one is refused
		// instead of being verified as plain.
		cc = &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod}
	}
	return &authRequest{
		id:            id,
		created:       time.Now(),
		clientID:      r.ClientID,
		redirectURI:   r.RedirectURI,
		state:         r.State,
		nonce:         r.Nonce,
		scopes:        scopes,
		responseType:  r.ResponseType,
		responseMode:  r.ResponseMode,
		codeChallenge: cc,
		acrValues:     r.ACRValues,
		maxAge:        r.MaxAge,
		prompt:        r.Prompt,
	}
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return a.acr }
func (a *authRequest) GetAMR() []string                      { return a.amr }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.codeChallenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

// The amr claim's values (RFC 8176 "pwd"; Descope names passkey sign-ins "webauthn").
var (
	amrPassword = []string{"pwd"}
	amrPasskey  = []string{"webauthn"}
)

// accessToken is the stored state of an issued access token (its jti).
type accessToken struct {
	id             string
	clientID       string
	subject        string
	refreshTokenID string
	audience       []string
	expiration     time.Time
	scopes         []string
}

// refreshToken is the stored state of a refresh token; the token value is its ID.
type refreshToken struct {
	id          string
	authTime    time.Time
	amr         []string
	audience    []string
	subject     string
	clientID    string
	expiration  time.Time
	scopes      []string
	accessToken string // accessToken.id
}

// refreshRequest implements op.RefreshTokenRequest over a copy of a refreshToken.
type refreshRequest struct{ t refreshToken }

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string             { return r.t.amr }
func (r *refreshRequest) GetAudience() []string        { return r.t.audience }
func (r *refreshRequest) GetAuthTime() time.Time       { return r.t.authTime }
func (r *refreshRequest) GetClientID() string          { return r.t.clientID }
func (r *refreshRequest) GetScopes() []string          { return r.t.scopes }
func (r *refreshRequest) GetSubject() string           { return r.t.subject }
func (r *refreshRequest) SetCurrentScopes(sc []string) { r.t.scopes = sc }
