package devidp

import (
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// Passkey endpoints, called by the login page's script with JSON bodies.
const (
	PathPasskeyScript       = "/login/passkey.js"
	PathPasskeySignUpBegin  = "/login/passkey/sign-up/begin"
	PathPasskeySignUpFinish = "/login/passkey/sign-up/finish"
	PathPasskeySignInBegin  = "/login/passkey/sign-in/begin"
	PathPasskeySignInFinish = "/login/passkey/sign-in/finish"
)

//go:embed passkey.js
var passkeyScript []byte

// passkeyRequest is the body of every passkey call: the auth request, the sign-up form's fields, and the
// authenticator's answer (a PublicKeyCredential as JSON, binary fields in base64url).
type passkeyRequest struct {
	ID         string          `json:"id"`
	Email      string          `json:"email,omitempty"`
	Name       string          `json:"name,omitempty"`
	Password   string          `json:"password,omitempty"`
	Credential json.RawMessage `json:"credential,omitempty"`
}

func (s *Server) routePasskeys(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathPasskeyScript, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(passkeyScript)
	})
	mux.HandleFunc("POST "+PathPasskeySignUpBegin, s.passkeyCall(s.signUpBegin))
	mux.HandleFunc("POST "+PathPasskeySignUpFinish, s.passkeyCall(s.signUpFinish))
	mux.HandleFunc("POST "+PathPasskeySignInBegin, s.passkeyCall(s.signInBegin))
	mux.HandleFunc("POST "+PathPasskeySignInFinish, s.passkeyCall(s.signInFinish))
}

// passkeyCall decodes the JSON request, runs step and answers its result as JSON, or {"error": message} with 400
// (the ceremony failed), 403 (not same-origin JSON) or 404 (no passkeys at this host).
func (s *Server) passkeyCall(step func(*http.Request, passkeyRequest) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.passkeys.available() {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "passkeys need a host name: open this provider at localhost"})
			return
		}
		// JSON from the page's own origin only: a cross-site form cannot send application/json, and a cross-site
		// fetch carries its Origin.
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") ||
			(r.Header.Get("Origin") != "" && r.Header.Get("Origin") != s.base) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "same-origin JSON requests only"})
			return
		}
		var req passkeyRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid request"})
			return
		}
		out, err := step(r, req)
		if err != nil {
			s.stats.add(func(st *Stats) { st.FailedPasskeys++ })
			msg := "the passkey ceremony failed"
			var pe *passkeyError
			if errors.As(err, &pe) {
				msg = pe.msg
			}
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// signUpBegin starts a sign-up: a new account for an unknown email, or one more passkey for an existing account
// whose password is given.
func (s *Server) signUpBegin(r *http.Request, req passkeyRequest) (any, error) {
	if _, err := s.storage.AuthRequestByID(r.Context(), req.ID); err != nil {
		return nil, badPasskey("this login request is unknown or expired", err)
	}
	email, name := strings.TrimSpace(req.Email), strings.TrimSpace(req.Name)
	if !plausibleEmail(email) || len(name) > 100 {
		return nil, badPasskey("enter your email address (and at most 100 characters of name) to sign up", nil)
	}
	if u, ok := s.storage.dir.byName(email); ok {
		if !u.passwordMatches(req.Password) {
			return nil, badPasskey("an account with this email exists: enter its password to add a passkey, or sign in with a passkey", nil)
		}
		return s.passkeys.beginRegistration(req.ID, *u, false)
	}
	return s.passkeys.beginRegistration(req.ID, SignUpUser(email, name), true)
}

func (s *Server) signUpFinish(r *http.Request, req passkeyRequest) (any, error) {
	u, err := s.passkeys.finishRegistration(req.ID, req.Credential, s.storage.dir.add)
	if err != nil {
		return nil, err
	}
	s.stats.add(func(st *Stats) { st.PasskeySignUps++ })
	return s.completePasskeyLogin(r, req.ID, u)
}

func (s *Server) signInBegin(r *http.Request, req passkeyRequest) (any, error) {
	if _, err := s.storage.AuthRequestByID(r.Context(), req.ID); err != nil {
		return nil, badPasskey("this login request is unknown or expired", err)
	}
	return s.passkeys.beginLogin(req.ID)
}

func (s *Server) signInFinish(r *http.Request, req passkeyRequest) (any, error) {
	u, err := s.passkeys.finishLogin(req.ID, req.Credential, s.storage.dir.bySub)
	if err != nil {
		return nil, err
	}
	s.stats.add(func(st *Stats) { st.PasskeySignIns++ })
	return s.completePasskeyLogin(r, req.ID, u)
}

// completePasskeyLogin completes the auth request like the password form does, and tells the page where to go on.
func (s *Server) completePasskeyLogin(r *http.Request, id string, u User) (any, error) {
	if err := s.storage.completeLogin(id, u.Subject, amrPasskey); err != nil {
		return nil, badPasskey("this login request is unknown or expired", err)
	}
	return map[string]string{"redirect": op.AuthCallbackURL(s.provider)(r.Context(), id)}, nil
}

// plausibleEmail accepts local@domain without spaces or control characters, at most 254 bytes.
func plausibleEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || len(s) > 254 {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}
