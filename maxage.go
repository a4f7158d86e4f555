package descopeoidc

import "time"

// authParams.max_age asks the provider for an authentication no older than that, and the ID token of the login must
// then prove it with auth_time (OpenID Connect Core 3.1.2.1, 3.1.3.7 item 13). The callback path is usually shared by
// a host's middlewares, so the middleware that serves the callback may not be the one that sent max_age: the login
// state carries it (stateData.AuthMaxAge) and the callback checks the ID token against what the login sent.

// loginIDTokens is the ID-token verifier for the callback of the login sd: v with the max_age that login sent.
func loginIDTokens(v *idTokenVerifier, sd *stateData) *idTokenVerifier {
	want := time.Duration(sd.AuthMaxAge)
	if want == v.maxAge {
		return v
	}
	c := *v
	c.maxAge = want
	return &c
}
