package devidp

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Authentication levels, acr_values, max_age and prompt (OpenID Connect Core 3.1.2.1), for step-up and silent
// re-authentication tests: a password login reaches ACRPassword; a password with the one-time code DemoOTP, or a
// passkey, reaches ACRMFA (amr then lists "otp" and "mfa", or "webauthn"). With Options.SSO the provider remembers
// the browser's last authentication (cookie ssoCookie) and reuses it when the request allows.
const (
	ACRPassword = "urn:devidp:loa:1"
	ACRMFA      = "urn:devidp:loa:2"
	DemoOTP     = "123456"
	ssoCookie   = "devidp_sso"
)

var amrOTP = []string{"pwd", "otp", "mfa"}

// acrFor is the level an authentication with the methods amr reaches.
func acrFor(amr []string) string {
	if slices.Contains(amr, "mfa") || slices.Contains(amr, "webauthn") {
		return ACRMFA
	}
	return ACRPassword
}

// needsMFA: the client asked for acr values that a password alone does not reach.
func needsMFA(acrValues []string) bool {
	return len(acrValues) > 0 && !slices.Contains(acrValues, ACRPassword)
}

// ssoSession is a browser's last authentication at the provider.
type ssoSession struct {
	subject  string
	amr      []string
	authTime time.Time
}

type ssoStore struct {
	mu       sync.Mutex
	sessions map[string]ssoSession
}

func (st *ssoStore) get(r *http.Request) (ssoSession, bool) {
	c, err := r.Cookie(ssoCookie)
	if err != nil {
		return ssoSession{}, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.sessions[c.Value]
	return s, ok
}

func (st *ssoStore) put(w http.ResponseWriter, s ssoSession) {
	id := newID()
	st.mu.Lock()
	if st.sessions == nil {
		st.sessions = map[string]ssoSession{}
	}
	st.sessions[id] = s
	st.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// ExpireSSO forgets every provider session: the next prompt=none gets login_required.
func (s *Server) ExpireSSO() {
	s.sso.mu.Lock()
	s.sso.sessions = nil
	s.sso.mu.Unlock()
}

// ssoAnswer decides a GET of the login page from the browser's provider session: it completes the request from
// it, or answers a prompt=none request with its error, and reports whether it answered.
func (s *Server) ssoAnswer(w http.ResponseWriter, r *http.Request, req *authRequest) bool {
	none := slices.Contains(req.prompt, oidc.PromptNone)
	sess, ok := s.sso.get(r)
	usable := ok && !slices.Contains(req.prompt, oidc.PromptLogin) &&
		(req.maxAge == nil || time.Since(sess.authTime) <= time.Duration(*req.maxAge)*time.Second)
	if usable && needsMFA(req.acrValues) && acrFor(sess.amr) != ACRMFA {
		if none {
			s.errorRedirect(w, r, req, "interaction_required")
			return true
		}
		return false
	}
	if usable {
		if err := s.storage.completeLoginAt(req.id, sess.subject, sess.amr, sess.authTime); err != nil {
			return false
		}
		s.stats.add(func(st *Stats) { st.SSOLogins++ })
		http.Redirect(w, r, op.AuthCallbackURL(s.provider)(r.Context(), req.id), http.StatusFound)
		return true
	}
	if none {
		s.errorRedirect(w, r, req, "login_required")
		return true
	}
	return false
}

// errorRedirect sends the browser back to the client with an authorization error (OAuth 2.0 4.1.2.1).
func (s *Server) errorRedirect(w http.ResponseWriter, r *http.Request, req *authRequest, code string) {
	u, err := url.Parse(req.redirectURI)
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	q := u.Query()
	q.Set("error", code)
	if req.state != "" {
		q.Set("state", req.state)
	}
	u.RawQuery = q.Encode()
	s.stats.add(func(st *Stats) { st.SilentErrors++ })
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// checkOTP: a request that needs MFA must come with the right one-time code; the answer is the amr reached.
func checkOTP(req *authRequest, otp string) ([]string, bool) {
	if !needsMFA(req.acrValues) {
		return amrPassword, true
	}
	if subtle.ConstantTimeCompare([]byte(otp), []byte(DemoOTP)) != 1 {
		return nil, false
	}
	return amrOTP, true
}

// authRequest returns a copy of the pending auth request id.
func (s *Server) authRequest(id string) (*authRequest, error) {
	s.storage.mu.Lock()
	defer s.storage.mu.Unlock()
	req, err := s.storage.authRequestLocked(id)
	if err != nil {
		return nil, err
	}
	c := *req
	return &c, nil
}
