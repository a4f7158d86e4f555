package descopeoidc

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Issue 18 item 7: a refresh the provider refuses for good, in whatever form (Descope's own error envelope with 400
// or 404, invalid_request, unauthorized_client, a bare 401 or 403), ends the session and starts a login, as
// invalid_grant does; an outage (5xx, 429, invalid_client, a connection error) answers 503, and only until a bound.

// tokenAnswer makes the fake's refresh grants answer status with body.
func tokenAnswer(status int, body string) func(f *fakeIdP) {
	return func(f *fakeIdP) {
		f.tokenHook = func(w http.ResponseWriter, _ *http.Request, form url.Values) bool {
			if form.Get("grant_type") != "refresh_token" {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
			return true
		}
	}
}

const descopeEnvelope = `{"errorCode":"E061103","errorDescription":"Refresh token expired or revoked","errorMessage":"Failed to load session"}`

var refusals = map[string]func(f *fakeIdP){
	"Descope envelope 400":    tokenAnswer(400, descopeEnvelope),
	"Descope envelope 404":    tokenAnswer(404, descopeEnvelope),
	"invalid_request 400":     tokenAnswer(400, `{"error":"invalid_request","error_description":"refresh token malformed"}`),
	"unauthorized_client 400": tokenAnswer(400, `{"error":"unauthorized_client"}`),
	"401 without a body":      tokenAnswer(401, ``),
	"403 forbidden":           tokenAnswer(403, `{"message":"forbidden"}`),
}

var outages = map[string]func(f *fakeIdP){
	"503":                tokenAnswer(503, `{"error":"temporarily_unavailable"}`),
	"500 Descope":        tokenAnswer(500, `{"errorCode":"E000001","errorDescription":"internal","errorMessage":"internal"}`),
	"429":                tokenAnswer(429, `{"errorCode":"E130429","errorDescription":"Too many requests"}`),
	"invalid_client 401": tokenAnswer(401, `{"error":"invalid_client"}`),
	"down":               func(f *fakeIdP) { f.down = true },
}

func isLogin(f *fakeIdP, rec interface {
	Header() http.Header
}, code int) bool {
	return code == http.StatusFound && strings.HasPrefix(rec.Header().Get("Location"), f.url("/authorize"))
}

func TestRefreshRefusalsStartALogin(t *testing.T) {
	for name, answer := range refusals {
		t.Run(name, func(t *testing.T) {
			f, m, up, b := loggedIn(t, nil)
			f.set(answer)
			f.clock.Advance(400 * time.Second) // the tokens (300 s) have expired: the request waits for the refresh
			rec := b.get("/")
			if !isLogin(f, rec, rec.Code) || up.count() != 0 {
				t.Fatalf("refused refresh: status %d Location %q upstream %d, want a login", rec.Code, rec.Header().Get("Location"), up.count())
			}
			if c := setCookies(rec)[m.s.cookieName]; c == nil || c.MaxAge >= 0 {
				t.Error("the refused session's cookie was not cleared")
			}
		})
	}
}

func TestRefreshOutagesAre503(t *testing.T) {
	for name, answer := range outages {
		t.Run(name, func(t *testing.T) {
			f, _, up, b := loggedIn(t, nil)
			f.set(answer)
			f.clock.Advance(400 * time.Second)
			if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || up.count() != 0 {
				t.Fatalf("outage: status %d Retry-After %q upstream %d, want 503", rec.Code, rec.Header().Get("Retry-After"), up.count())
			}
		})
	}
}

// An outage does not answer 503 forever: past the bound (refreshOutageLimit after the tokens' expiry) a failed
// refresh ends the session with a login.
func TestRefreshOutageEndsInALogin(t *testing.T) {
	for name, answer := range outages {
		t.Run(name, func(t *testing.T) {
			f, m, up, b := loggedIn(t, nil)
			f.set(answer)
			f.clock.Advance(400 * time.Second)
			if rec := b.get("/"); rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("outage within the bound: status %d, want 503", rec.Code)
			}
			f.clock.Advance(refreshOutageLimit)
			rec := b.get("/")
			if !isLogin(f, rec, rec.Code) || up.count() != 0 {
				t.Fatalf("outage past the bound: status %d Location %q, want a login", rec.Code, rec.Header().Get("Location"))
			}
			if c := setCookies(rec)[m.s.cookieName]; c == nil || c.MaxAge >= 0 {
				t.Error("the session's cookie was not cleared")
			}
		})
	}
}
