package descopeoidc

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// What a user and an operator see when the provider is unreachable or its answers cannot be used (an outage, or a
// configuration that cannot work, such as an issuer that differs from discovery's): browsers get the plugin's page,
// APIs JSON, both a 503 with Retry-After; the log names the cause, and repeats of one identical warning are
// rate-limited process-wide so that every request of a burst does not add a line.

// providerUnavailable answers a request that needs the provider while it cannot be used. back is where the page's
// "Try again" link goes (a path on this site).
func (m *Middleware) providerUnavailable(w http.ResponseWriter, r *http.Request, back string) {
	if m.s.unauthMode == mode401 || wantsAPIResponse(r) || r.Header.Get("Authorization") != "" {
		m.unavailable(w)
		return
	}
	secs := int(m.p.retryAfter()/time.Second + 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	back, ok := safeRedirectPath(back)
	if !ok {
		back = "/"
	}
	writePage(w, http.StatusServiceUnavailable, "Sign-in service unavailable",
		"Sign-in is not possible right now: the sign-in service cannot be reached or is not usable. Please try again in a moment. If this persists, the site's administrator will find the cause in Traefik's log.",
		back, "Try again")
}

const (
	repeatWindow  = time.Minute // an identical warning is written at most once per window
	maxRepeatKeys = 256         // distinct messages remembered; beyond that the oldest windows are forgotten first
)

// repeatState is one remembered message: when its window ends and how many copies it swallowed so far.
type repeatState struct {
	until      time.Time
	suppressed int
}

// repeats is process-wide (all middlewares, all reloads), bounded by maxRepeatKeys, and has no goroutine: expired
// entries are dropped when the map is full.
var repeats = struct {
	sync.Mutex
	m map[string]*repeatState
}{m: map[string]*repeatState{}}

// limitRepeats returns the line to write for the warning or error msg of the middleware called name: "" when an
// identical one was written less than repeatWindow ago, else msg, with the count of the identical lines suppressed
// before it.
func limitRepeats(name, msg string) string {
	ok, n := admitRepeat(name+"|"+msg, time.Now())
	if !ok {
		return ""
	}
	if n > 0 {
		return msg + " (" + strconv.Itoa(n) + " identical lines suppressed since the last one)"
	}
	return msg
}

// admitRepeat reports whether a warning or error line (key: the middleware name and the message) is written now, and
// how many identical lines were suppressed since the last one written (to say so on this one).
func admitRepeat(key string, now time.Time) (bool, int) {
	repeats.Lock()
	defer repeats.Unlock()
	st := repeats.m[key]
	if st != nil && now.Before(st.until) {
		st.suppressed++
		return false, 0
	}
	if st == nil {
		if len(repeats.m) >= maxRepeatKeys {
			pruneRepeats(now)
		}
		st = &repeatState{}
		repeats.m[key] = st
	}
	n := st.suppressed
	st.until = now.Add(repeatWindow)
	st.suppressed = 0
	return true, n
}

// pruneRepeats drops the entries whose window has ended, or all of them when none has (a flood of distinct
// messages: forgetting them only lets one more copy of each through). Called with repeats locked.
func pruneRepeats(now time.Time) {
	for k, st := range repeats.m {
		if !now.Before(st.until) {
			delete(repeats.m, k)
		}
	}
	if len(repeats.m) >= maxRepeatKeys {
		repeats.m = map[string]*repeatState{}
	}
}
