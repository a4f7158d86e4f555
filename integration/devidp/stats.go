package devidp

import (
	"maps"
	"net/http"
	"sync"
)

// Stats counts the requests the provider received (whatever their outcome).
type Stats struct {
	// TokenRequests counts POSTs to the token endpoint by grant_type
	// ("authorization_code", "refresh_token", ...; "" when missing).
	TokenRequests      map[string]int
	DiscoveryFetches   int // <issuer>/.well-known/openid-configuration
	JWKSFetches        int // <issuer>/.well-known/jwks.json
	AuthorizeRequests  int // the authorization endpoint, not its callback
	UserinfoRequests   int
	RevocationRequests int
	EndSessionRequests int
	LoginAttempts      int // POSTs of the login form
	FailedLogins       int // of which rejected
	PasskeySignUps     int // passkeys registered (sign-up ceremonies completed)
	PasskeySignIns     int // sign-ins with a passkey completed
	FailedPasskeys     int // passkey calls that failed (any step)
	SSOLogins          int // authorizations completed from the provider session, without the form (Options.SSO)
	SilentErrors       int // prompt=none answered with login_required or interaction_required
}

// TokenRequestsTotal is the number of token requests of any grant type.
func (st Stats) TokenRequestsTotal() int {
	n := 0
	for _, v := range st.TokenRequests {
		n += v
	}
	return n
}

type statsCounter struct {
	mu sync.Mutex
	st Stats
}

func (c *statsCounter) add(f func(*Stats)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.TokenRequests == nil {
		c.st.TokenRequests = map[string]int{}
	}
	f(&c.st)
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	st := s.stats.st
	st.TokenRequests = maps.Clone(st.TokenRequests)
	if st.TokenRequests == nil {
		st.TokenRequests = map[string]int{}
	}
	return st
}

// ResetStats sets all counters to zero.
func (s *Server) ResetStats() {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	s.stats.st = Stats{}
}

// count is the outermost middleware: it counts requests by endpoint.
func (s *Server) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var f func(*Stats)
		switch r.URL.Path {
		case s.IssuerPath() + discoverySuffix:
			f = func(st *Stats) { st.DiscoveryFetches++ }
		case s.IssuerPath() + jwksSuffix:
			f = func(st *Stats) { st.JWKSFetches++ }
		case PathAuthorize:
			f = func(st *Stats) { st.AuthorizeRequests++ }
		case PathUserinfo:
			f = func(st *Stats) { st.UserinfoRequests++ }
		case PathRevoke:
			f = func(st *Stats) { st.RevocationRequests++ }
		case PathLogout:
			f = func(st *Stats) { st.EndSessionRequests++ }
		case PathToken:
			if r.Method == http.MethodPost {
				_ = r.ParseForm() // the op parses it again from r.PostForm
				grant := r.PostForm.Get("grant_type")
				f = func(st *Stats) { st.TokenRequests[grant]++ }
			}
		}
		if f != nil && r.Method != http.MethodOptions {
			s.stats.add(f)
		}
		next.ServeHTTP(w, r)
	})
}
