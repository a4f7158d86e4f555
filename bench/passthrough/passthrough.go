// Package passthrough is the smallest possible Traefik Yaegi middleware: it calls the next handler and does nothing
// else. The benchmark (make bench) runs it next to plain Traefik to measure the floor cost of any interpreted
// middleware, against which descopeoidc's own per-request cost is read.
package passthrough

import (
	"context"
	"net/http"
)

// Config is empty: the middleware has nothing to configure.
type Config struct{}

// CreateConfig returns the (empty) configuration.
func CreateConfig() *Config { return &Config{} }

// Passthrough forwards every request unchanged.
type Passthrough struct {
	next http.Handler
}

// New builds the middleware.
func New(_ context.Context, next http.Handler, _ *Config, _ string) (http.Handler, error) {
	return &Passthrough{next: next}, nil
}

func (p *Passthrough) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.next.ServeHTTP(w, r)
}
