package devidp

import (
	"errors"
	"html/template"
	"net/http"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

var loginTemplate = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Descope demo login</title>
<style>
body{font-family:sans-serif;background:#f4f5f7;display:flex;justify-content:center;margin-top:8vh}
form{background:#fff;padding:2em;border-radius:8px;box-shadow:0 2px 8px #0002;min-width:18em;max-width:22em}
label,input,button{display:block;width:100%;box-sizing:border-box;margin-top:.5em}
input{padding:.5em}button{padding:.6em;margin-top:1.2em}
.error{color:#b00020}.hint{color:#666;font-size:.85em}
.or{text-align:center;color:#888;margin:1.5em 0 0;border-top:1px solid #ddd;padding-top:1em}
button.passkey{background:#1d3a8a;color:#fff;border:0;border-radius:4px}
</style>
</head>
<body>
<form id="login-form" method="post" action="{{.Action}}">
<h1>Descope demo login</h1>
<input type="hidden" name="id" value="{{.ID}}">
{{if .Error}}<p class="error" id="error">{{.Error}}</p>{{end}}
<label for="username">Email</label>
<input id="username" name="username" type="text" autocomplete="username webauthn" value="{{.Username}}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
{{if .OTP}}<label for="otp">One-time code (this page asks for a stronger sign-in)</label>
<input id="otp" name="otp" type="text" inputmode="numeric" autocomplete="one-time-code">{{end}}
<button id="login" type="submit">Log in</button>
<p class="or">or use a passkey</p>
{{if .Passkeys}}<div id="passkeys" data-sign-up-begin="{{.SignUpBegin}}" data-sign-up-finish="{{.SignUpFinish}}"
 data-sign-in-begin="{{.SignInBegin}}" data-sign-in-finish="{{.SignInFinish}}">
<button id="passkey-signin" class="passkey" type="button">Sign in with a passkey</button>
<label for="name">Name (for a new account)</label>
<input id="name" name="name" type="text" autocomplete="name">
<button id="passkey-signup" class="passkey" type="button">Sign up with a passkey</button>
<p class="hint">Sign-up uses the email above: a new email creates an account; for an existing account, enter its
password to add a passkey to it.</p>
<p class="hint" id="passkey-status" role="status"></p>
</div>
<script src="{{.Script}}" defer></script>
{{else}}<p class="hint" id="passkeys-unavailable">Passkeys need a host name: browsers refuse an IP address as
WebAuthn relying party. Start this provider on localhost to use them.</p>{{end}}
<p class="hint">Project {{.Project}}</p>
</form>
</body>
</html>
`))

type loginData struct {
	Action, ID, Error, Username, Project string
	Passkeys, OTP                        bool
	Script                               string
	SignUpBegin, SignUpFinish            string
	SignInBegin, SignInFinish            string
}

func (s *Server) renderLogin(w http.ResponseWriter, status int, d loginData) {
	d.Action, d.Project = PathLogin, s.opts.ProjectID
	d.Passkeys, d.Script = s.passkeys.available(), PathPasskeyScript
	d.SignUpBegin, d.SignUpFinish = PathPasskeySignUpBegin, PathPasskeySignUpFinish
	d.SignInBegin, d.SignInFinish = PathPasskeySignInBegin, PathPasskeySignInFinish
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = loginTemplate.Execute(w, d)
}

// loginPage shows the form for the auth request authRequestID.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequestID")
	req, err := s.authRequest(id)
	if err != nil {
		s.renderLogin(w, http.StatusBadRequest, loginData{ID: id, Error: "This login request is unknown or expired."})
		return
	}
	if s.opts.SSO && s.ssoAnswer(w, r, req) {
		return
	}
	s.renderLogin(w, http.StatusOK, loginData{ID: id, OTP: needsMFA(req.acrValues)})
}

// loginSubmit checks the credentials and continues the authorization:
// zitadel's callback endpoint then redirects to the relying party.
func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "invalid form", http.StatusBadRequest)
		return
	}
	id, username := r.PostForm.Get("id"), r.PostForm.Get("username")
	req, err := s.authRequest(id)
	amr, otpOK := amrPassword, true
	if err == nil {
		amr, otpOK = checkOTP(req, r.PostForm.Get("otp"))
	}
	if err == nil && !otpOK {
		err = errors.New("wrong one-time code")
	} else if err == nil {
		err = s.storage.checkLogin(id, username, r.PostForm.Get("password"), amr)
	}
	s.stats.add(func(st *Stats) {
		st.LoginAttempts++
		if err != nil {
			st.FailedLogins++
		}
	})
	if err != nil {
		s.renderLogin(w, http.StatusUnauthorized, loginData{ID: id, Username: username, Error: err.Error(),
			OTP: req != nil && needsMFA(req.acrValues)})
		return
	}
	if u, ok := s.storage.dir.byName(username); ok && s.opts.SSO {
		s.sso.put(w, ssoSession{subject: u.Subject, amr: amr, authTime: time.Now()})
	}
	http.Redirect(w, r, op.AuthCallbackURL(s.provider)(r.Context(), id), http.StatusFound)
}
