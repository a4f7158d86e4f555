package devidp

// storage is an in-memory op.Storage, adapted from zitadel/oidc's
// example/server/storage (Apache-2.0, github.com/zitadel/oidc/v3@v3.52.0),
// reduced to one client and to the flows devidp supports.

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authRequestLifetime bounds both the login and the use of the code.
const authRequestLifetime = 10 * time.Minute

var errNotFound = errors.New("not found")

type storage struct {
	opts   Options
	client *client
	keys   *keyRing
	dir    *directory

	mu            sync.Mutex
	authRequests  map[string]*authRequest
	codes         map[string]string // code -> auth request ID
	tokens        map[string]*accessToken
	refreshTokens map[string]*refreshToken
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
)

func newStorage(opts Options, c *client, keys *keyRing) *storage {
	s := &storage{
		opts: opts, client: c, keys: keys,
		dir:           newDirectory(opts.Users),
		authRequests:  map[string]*authRequest{},
		codes:         map[string]string{},
		tokens:        map[string]*accessToken{},
		refreshTokens: map[string]*refreshToken{},
	}
	return s
}

func newID() string { return rand.Text() }

// CreateAuthRequest stores a validated authorization request.
func (s *storage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if slices.Contains(r.Prompt, oidc.PromptNone) && !s.opts.SSO {
		// There is no SSO session: the user always has to log in. (With SSO, the login page decides: stepup.go.)
		return nil, oidc.ErrLoginRequired()
	}
	scopes := slices.Clone(r.Scopes)
	if s.opts.AlwaysIssueRefreshTokens && !slices.Contains(scopes, oidc.ScopeOfflineAccess) {
		scopes = append(scopes, oidc.ScopeOfflineAccess)
	}
	req := newAuthRequest(newID(), r, scopes)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authRequests[req.id] = req
	return req, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authRequestLocked(id)
}

func (s *storage) authRequestLocked(id string) (*authRequest, error) {
	req, ok := s.authRequests[id]
	if !ok || time.Since(req.created) > authRequestLifetime {
		return nil, errors.New("auth request not found or expired")
	}
	return req, nil
}

func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		return nil, errors.New("code invalid, used or expired")
	}
	return s.authRequestLocked(id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest is called once the tokens for a code were issued: the
// code cannot be used again.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.authRequests, id)
	for code, reqID := range s.codes {
		if reqID == id {
			delete(s.codes, code)
		}
	}
	return nil
}

// checkLogin completes the auth request id for the user when the password matches.
func (s *storage) checkLogin(id, username, password string, amr []string) error {
	u, ok := s.dir.byName(username)
	if !ok || !u.passwordMatches(password) {
		return errors.New("wrong username or password")
	}
	return s.completeLogin(id, u.Subject, amr)
}

// completeLogin marks the auth request id as authenticated for subject, with the authentication methods amr.
func (s *storage) completeLogin(id, subject string, amr []string) error {
	return s.completeLoginAt(id, subject, amr, time.Now())
}

// completeLoginAt is completeLogin for an authentication that happened at authTime (an SSO session's: stepup.go).
func (s *storage) completeLoginAt(id, subject string, amr []string, authTime time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, err := s.authRequestLocked(id)
	if err != nil {
		return err
	}
	req.subject, req.done, req.authTime, req.amr = subject, true, authTime, slices.Clone(amr)
	req.acr = acrFor(amr)
	return nil
}

// passwordMatches is false for accounts without a password (those who signed up with a passkey).
func (u *User) passwordMatches(password string) bool {
	return u.Password != "" && subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) == 1
}

func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	if id != s.client.id {
		return nil, errors.New("unknown client")
	}
	return s.clientFor(ctx), nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	if id != s.client.id || subtle.ConstantTimeCompare([]byte(secret), []byte(s.client.secret)) != 1 {
		return errors.New("invalid client_id or client_secret")
	}
	return nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return s.keys.signing(), nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{s.keys.alg}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return s.keys.keySet(), nil
}

// GetKeyByIDAndClientID serves the JWT profile grant and private_key_jwt,
// neither of which devidp supports.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotFound
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("jwt profile grant not supported")
}

func (s *storage) Health(context.Context) error { return nil }
