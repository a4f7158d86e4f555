package badidp

import "net/http"

// refreshAnswer replaces the answer to refresh grants (after client authentication): a status and a raw body, for
// the refusals and outages providers answer in their own words (Descope's error envelope, a bare 401, a 429), and
// bare answers without expires_in.
type refreshAnswer struct {
	status int    // 0: answer normally
	body   string // written as is, as application/json
	bare   bool   // normal answers, without expires_in
}

// DescopeRefusal is the body of Descope's refusal of a refresh token, in its own error envelope (not RFC 6749's).
const DescopeRefusal = `{"errorCode":"E061103","errorDescription":"Refresh token expired or revoked","errorMessage":"Failed to load session"}`

// SetRefreshAnswer makes every refresh grant of a client that authenticated answer status with body; status 0
// answers normally again. The refresh token is not spent.
func (s *Server) SetRefreshAnswer(status int, body string) {
	s.mu.Lock()
	s.refreshAns.status, s.refreshAns.body = status, body
	s.mu.Unlock()
}

// SetBareRefreshes makes refresh answers leave out expires_in (they never carry an ID token): the client learns
// nothing of the new tokens' lifetime.
func (s *Server) SetBareRefreshes(on bool) {
	s.mu.Lock()
	s.refreshAns.bare = on
	s.mu.Unlock()
}

func (s *Server) bareRefreshes() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshAns.bare
}

// refreshOverride is the replaced answer to a refresh grant, when one is set.
func (s *Server) refreshOverride() (string, func(http.ResponseWriter), bool) {
	s.mu.Lock()
	a := s.refreshAns
	s.mu.Unlock()
	if a.status == 0 {
		return "", nil, false
	}
	return "status " + http.StatusText(a.status), func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}, true
}
