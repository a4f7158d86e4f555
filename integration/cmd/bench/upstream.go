package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// upstream is the service behind every benchmark router: a fixed small body, so that it is never the bottleneck, and
// counters that prove each load row was really authenticated (wrk alone would count a 302 to the login page as a
// success).
type upstream struct {
	srv    *http.Server
	url    string
	expect atomic.Pointer[expectation]

	total    atomic.Int64           // requests received
	matching atomic.Int64           // requests whose identity headers are what the row expects
	wrong    atomic.Int64           // requests with missing or other identity headers
	leaked   atomic.Int64           // requests that still carried the plugin's session cookie
	stray    atomic.Int64           // requests for another path than the row's
	example  atomic.Pointer[string] // the first wrong request, for the error message
}

// expectation is what every request of the current load row must carry upstream.
type expectation struct {
	user    string // X-Forwarded-User; "" for rows without the plugin (then the header must be absent)
	nameLen int    // length of X-Forwarded-Name; -1: the header must be absent
	cookies bool   // the session cookie may reach the upstream (rows without the plugin)
	path    string // the row's path prefix; requests elsewhere (stragglers of the previous run) are not judged
	header  string // the identity header; default X-Forwarded-User (the oauth2-proxy row: X-Auth-Request-User)
	// userPrefix, when set, replaces user: the identity starts with it (many-user rows: a subject per session)
	userPrefix string
}

var upstreamBody = []byte("ok\n")

func startUpstream() (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{url: "http://" + ln.Addr().String()}
	u.expect.Store(&expectation{nameLen: -1})
	u.srv = &http.Server{Handler: u, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 1 << 20}
	go func() { _ = u.srv.Serve(ln) }()
	return u, nil
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/token/") {
		// The oidc-token middleware forwards the session's access token: hand it to the driver.
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(r.Header.Get("Authorization")))
		return
	}
	u.total.Add(1)
	e := u.expect.Load()
	if e.path != "" && !strings.HasPrefix(r.URL.Path, e.path) {
		u.stray.Add(1)
		w.Header().Set("Content-Length", "3")
		_, _ = w.Write(upstreamBody)
		return
	}
	hn := "X-Forwarded-User"
	if e.header != "" {
		hn = e.header
	}
	user := r.Header.Get(hn)
	name, hasName := r.Header["X-Forwarded-Name"]
	ok := user == e.user
	if e.userPrefix != "" {
		ok = strings.HasPrefix(user, e.userPrefix) && len(user) > len(e.userPrefix)
	}
	if e.nameLen < 0 {
		ok = ok && !hasName
	} else {
		ok = ok && len(name) == 1 && len(name[0]) == e.nameLen
	}
	if ok {
		u.matching.Add(1)
	} else if u.wrong.Add(1) == 1 {
		ex := fmt.Sprintf("%s %s: %s %q, X-Forwarded-Name of %d bytes in %d values", r.Method, r.URL.Path, hn, user, len(strings.Join(name, "")), len(name))
		u.example.Store(&ex)
	}
	if c := r.Header.Get("Cookie"); !e.cookies && c != "" && strings.Contains(c, "_descopeoidc") {
		u.leaked.Add(1)
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", "3")
	_, _ = w.Write(upstreamBody)
}

// counts is a snapshot of the counters.
type counts struct {
	total, matching, wrong, leaked, stray int64
	example                               string
}

func (u *upstream) reset(e expectation) {
	u.expect.Store(&e)
	u.total.Store(0)
	u.matching.Store(0)
	u.wrong.Store(0)
	u.leaked.Store(0)
	u.stray.Store(0)
	u.example.Store(nil)
}

// quiesce waits until no request has reached the upstream for 200 ms (requests still inside Traefik when wrk
// stopped), at most 10 s.
func (u *upstream) quiesce() {
	last := u.total.Load()
	for i := 0; i < 50; i++ {
		time.Sleep(200 * time.Millisecond)
		n := u.total.Load()
		if n == last {
			return
		}
		last = n
	}
}

func (u *upstream) counts() counts {
	c := counts{total: u.total.Load(), matching: u.matching.Load(), wrong: u.wrong.Load(), leaked: u.leaked.Load(), stray: u.stray.Load()}
	if ex := u.example.Load(); ex != nil {
		c.example = *ex
	}
	return c
}
