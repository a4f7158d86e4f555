package devidp

import (
	"context"
	"errors"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// userBySubject returns a copy of the user (UpdateUser may change it meanwhile).
func (s *storage) userBySubject(sub string) (*User, error) {
	u, ok := s.dir.bySub(sub)
	if !ok {
		return nil, errors.New("user not found")
	}
	c := *u
	return &c, nil
}

// authzClaims are the Descope authorization claims: roles, permissions,
// tenants and dct.
func authzClaims(u *User) map[string]any {
	tenants := make(map[string]any, len(u.Tenants))
	for id, t := range u.Tenants {
		tenants[id] = map[string]any{"roles": nonNil(t.Roles), "permissions": nonNil(t.Permissions)}
	}
	c := map[string]any{
		"roles":       nonNil(u.Roles),
		"permissions": nonNil(u.Permissions),
		"tenants":     tenants,
	}
	if u.CurrentTenant != "" {
		c["dct"] = u.CurrentTenant
	}
	return c
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// accessTokenClaims are the private claims of a JWT access token. zitadel
// sets iss, sub, aud, exp, iat, nbf, jti and client_id itself, and never azp.
func (s *storage) accessTokenClaims(sub string, amr []string) (map[string]any, error) {
	u, err := s.userBySubject(sub)
	if err != nil {
		return nil, err
	}
	c := authzClaims(u)
	if !s.opts.ProfileInUserinfoOnly {
		c["email"], c["name"] = u.Email, u.Name
	}
	if len(amr) > 0 {
		c["amr"] = amr
	}
	if s.opts.AZPClaim {
		c["azp"] = s.client.id
	}
	return c, nil
}

// GetPrivateClaimsFromRequest implements op.CanGetPrivateClaimsFromRequest.
func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	var amr []string
	if r, ok := req.(interface{ GetAMR() []string }); ok {
		amr = r.GetAMR()
	}
	return s.accessTokenClaims(req.GetSubject(), amr)
}

// GetPrivateClaimsFromScopes is the fallback of GetPrivateClaimsFromRequest.
func (s *storage) GetPrivateClaimsFromScopes(_ context.Context, userID, _ string, _ []string) (map[string]any, error) {
	return s.accessTokenClaims(userID, amrPassword)
}

// Where setUserinfo's claims go: the shapes of AuthzInAccessTokenOnly and
// ProfileInUserinfoOnly differ between the ID token and the userinfo answer.
const (
	forIDToken = iota
	forUserinfo
	forIntrospection
)

// setUserinfo fills sub, email, email_verified, name and the authorization
// claims, as far as the options put them in this kind of answer.
func (s *storage) setUserinfo(ui *oidc.UserInfo, sub string, kind int) error {
	u, err := s.userBySubject(sub)
	if err != nil {
		return err
	}
	ui.Subject = u.Subject
	if kind != forIDToken || !s.opts.ProfileInUserinfoOnly {
		ui.Email = u.Email
		ui.Name = u.Name
		if u.EmailUnverified {
			ui.AppendClaims("email_verified", false) // the field's omitempty would drop a false
		} else {
			ui.EmailVerified = true
		}
	}
	if kind == forIntrospection || !s.opts.AuthzInAccessTokenOnly {
		c := authzClaims(u)
		if s.opts.Descope.TenantOnly {
			tenantOnly(c) // the project's JWT schema shapes every answer (descope.go)
		}
		for k, v := range c {
			ui.AppendClaims(k, v)
		}
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in zitadel; SetUserinfoFromRequest does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest implements op.CanSetUserinfoFromRequest: the ID
// token claims. amr, nonce, azp, auth_time are set by zitadel.
func (s *storage) SetUserinfoFromRequest(_ context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	return s.setUserinfo(ui, req.GetSubject(), forIDToken)
}

// SetUserinfoFromToken serves the userinfo endpoint.
func (s *storage) SetUserinfoFromToken(_ context.Context, ui *oidc.UserInfo, tokenID, _, _ string) error {
	t, err := s.activeToken(tokenID)
	if err != nil {
		return err
	}
	sub := t.subject
	if s.opts.UserinfoSubject != "" {
		sub = s.opts.UserinfoSubject
	}
	return s.setUserinfo(ui, sub, forUserinfo)
}

// SetIntrospectionFromToken serves the introspection endpoint.
func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, _, clientID string) error {
	t, err := s.activeToken(tokenID)
	if err != nil {
		return err
	}
	if clientID != t.clientID {
		return errors.New("token is not valid for this client")
	}
	ui := new(oidc.UserInfo)
	if err := s.setUserinfo(ui, t.subject, forIntrospection); err != nil {
		return err
	}
	resp.SetUserInfo(ui)
	resp.Scope = t.scopes
	resp.ClientID = t.clientID
	resp.Audience = t.audience
	resp.Expiration = oidc.FromTime(t.expiration)
	resp.TokenType = oidc.BearerToken // only access tokens are found here (RFC 7662 2.2)
	resp.Issuer = op.IssuerFromContext(ctx)
	return nil
}
