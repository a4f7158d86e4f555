// Package echo is a tiny upstream for integration tests and the demo: it
// answers every request with a JSON description of the request it received.
package echo

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// Request is the JSON body of every response.
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

// Handler answers 200 with the Request as JSON.
func Handler() http.Handler {
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
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	})
}
