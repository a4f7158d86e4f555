package providers

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

// Gate is a reverse proxy on a loopback port of its own in front of a provider: the provider's issuer is the gate's
// address, so every request the plugin (or a browser) makes to the provider passes here. Down makes every request
// fail with 503 and closes the connection, Up lets them through again, without restarting the provider: an outage
// of discovery, JWKS, token and userinfo endpoints alike.
type Gate struct {
	ln       net.Listener
	srv      *http.Server
	down     atomic.Bool
	Requests atomic.Int64 // requests that were let through

	hold atomic.Pointer[GrantHold] // gatehold.go

	mu     sync.Mutex
	grants map[string]int64 // form POSTs let through, by grant_type
	paths  map[string]int64 // requests let through, by URL path
}

// NewGate listens on a free loopback port; Start must be called with the backend once it is known.
func NewGate() (*Gate, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &Gate{ln: ln}, nil
}

// URL is http://127.0.0.1:PORT, the base of the provider's issuer.
func (g *Gate) URL() string { return "http://" + g.ln.Addr().String() }

// Addr is 127.0.0.1:PORT.
func (g *Gate) Addr() string { return g.ln.Addr().String() }

// Start proxies to backend (http://127.0.0.1:OTHERPORT), keeping the Host header the client sent, so the provider
// sees its public address.
func (g *Gate) Start(backend string) error {
	u, err := url.Parse(backend)
	if err != nil {
		return err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	director := rp.Director
	rp.Director = func(r *http.Request) {
		host := r.Host
		director(r)
		r.Host = host
	}
	g.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.down.Load() {
			w.Header().Set("Connection", "close")
			http.Error(w, "provider down (test gate)", http.StatusServiceUnavailable)
			return
		}
		g.Requests.Add(1)
		if done := g.holdRequest(g.count(r)); done != nil {
			defer done()
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = g.srv.Serve(g.ln) }()
	return nil
}

// count records r's path and, for a form POST, its grant_type (the body is read and put back), which it returns.
func (g *Gate) count(r *http.Request) string {
	grant := ""
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		if v, perr := url.ParseQuery(string(body)); err == nil && perr == nil {
			grant = v.Get("grant_type")
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paths == nil {
		g.grants, g.paths = map[string]int64{}, map[string]int64{}
	}
	g.paths[r.URL.Path]++
	if grant != "" {
		g.grants[grant]++
	}
	return grant
}

// Grants is the number of token requests with this grant_type that were let through (e.g. "refresh_token").
func (g *Gate) Grants(grantType string) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.grants[grantType]
}

// Hits is the number of requests for this URL path that were let through.
func (g *Gate) Hits(path string) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paths[path]
}

// Down makes the provider unreachable (503 for every request) until Up.
func (g *Gate) Down() { g.down.Store(true) }

// Up lets requests through again.
func (g *Gate) Up() { g.down.Store(false) }

// Close stops the gate.
func (g *Gate) Close() error {
	if g.srv == nil {
		return g.ln.Close()
	}
	return g.srv.Close()
}
