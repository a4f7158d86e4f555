package devidp

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// opServer adjusts zitadel's LegacyServer where Descope behaves differently:
//
//   - zitadel always sets azp = client_id in ID tokens (oidc.NewIDTokenClaims,
//     registered claims win over custom ones, and there is no option). With
//     AZPClaim false the ID token is re-signed without azp.
//   - zitadel only checks PKCE when the token request carries a code_verifier;
//     here a code issued with a code_challenge needs a code_verifier.
//   - zitadel takes the client of an id_token_hint from its azp; for hints
//     without azp the client is taken from client_id or the single audience.
//   - the userinfo endpoint answers 401, not 403, for revoked access tokens,
//     and the token endpoint 401, not 400, for invalid_client.
type opServer struct {
	*op.LegacyServer
	s *Server
}

// VerifyClient answers 401 for invalid_client, like zitadel's classic
// Provider handler (its Server API answers 400).
func (o *opServer) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	c, err := o.LegacyServer.VerifyClient(ctx, r)
	var oe *oidc.Error
	if errors.As(err, &oe) && oe.ErrorType == oidc.InvalidClient {
		return nil, op.NewStatusError(err, http.StatusUnauthorized)
	}
	return c, err
}

func (o *opServer) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	if r.Data.CodeVerifier == "" {
		ar, err := o.s.storage.AuthRequestByCode(ctx, r.Data.Code)
		if err == nil && ar.GetCodeChallenge() != nil {
			return nil, oidc.ErrInvalidGrant().WithDescription("code_verifier required")
		}
	}
	resp, err := o.LegacyServer.CodeExchange(ctx, r)
	if err != nil {
		return nil, err
	}
	return o.shape(o.stripAZP(resp))
}

func (o *opServer) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	r.Data.RefreshToken = o.s.aliases.original(r.Data.RefreshToken) // a JWT refresh token (descope.go)
	resp, err := o.LegacyServer.RefreshToken(ctx, r)
	if err != nil {
		return nil, err
	}
	return o.shape(o.stripAZP(resp))
}

// shape applies the Descope modes to a token response (descope.go); nothing when none is on.
func (o *opServer) shape(resp *op.Response, err error) (*op.Response, error) {
	tr, ok := resp.Data.(*oidc.AccessTokenResponse)
	if err != nil || !ok || (o.s.opts.Descope == Descope{} && o.s.opts.ClientID == o.s.opts.ProjectID) {
		return resp, err
	}
	if err := o.s.shapeTokens(tr); err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return resp, nil
}

// Introspect and Revocation know the tokens zitadel issued, not their Descope-shaped aliases.
func (o *opServer) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	r.Data.Token = o.s.aliases.original(r.Data.Token)
	return o.LegacyServer.Introspect(ctx, r)
}

func (o *opServer) Revocation(ctx context.Context, r *op.ClientRequest[oidc.RevocationRequest]) (*op.Response, error) {
	r.Data.Token = o.s.aliases.original(r.Data.Token)
	return o.LegacyServer.Revocation(ctx, r)
}

// UserInfo answers 401 (zitadel: 403 server_error) for a well-formed
// access token that was revoked or logged out.
func (o *opServer) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	r.Data.AccessToken = o.s.aliases.original(r.Data.AccessToken)
	claims, err := op.VerifyAccessToken[*oidc.AccessTokenClaims](ctx, r.Data.AccessToken, o.s.provider.AccessTokenVerifier(ctx))
	if err == nil {
		if _, err := o.s.storage.activeToken(claims.JWTID); err != nil {
			return nil, op.NewStatusError(oidc.ErrAccessDenied().WithDescription("access token invalid"), http.StatusUnauthorized)
		}
	}
	return o.LegacyServer.UserInfo(ctx, r)
}

func (o *opServer) stripAZP(resp *op.Response) (*op.Response, error) {
	tr, ok := resp.Data.(*oidc.AccessTokenResponse)
	if o.s.opts.AZPClaim || !ok || tr.IDToken == "" {
		return resp, nil
	}
	idToken, err := o.s.storage.keys.resignWithout(tr.IDToken, "azp")
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	tr.IDToken = idToken
	return resp, nil
}

func (o *opServer) EndSession(ctx context.Context, r *op.Request[oidc.EndSessionRequest]) (*op.Redirect, error) {
	if r.Data.IdTokenHint == "" {
		return o.LegacyServer.EndSession(ctx, r)
	}
	claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, r.Data.IdTokenHint, o.s.provider.IDTokenHintVerifier(ctx))
	if err != nil && !errors.As(err, &op.IDTokenHintExpiredError{}) {
		return nil, oidc.ErrInvalidRequest().WithDescription("id_token_hint invalid").WithParent(err)
	}
	if claims.AuthorizedParty != "" {
		return o.LegacyServer.EndSession(ctx, r)
	}
	data := *r.Data
	if data.ClientID == "" && len(claims.Audience) == 1 {
		data.ClientID = claims.Audience[0]
	}
	if !slices.Contains(claims.Audience, data.ClientID) {
		return nil, oidc.ErrInvalidRequest().WithDescription("client_id is not an audience of id_token_hint")
	}
	data.IdTokenHint = ""
	session, err := op.ValidateEndSessionRequest(ctx, &data, o.s.provider)
	if err != nil {
		return nil, err
	}
	if err := o.s.storage.TerminateSession(ctx, claims.Subject, session.ClientID); err != nil {
		return nil, err
	}
	return op.NewRedirect(session.RedirectURI), nil
}
