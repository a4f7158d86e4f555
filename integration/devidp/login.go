package devidp

import (
	"html/template"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/op"
)

var loginTemplate = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Descope demo login</title>
<style>
body{font-family:sans-serif;background:#f4f5f7;display:flex;justify-content:center;margin-top:10vh}
form{background:#fff;padding:2em;border-radius:8px;box-shadow:0 2px 8px #0002;min-width:18em}
label,input,button{display:block;width:100%;box-sizing:border-box;margin-top:.5em}
input{padding:.5em}button{padding:.6em;margin-top:1.2em}
.error{color:#b00020}.hint{color:#666;font-size:.85em}
</style>
</head>
<body>
<form method="post" action="{{.Action}}">
<h1>Descope demo login</h1>
<input type="hidden" name="id" value="{{.ID}}">
{{if .Error}}<p class="error" id="error">{{.Error}}</p>{{end}}
<label for="username">Email</label>
<input id="username" name="username" type="text" autocomplete="username" value="{{.Username}}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<button id="login" type="submit">Log in</button>
<p class="hint">Project {{.Project}}</p>
</form>
</body>
</html>
`))

type loginData struct {
	Action, ID, Error, Username, Project string
}

func (s *Server) renderLogin(w http.ResponseWriter, status int, d loginData) {
	d.Action, d.Project = PathLogin, s.opts.ProjectID
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = loginTemplate.Execute(w, d)
}

// loginPage shows the form for the auth request authRequestID.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequestID")
	if _, err := s.storage.AuthRequestByID(r.Context(), id); err != nil {
		s.renderLogin(w, http.StatusBadRequest, loginData{ID: id, Error: "This login request is unknown or expired."})
		return
	}
	s.renderLogin(w, http.StatusOK, loginData{ID: id})
}

// loginSubmit checks the credentials and continues the authorization:
// zitadel's callback endpoint then redirects to the relying party.
func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "invalid form", http.StatusBadRequest)
		return
	}
	id, username := r.PostForm.Get("id"), r.PostForm.Get("username")
	err := s.storage.checkLogin(id, username, r.PostForm.Get("password"))
	s.stats.add(func(st *Stats) {
		st.LoginAttempts++
		if err != nil {
			st.FailedLogins++
		}
	})
	if err != nil {
		s.renderLogin(w, http.StatusUnauthorized, loginData{ID: id, Username: username, Error: err.Error()})
		return
	}
	http.Redirect(w, r, op.AuthCallbackURL(s.provider)(r.Context(), id), http.StatusFound)
}
