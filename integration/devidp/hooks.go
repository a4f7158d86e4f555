package devidp

import (
	"net/http"
)

// UpdateUser changes the account with subject sub, as an administrator would
// in the Descope console: tokens issued from then on (a refresh included)
// carry the new values; tokens already issued keep theirs.
func (s *Server) UpdateUser(sub string, update func(u *User)) error {
	return s.storage.dir.update(sub, update) // the subject and username (the directory's keys) stay
}

// SetUserinfoStatus makes the userinfo endpoint answer status with an OAuth
// error body (an outage: 500, 503; a refusal: 401), or serve normally again
// with 0. Everything else keeps working.
func (s *Server) SetUserinfoStatus(status int) { s.userinfoStatus.Store(int32(status)) }

func (s *Server) userinfoGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status := int(s.userinfoStatus.Load()); status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"error":"server_error","error_description":"userinfo is unavailable"}` + "\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
