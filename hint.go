package descopeoidc

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// The logout cookie carries the ID token, which the plugin needs only at logout (id_token_hint for the provider's
// end_session_endpoint), so that it does not weigh on every request in the session cookie: it is scoped to
// logoutPath and the browser sends it there alone. It is sealed like the session (same keys, its own additional
// data), bound to the session's chain (sessionData.ID), so that one left over from another login is never sent as
// the hint, and chunked like the session when the ID token is large. Written at login and when a refresh brings a
// new ID token; deleted at logout.

// hintData is what the logout cookie holds.
type hintData struct {
	ID      string `json:"d"` // the session chain it belongs to
	IDToken string `json:"i"`
}

// hintCookieNames are the logout cookie and its chunks: <cookieName>_logout, _logout_1, … With a __Host- session
// name they take __Secure- instead (a __Host- cookie needs Path=/), as the login-state cookies do.
func hintCookieNames(cookieName string) []string {
	base := cookieName + "_logout"
	if strings.HasPrefix(strings.ToLower(cookieName), "__host-") {
		base = "__Secure-" + cookieName[len("__host-"):] + "_logout"
	}
	names := make([]string, maxSessionChunks)
	names[0] = base
	for i := 1; i < maxSessionChunks; i++ {
		names[i] = base + "_" + strconv.Itoa(i)
	}
	return names
}

// sealHint seals the logout cookie value for the chain id; "" when there is no ID token.
func (sm *sessionManager) sealHint(id, idToken string) (string, error) {
	if idToken == "" {
		return "", nil
	}
	b, err := json.Marshal(&hintData{ID: id, IDToken: idToken})
	if err != nil {
		return "", err
	}
	return seal(sm.s.sessionAEADs[0], sm.s.hintAAD, b)
}

// writeHint sets the logout cookie (nothing when value is ""). A failure is logged only: logout still works,
// without id_token_hint.
func (sm *sessionManager) writeHint(w http.ResponseWriter, r *http.Request, value string) {
	if value == "" {
		return
	}
	if err := sm.writeChunked(w, r, sm.hintNames, sm.s.logoutPath, value); err != nil {
		sm.log.logf(levelInfo, "ID token too large for the logout cookie; logout will not send id_token_hint")
	}
}

// hintFor returns the ID token of the logout cookie when it belongs to d's chain, else the one d still holds (a
// session sealed before the logout cookie existed), else "".
func (sm *sessionManager) hintFor(r *http.Request, d *sessionData) string {
	if d == nil {
		return ""
	}
	if v, err := chunkedValueAt(r.Cookies(), sm.hintNames, 0); err == nil {
		if pt, err := open(sm.s.sessionAEADs, sm.s.hintAAD, v); err == nil {
			h := &hintData{}
			if json.Unmarshal(pt, h) == nil && h.ID == d.ID && h.IDToken != "" {
				return h.IDToken
			}
		}
	}
	return d.IDToken
}

// clearHint deletes the logout cookie and every chunk of it the browser sent (it sends them only to logoutPath).
func (sm *sessionManager) clearHint(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(sm.hintNames[0]); err != nil {
		return
	}
	http.SetCookie(w, sm.newCookie(sm.hintNames[0], "", sm.s.logoutPath, -1))
	sm.expireChunked(w, r, sm.hintNames, sm.s.logoutPath, 1)
}
