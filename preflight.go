package descopeoidc

import (
	"net/http"
	"strings"
)

// A CORS preflight let through without a session (allowPreflight) must not become a way to reach the upstream's
// content: method-agnostic handlers (Go's FileServer, Express app.all, Django function views) answer OPTIONS like
// GET, and method-override headers turn it into anything. So the preflight goes upstream with no body and no
// method-override header, and only its status and its CORS headers (Access-Control-*, Vary) come back: no body, no
// Set-Cookie, no other header.

// methodOverrideHeaders are compared lowercased with '_' read as '-' (CGI/WSGI/Rack-style upstreams do the same).
var methodOverrideHeaders = map[string]bool{
	"x-http-method-override": true, "x-http-method": true, "x-method-override": true, "x-original-method": true,
}

// preflightRequest strips what a browser's preflight never has and an upstream could act on: a body and the
// method-override headers. Rare path: a loop over the request's header names (not their bytes).
func preflightRequest(r *http.Request) {
	r.Body = http.NoBody
	r.ContentLength = 0
	r.TransferEncoding = nil
	delete(r.Header, "Content-Length")
	delete(r.Header, "Transfer-Encoding")
	for name := range r.Header {
		if methodOverrideHeaders[strings.ReplaceAll(strings.ToLower(name), "_", "-")] {
			delete(r.Header, name)
		}
	}
}

// preflightWriter passes the upstream's status and its Access-Control-* and Vary headers to w, and nothing else.
type preflightWriter struct {
	w      http.ResponseWriter
	header http.Header
	wrote  bool
}

func (p *preflightWriter) Header() http.Header { return p.header }

func (p *preflightWriter) WriteHeader(status int) {
	if p.wrote {
		return
	}
	p.wrote = true
	out := p.w.Header()
	for name, values := range p.header {
		if name == "Vary" || strings.HasPrefix(name, "Access-Control-") {
			out[name] = values
		}
	}
	if status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified {
		out.Set("Content-Length", "0") // the body is dropped
	}
	p.w.WriteHeader(status)
}

// Write drops the body (a preflight answer has none worth passing on).
func (p *preflightWriter) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return len(b), nil
}
