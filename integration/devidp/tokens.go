package devidp

// Token bookkeeping, adapted from zitadel/oidc's example/server/storage
// (Apache-2.0, github.com/zitadel/oidc/v3@v3.52.0).

import (
	"context"
	"errors"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// CreateAccessToken stores an access token without refresh token; the ID
// becomes the jti of the JWT access token.
func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.newAccessTokenLocked(req, "")
	return t.id, t.expiration, nil
}

// CreateAccessAndRefreshTokens serves the code flow with offline_access
// (currentRefreshToken == "") and the refresh_token grant.
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if currentRefreshToken == "" {
		rt := &refreshToken{id: newID(), audience: req.GetAudience(), subject: req.GetSubject(), scopes: req.GetScopes()}
		if ar, ok := req.(*authRequest); ok {
			rt.clientID, rt.authTime, rt.amr = ar.clientID, ar.authTime, ar.GetAMR()
		}
		return s.issueLocked(req, rt)
	}
	rt, ok := s.refreshTokens[currentRefreshToken]
	if !ok || time.Now().After(rt.expiration) {
		// Used concurrently, rotated away or revoked meanwhile.
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token is invalid")
	}
	if !s.opts.NoRefreshRotation {
		delete(s.refreshTokens, rt.id)
		rotated := *rt
		rotated.id = newID()
		rt = &rotated
	}
	return s.issueLocked(req, rt)
}

// issueLocked stores rt (with a renewed expiration) and a new access token bound to it.
func (s *storage) issueLocked(req op.TokenRequest, rt *refreshToken) (string, string, time.Time, error) {
	at := s.newAccessTokenLocked(req, rt.id)
	rt.accessToken = at.id
	rt.expiration = time.Now().Add(s.opts.RefreshTokenLifetime)
	s.refreshTokens[rt.id] = rt
	return at.id, rt.id, at.expiration, nil
}

func (s *storage) newAccessTokenLocked(req op.TokenRequest, refreshTokenID string) *accessToken {
	t := &accessToken{
		id:             newID(),
		clientID:       s.client.id,
		subject:        req.GetSubject(),
		refreshTokenID: refreshTokenID,
		audience:       req.GetAudience(),
		expiration:     time.Now().Add(s.opts.AccessTokenLifetime),
		scopes:         req.GetScopes(),
	}
	s.tokens[t.id] = t
	return t
}

func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok {
		return nil, errors.New("unknown refresh token")
	}
	if time.Now().After(rt.expiration) {
		delete(s.refreshTokens, token)
		return nil, errors.New("refresh token expired")
	}
	return &refreshRequest{t: *rt}, nil
}

// TerminateSession (RP-initiated logout) revokes every token of the user.
func (s *storage) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.tokens {
		if t.subject == userID && t.clientID == clientID {
			delete(s.tokens, id)
		}
	}
	for id, rt := range s.refreshTokens {
		if rt.subject == userID && rt.clientID == clientID {
			delete(s.refreshTokens, id)
		}
	}
	return nil
}

func (s *storage) GetRefreshTokenInfo(_ context.Context, _ string, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.subject, rt.id, nil
}

// RevokeToken revokes an access token (by its ID) or a refresh token (and
// its current access token). Unknown tokens are ignored (RFC 7009).
func (s *storage) RevokeToken(_ context.Context, tokenOrID, _ string, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[tokenOrID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued for this client")
		}
		delete(s.tokens, tokenOrID)
		return nil
	}
	rt, ok := s.refreshTokens[tokenOrID]
	if !ok {
		return nil
	}
	if rt.clientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was not issued for this client")
	}
	delete(s.refreshTokens, rt.id)
	delete(s.tokens, rt.accessToken)
	return nil
}

// activeToken returns a copy of the unexpired, unrevoked access token id.
func (s *storage) activeToken(id string) (accessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok {
		return accessToken{}, errors.New("token is invalid or revoked")
	}
	if time.Now().After(t.expiration) {
		return accessToken{}, errors.New("token is expired")
	}
	return *t, nil
}
