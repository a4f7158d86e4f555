package descopeoidc

import (
	"net/http"
	"time"
)

// refreshOutageLimit bounds how long past its tokens' expiry a session answers 503 while its refresh fails as an
// outage (5xx, 429, timeouts, connection errors, invalid_client: tokenerrors.go): then a failed refresh ends the
// session with a login, never an endless 503. A provider that answers again within it refreshes the session as usual.
const refreshOutageLimit = time.Hour

// outageOutlasted ends the session of e and starts a login when its tokens expired refreshOutageLimit ago or more,
// and reports whether it did; called only after a refresh failed as an outage.
func (m *Middleware) outageOutlasted(w http.ResponseWriter, r *http.Request, e *entry, now int64) bool {
	if now < e.data.Expiry+int64(refreshOutageLimit/time.Second) {
		return false
	}
	m.logf(levelWarn, "session ended: its refresh has failed (provider unreachable) for more than %s past its tokens' expiry", refreshOutageLimit)
	m.refuseSession(w, r)
	return true
}
