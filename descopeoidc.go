// Package descopeoidc is a Traefik middleware plugin that puts OpenID Connect login (Descope or any standard
// provider) in front of a service. Traefik runs it under the Yaegi interpreter: see YAEGI.md in the project's
// shared notes for the language subset this package sticks to.
package descopeoidc

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// Middleware is the http.Handler Traefik calls. Everything in it is derived in New and never changes, except the
// caches, which have their own locks.
type Middleware struct {
	next      http.Handler
	name      string
	s         *settings
	p         *provider
	sessions  *entryCache
	bearers   *entryCache
	states    *usedStates
	now       func() time.Time
	ownPrefix string // cookie names starting with this are the plugin's own
}

// New validates the configuration and builds the middleware. It does no network I/O and starts no goroutine:
// Traefik calls it for every router and on every configuration reload.
func New(_ context.Context, next http.Handler, config *Config, name string) (http.Handler, error) {
	s, err := newSettings(config)
	if err != nil {
		return nil, fmt.Errorf("descopeoidc %s: invalid configuration: %w", name, err)
	}
	transportKey := fmt.Sprintf("%s|%t|%t", config.CAFile, config.InsecureSkipVerify, config.AllowInsecureIssuer)
	m := &Middleware{
		next:      next,
		name:      name,
		s:         s,
		p:         getProvider(s.issuer, transportKey, s.client, config.AllowInsecureIssuer),
		sessions:  newEntryCache(maxCachedSessions),
		bearers:   newEntryCache(maxCachedBearers),
		states:    newUsedStates(),
		now:       time.Now,
		ownPrefix: s.cookieName + "_",
	}
	return m, nil
}

// ServeHTTP routes the plugin's own paths and authenticates everything else.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if path == m.s.callbackPath {
		m.handleCallback(w, r)
		return
	}
	if path == m.s.logoutPath {
		m.handleLogout(w, r)
		return
	}
	for _, h := range m.s.stripHeaders {
		delete(r.Header, h) // names are canonical: nobody can forge an identity header
	}
	for name := range r.Header {
		// X-Forwarded_User: CGI/WSGI/Rack-style upstreams read '_' as '-', so it would pass for X-Forwarded-User
		if strings.IndexByte(name, '_') >= 0 && contains(m.s.stripHeaders, http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))) {
			delete(r.Header, name)
		}
	}
	if m.excluded(path) {
		m.stripOwnCookies(r) // public paths never see the session either
		m.next.ServeHTTP(w, r)
		return
	}
	if m.s.bearer {
		if tok, ok := bearerToken(r); ok {
			m.serveBearer(w, r, tok)
			return
		}
	}
	m.serveSession(w, r)
}

func (m *Middleware) excluded(path string) bool {
	for _, p := range m.s.excludedPrefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	for _, re := range m.s.excludedRegexps {
		if re.MatchString(path) {
			return true
		}
	}
	return false
}

// forward sends an authenticated request upstream with the identity headers of e and without the plugin's cookies.
func (m *Middleware) forward(w http.ResponseWriter, r *http.Request, e *entry, stripCookies bool) {
	for i := 0; i+1 < len(e.headers); i += 2 {
		r.Header[e.headers[i]] = []string{e.headers[i+1]}
	}
	if m.s.forwardAccessToken && e.data != nil && e.data.AccessToken != "" {
		r.Header["Authorization"] = []string{"Bearer " + e.data.AccessToken}
	}
	if stripCookies {
		m.stripOwnCookies(r)
	}
	m.next.ServeHTTP(w, r)
}

// stripOwnCookies removes the session and login cookies from the upstream request, keeping the others.
func (m *Middleware) stripOwnCookies(r *http.Request) {
	cookies := r.Cookies()
	kept := make([]string, 0, len(cookies))
	for _, c := range cookies {
		if c.Name != m.s.cookieName && !strings.HasPrefix(c.Name, m.ownPrefix) {
			kept = append(kept, c.Name+"="+c.Value)
		}
	}
	if len(kept) == 0 {
		delete(r.Header, "Cookie")
		return
	}
	r.Header["Cookie"] = []string{strings.Join(kept, "; ")}
}

// Logging: errors and warnings go to stderr (Traefik logs them at error level), info and debug to stdout (Traefik's
// debug level). Never log tokens, codes, secrets or cookie values.
const (
	levelError = iota
	levelWarn
	levelInfo
	levelDebug
)

var logLevels = map[string]int{"error": levelError, "warn": levelWarn, "info": levelInfo, "debug": levelDebug}

var levelNames = []string{"error", "warn", "info", "debug"}

func (m *Middleware) logf(level int, format string, args ...any) {
	if level > m.s.logLevel {
		return
	}
	out := os.Stdout
	if level <= levelWarn {
		out = os.Stderr
	}
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(out, "descopeoidc[%s] level=%s %s\n", m.name, levelNames[level], msg)
}
