// Package echo is a tiny upstream for integration tests and the demo: it answers every request with a description
// of the request it received, as JSON, or as a readable HTML page (who you are, and a sign-out button) when a browser
// asks for HTML.
package echo

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// DefaultLogoutPath is the plugin's default logout path, where the HTML page's sign-out button posts.
const DefaultLogoutPath = "/oauth2/logout"

// Request is the JSON body of every response (and what the HTML page shows in full).
type Request struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  string `json:"query"`
	Host   string `json:"host"`
	// Headers are all request headers; several values are joined with ", ".
	Headers map[string]string `json:"headers"`
	// Body is the request body (at most 1 MiB), omitted when empty.
	Body string `json:"body,omitempty"`
}

// SignedOutPath shows browsers a "You are signed out" page with a sign-in link (to SignInPath) instead of the echo:
// the demo sends the browser there after the sign-out (postLogoutRedirectURL, an excluded path).
const (
	SignedOutPath = "/signed-out"
	SignInPath    = "/echo"
)

// Options configure the handler.
type Options struct {
	// LogoutPath is where the HTML page's sign-out button posts; default DefaultLogoutPath.
	LogoutPath string
}

// Handler answers 200 with the Request, as HTML to browsers and as JSON to everything else (see NewHandler).
func Handler() http.Handler { return NewHandler(Options{}) }

// NewHandler answers 200 with the Request: an HTML page when the Accept header asks for text/html (a browser
// navigation), JSON otherwise.
func NewHandler(o Options) http.Handler {
	if o.LogoutPath == "" {
		o.LogoutPath = DefaultLogoutPath
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		out := Request{
			Method:  r.Method,
			Path:    r.URL.Path,
			Query:   r.URL.RawQuery,
			Host:    r.Host,
			Headers: make(map[string]string, len(r.Header)),
			Body:    string(body),
		}
		for name, values := range r.Header {
			out.Headers[name] = strings.Join(values, ", ")
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Vary", "Accept")
		if wantsHTML(r.Header.Values("Accept")) {
			if r.URL.Path == SignedOutPath && out.Headers["X-Forwarded-User"] == "" {
				writeSignedOut(w, SignInPath)
				return
			}
			writePage(w, out, o.LogoutPath)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = writeJSON(w, out)
	})
}

func writeJSON(w io.Writer, out Request) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
