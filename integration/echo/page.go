package echo

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"
)

// identity is what the page says about the signed-in user, from the identity headers the middleware sets (the
// names of examples/local/dynamic.yml).
type identity struct {
	User, Email, Name, Tenant, Amr string
	Roles                          []string
	Method                         string // how the user signed in, in words, from Amr ("" when unknown)
}

// amrWords names the amr claim's usual values (RFC 8176; Descope names passkey sign-ins "webauthn").
var amrWords = map[string]string{
	"webauthn": "passkey", "hwk": "security key", "swk": "passkey", "pwd": "password", "otp": "one-time code",
	"sms": "SMS code", "email": "email link or code", "mfa": "multi-factor", "fed": "another identity provider",
}

// signInMethod says in words how the user signed in, from the amr header value ("webauthn" -> "passkey").
func signInMethod(amr string) string {
	var words []string
	for _, v := range splitList(amr) {
		if w, ok := amrWords[v]; ok {
			words = append(words, w)
		}
	}
	return strings.Join(words, " + ")
}

func identityOf(h map[string]string) identity {
	return identity{
		User:   h["X-Forwarded-User"],
		Email:  h["X-Forwarded-Email"],
		Name:   h["X-Forwarded-Name"],
		Tenant: h["X-Forwarded-Tenant"],
		Amr:    h["X-Forwarded-Amr"],
		Roles:  splitList(h["X-Forwarded-Roles"]),
		Method: signInMethod(h["X-Forwarded-Amr"]),
	}
}

// splitList splits a comma-separated header value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

type pageData struct {
	Who        identity
	LogoutPath string
	Request    string // the JSON answer, shown as text
}

// pageCSP allows the page's inline style and nothing else to load; the sign-out form posts to the same origin,
// which redirects to the provider (no form-action: Chromium applies it to the redirect target too).
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"

// The template escapes every value (html/template); the JSON is shown as text in a <pre>.
var pageTemplate = template.Must(template.New("echo").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{if .Who.User}}Signed in{{else}}Not signed in{{end}} · echo</title>
<style>
body{font-family:sans-serif;background:#f4f5f7;margin:0;padding:2em;color:#222}
main{background:#fff;max-width:46em;margin:auto;padding:1.5em 2em;border-radius:8px;box-shadow:0 2px 8px #0002}
th{text-align:left;padding:.3em 1em .3em 0;color:#555;font-weight:normal}td{padding:.3em 0}
.role{display:inline-block;background:#e8eefc;border-radius:4px;padding:0 .4em;margin-right:.3em}
pre{background:#f4f5f7;padding:1em;overflow:auto;font-size:.85em}button{padding:.5em 1.2em;margin-top:1em}
.hint{color:#666;font-size:.9em}
</style>
</head>
<body>
<main>
{{with .Who}}{{if .User}}
<h1 id="greeting">Hello, {{if .Name}}{{.Name}}{{else}}{{.User}}{{end}}</h1>
<p class="hint">This is what the application behind Traefik learns about you from the middleware's headers.</p>
<table id="identity">
<tr><th>User ID (X-Forwarded-User)</th><td id="user">{{.User}}</td></tr>
<tr><th>Email (X-Forwarded-Email)</th><td id="email">{{.Email}}</td></tr>
<tr><th>Name (X-Forwarded-Name)</th><td id="name">{{.Name}}</td></tr>
<tr><th>Roles (X-Forwarded-Roles)</th><td id="roles">{{range .Roles}}<span class="role">{{.}}</span>{{else}}none{{end}}</td></tr>
<tr><th>Tenant (X-Forwarded-Tenant)</th><td id="tenant">{{if .Tenant}}{{.Tenant}}{{else}}none{{end}}</td></tr>
{{if .Amr}}<tr><th>Signed in with (X-Forwarded-Amr)</th><td id="amr">{{if .Method}}<span id="method">{{.Method}}</span> ({{.Amr}}){{else}}{{.Amr}}{{end}}</td></tr>{{end}}
</table>
{{else}}
<h1 id="greeting">Not signed in</h1>
<p class="hint">This request carries no X-Forwarded-User header: it did not go through the descopeoidc middleware,
or its route is excluded from the login.</p>
{{end}}{{end}}
{{if .Who.User}}<form method="post" action="{{.LogoutPath}}"><button type="submit" id="signout">Sign out</button></form>{{end}}
<h2>The request as the application received it</h2>
<pre id="request">{{.Request}}</pre>
</main>
</body>
</html>
`))

// signedOutTemplate is the page a browser lands on after the sign-out (the demo's postLogoutRedirectURL).
var signedOutTemplate = template.Must(template.New("signedout").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Signed out · echo</title>
<style>
body{font-family:sans-serif;background:#f4f5f7;margin:0;padding:2em;color:#222}
main{background:#fff;max-width:46em;margin:auto;padding:1.5em 2em;border-radius:8px;box-shadow:0 2px 8px #0002}
</style>
</head>
<body>
<main>
<h1 id="greeting">You are signed out</h1>
<p>Your session has ended, at this site and at the sign-in service.</p>
<p><a href="{{.}}" id="signin">Sign in again</a></p>
</main>
</body>
</html>
`))

func writeSignedOut(w http.ResponseWriter, signInPath string) {
	var page bytes.Buffer
	if err := signedOutTemplate.Execute(&page, signInPath); err != nil {
		http.Error(w, "echo: page error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(page.Bytes())
}

func writePage(w http.ResponseWriter, out Request, logoutPath string) {
	var js bytes.Buffer
	_ = writeJSON(&js, out)
	var page bytes.Buffer
	if err := pageTemplate.Execute(&page, pageData{Who: identityOf(out.Headers), LogoutPath: logoutPath, Request: js.String()}); err != nil {
		http.Error(w, "echo: page error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(page.Bytes())
}
