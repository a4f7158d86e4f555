package descopeoidc

import "sync"

// version is this release of the plugin (semantic versioning, tagged as such in git). It must equal the top
// version entry of CHANGELOG.md and the version the examples pin (examples/static, the Helm values): `make
// release-check` fails when they disagree.
const version = "v0.1.0"

// versionReported: the version is logged once per process (at the first New), not per router or reload.
var versionReported = struct {
	sync.Mutex
	done bool
}{}

// reportVersion logs the plugin's version, at info level whatever the middleware's logLevel (Traefik's log.level
// still applies), the first time a middleware is created in this process. No goroutine.
func reportVersion(l *logger) {
	versionReported.Lock()
	first := !versionReported.done
	versionReported.done = true
	versionReported.Unlock()
	if first {
		l.emit(levelInfo, "descopeoidc "+version+" started", nil)
	}
}
