package providers

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
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
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = g.srv.Serve(g.ln) }()
	return nil
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
