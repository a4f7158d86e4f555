package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

const (
	sessionSecret     = "bench-session-secret-0123456789abcdefghijklmnop"
	passthroughModule = "github.com/traefik-descope/passthrough"
	// Lengths of the "name" claim of the benchmark users, chosen so that the credentials have the advertised sizes
	// (the driver prints the real ones): the session cookie holds the forwarded claims (4/3 of their JSON) and the
	// refresh token, not the tokens (README "Cookie budget"); the access token carries the name once. The
	// cookie-big user's name is ~6.5 KB of claims in every token that no header forwards.
	smallNameLen       = 8
	cookie8kNameLen    = 5800
	bearer8kNameLen    = 5350
	cookieBigNameLen   = 6500
	tokenLifetime      = 12 * time.Hour // no refresh during a run
	settle             = time.Second    // after a load run, before sampling goroutines and memory
	maxCPUTicksPerSecs = 100            // /proc clock ticks per second (USER_HZ)
)

// row is one load configuration: a path on Traefik's web entrypoint and the request headers wrk sends.
type row struct {
	name    string
	path    string
	what    string // credential description for the table
	size    int    // bytes of the credential (cookie values or token); 0 when none
	headers []string
	expect  expectation
	control string // the plain row that sends the same headers (for the plugin's own cost); "" = plain
	runs    []runResult
	traefik *stack.Traefik // nil: the main Traefik
	peerPID int            // another process whose CPU counts (oauth2-proxy)
	// Many-user rows (many.go): wrk runs script with scriptArgs; creds are the credentials it sends round-robin, in
	// credHeader after credPrefix.
	script                 string
	scriptArgs             []string
	creds                  []string
	credHeader, credPrefix string
}

type runResult struct {
	wrk      wrkResult
	cpuTicks int64
}

func (r runResult) cpuUsPerReq() float64 {
	if r.wrk.requests == 0 {
		return 0
	}
	return float64(r.cpuTicks) * (1e6 / maxCPUTicksPerSecs) / float64(r.wrk.requests)
}

type memSample struct {
	label      string
	goroutines int // all
	own        int // not serving or pooling an HTTP connection (those come and go with the load)
	rssKiB     int
	heapBytes  int64 // live heap after a forced GC
}

type bench struct {
	s      settings
	ctx    context.Context
	up     *upstream
	idp    *devidp.Server
	main   *stack.Traefik
	others []*stack.Traefik
	stops  []func()
	rows   []*row
	missed int

	memProcs             []*memProc // separate Traefik processes for the memory comparison
	mainIdle, mainLoaded memSample  // the benchmark Traefik, both plugins loaded
	reloadSamples        []memSample
	soakSamples          []memSample
	reloadsDone          int
	reloadTime           time.Duration
	peerNote             string
	peerAddr             string       // oauth2-proxy's address, reserved before Traefik starts (BENCH_OAUTH2_PROXY)
	redisAddr            string       // the redis-server of the cookie-redis row (BENCH_REDIS_ADDR)
	cold                 []coldResult // many.go
	started              time.Time
	results              *strings.Builder
}

func (b *bench) cleanup() {
	for i := len(b.stops) - 1; i >= 0; i-- {
		b.stops[i]()
	}
}

func (b *bench) logf(format string, args ...any) {
	fmt.Printf("%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func (b *bench) wanted(name string) bool { return b.s.rows == nil || b.s.rows[name] }

func benchDir() string { return filepath.Join(harness.RepoRoot(), "bench") }

func (b *bench) run() error {
	b.started = time.Now()
	if _, err := os.Stat(stack.BinPath()); err != nil {
		return fmt.Errorf("%s is missing: run `make traefik` first", stack.BinPath())
	}
	var err error
	if b.up, err = startUpstream(); err != nil {
		return err
	}
	b.stops = append(b.stops, func() { _ = b.up.srv.Close() })
	users := benchUsers()
	b.idp, err = devidp.Start(devidp.Options{
		AllowLoopbackRedirects: true, AZPClaim: true, Users: users,
		IDTokenLifetime: tokenLifetime, AccessTokenLifetime: tokenLifetime,
	})
	if err != nil {
		return fmt.Errorf("devidp: %v", err)
	}
	b.stops = append(b.stops, func() { _ = b.idp.Close() })
	b.logf("upstream %s, provider %s", b.up.url, b.idp.Issuer())

	if b.peerAddr, err = stack.FreeAddr(); err != nil {
		return err
	}
	if b.redisAddr, err = b.startRedis(); err != nil {
		return err
	}
	if err := b.startMain(); err != nil {
		return err
	}
	if err := b.setupRows(users); err != nil {
		return err
	}
	if err := b.coldPhase(); err != nil {
		return err
	}
	if err := b.memoryPhase(); err != nil {
		return err
	}
	if err := b.startPeer(users); err != nil {
		b.peerNote = "oauth2-proxy row skipped: " + err.Error()
		b.logf("%s", b.peerNote)
	}
	if err := b.loadRounds(); err != nil {
		return err
	}
	if len(b.s.profile) > 0 {
		if err := b.profileRows(b.s.profile); err != nil {
			return err
		}
	}
	if b.s.reloads > 0 {
		if err := b.reloadTest(); err != nil {
			return err
		}
	}
	if b.s.soak > 0 {
		if err := b.soakTest(); err != nil {
			return err
		}
	}
	return b.report()
}

// benchUsers are the provider's accounts: the demo user for the basic rows, users whose "name" claim makes the
// credentials ~1 KB and ~8 KB, and one with ~6.5 KB of claims that no header needs.
func benchUsers() []devidp.User {
	mk := func(id string, nameLen int) devidp.User {
		u := devidp.DemoUser()
		u.Username, u.Password, u.Subject, u.Email = id+"@example.com", "bench-password", "U2bench"+id, id+"@example.com"
		u.Name = bigName(nameLen)
		return u
	}
	return []devidp.User{
		devidp.DemoUser(),
		mk("small", smallNameLen),
		mk("cookie8k", cookie8kNameLen),
		mk("bearer8k", bearer8kNameLen),
		mk("cookiebig", cookieBigNameLen),
	}
}

// bigName is n bytes of header-safe, JSON-plain text.
func bigName(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var sb strings.Builder
	for i := 0; i < n; i++ {
		sb.WriteByte(alphabet[(i*7+i/53)%len(alphabet)])
	}
	s := []byte(sb.String())
	if n > 0 {
		s[0], s[n-1] = 'N', 'e' // no leading or trailing space
	}
	return string(s)
}

func (b *bench) traefikEnv() []string {
	return []string{
		"BENCH_UPSTREAM=" + b.up.url,
		"OIDC_ISSUER=" + b.idp.Issuer(),
		"OIDC_CLIENT_ID=" + b.idp.ClientID(),
		"OIDC_CLIENT_SECRET=" + b.idp.ClientSecret(),
		"SESSION_SECRET=" + sessionSecret,
		"BENCH_OAUTH2_PROXY=" + b.peerAddr,
		"BENCH_REDIS_ADDR=" + b.redisAddr,
	}
}

func (b *bench) startTraefik(o stack.Options) (*stack.Traefik, error) {
	o.WebAddr, o.APIAddr = "127.0.0.1:0", "127.0.0.1:0"
	o.Env = b.traefikEnv()
	t, err := stack.Start(o)
	if err != nil {
		return nil, err
	}
	b.stops = append(b.stops, func() {
		_ = t.Stop()
		_ = os.RemoveAll(t.Dir)
	})
	return t, nil
}

func (b *bench) startMain() error {
	b.logf("benchmark Traefik (descopeoidc + passthrough, Yaegi)")
	t, err := b.startTraefik(stack.Options{
		ExampleDir:   benchDir(),
		ExtraPlugins: map[string]string{passthroughModule: filepath.Join(benchDir(), "passthrough")},
		ReadyRouter:  "plain@file",
	})
	if err != nil {
		return fmt.Errorf("benchmark traefik: %v", err)
	}
	b.main = t
	// Every router must be enabled: a plugin that fails to load disables its routers, and the rows would then
	// measure 404s.
	for _, name := range []string{"passthrough", "cookie", "cookie-1k", "cookie-8k", "cookie-big", "bearer", "bearer-1k", "bearer-8k", "cookie-metrics", "bearer-metrics", "cookie-redis", "token", "auth-cookie", "auth-named", "auth-token"} {
		if err := waitRouter(t, name+"@file", "", 30*time.Second); err != nil {
			return fmt.Errorf("%v\ntraefik log:\n%s", err, t.Logs())
		}
	}
	time.Sleep(2 * settle)
	if b.mainIdle, err = b.sample(t, "idle"); err != nil {
		return err
	}
	b.logf("benchmark Traefik RSS idle %d MiB (plugins loaded)", b.mainIdle.rssKiB>>10)
	return nil
}

// waitRouter waits until Traefik's API shows the router enabled (and its definition containing want).
func waitRouter(t *stack.Traefik, name, want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(t.APIURL + "/api/http/routers/" + name)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			last = string(body)
			if resp.StatusCode == http.StatusOK && strings.Contains(last, `"status":"enabled"`) && strings.Contains(last, want) {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("router %s not enabled (with %q) after %s: %s", name, want, timeout, last)
}

// setupRows logs the users in through Traefik and prepares every row's request headers, then checks each row once.
func (b *bench) setupRows(users []devidp.User) error {
	web := b.main.WebURL
	demo, small, c8k, b8k, cbig := users[0], users[1], users[2], users[3], users[4]
	none := expectation{nameLen: -1}
	b.add(&row{name: "plain", path: "/plain/", what: "none", expect: none})
	b.add(&row{name: "passthrough", path: "/passthrough/", what: "none (Yaegi pass-through plugin)", expect: none})

	cookieRow := func(name, path, loginPath string, u devidp.User, named bool) error {
		if !b.wanted(name) {
			return nil
		}
		br := newBrowser(web, b.idp)
		if err := br.login(loginPath, u); err != nil {
			return fmt.Errorf("row %s: %v", name, err)
		}
		hdr, size := br.cookieHeader(path)
		e := expectation{user: u.Subject, nameLen: -1}
		if named {
			e.nameLen = len(u.Name)
		}
		b.add(&row{name: name, path: path, what: fmt.Sprintf("session cookie %s", sizeText(size, hdr)), size: size,
			headers: []string{"Cookie: " + hdr}, expect: e})
		return nil
	}
	if err := cookieRow("cookie", "/cookie/", "/cookie/", demo, false); err != nil {
		return err
	}
	if err := cookieRow("cookie-1k", "/cookie-1k/", "/cookie-1k/", small, true); err != nil {
		return err
	}
	if err := cookieRow("cookie-8k", "/cookie-8k/", "/cookie-8k/", c8k, true); err != nil {
		return err
	}
	if err := cookieRow("cookie-big", "/cookie-big/", "/cookie-big/", cbig, false); err != nil {
		return err
	}
	if err := cookieRow("cookie-metrics", "/cookie-metrics/", "/cookie/", demo, false); err != nil { // metrics on
		return err
	}
	if err := cookieRow("cookie-redis", "/cookie-redis/", "/cookie/", demo, false); err != nil { // shared Redis on
		return err
	}
	bearerRow := func(name, path string, u devidp.User, named bool) error {
		if !b.wanted(name) {
			return nil
		}
		tok, err := accessToken(web, b.idp, u)
		if err != nil {
			return fmt.Errorf("row %s: %v", name, err)
		}
		e := expectation{user: u.Subject, nameLen: -1}
		if named {
			e.nameLen = len(u.Name)
		}
		b.add(&row{name: name, path: path, what: fmt.Sprintf("bearer token %s", sizeText(len(tok), "")), size: len(tok),
			headers: []string{"Authorization: Bearer " + tok}, expect: e})
		return nil
	}
	if err := bearerRow("bearer", "/bearer/", demo, false); err != nil {
		return err
	}
	if err := bearerRow("bearer-1k", "/bearer-1k/", small, true); err != nil {
		return err
	}
	if err := bearerRow("bearer-8k", "/bearer-8k/", b8k, true); err != nil {
		return err
	}
	if err := bearerRow("bearer-metrics", "/bearer-metrics/", demo, false); err != nil { // metrics on
		return err
	}
	if err := b.setupManyRows(demo); err != nil {
		return err
	}
	// Controls: plain Traefik carrying exactly the request headers of a plugin row plus the identity headers the
	// plugin forwards (X-Forwarded-User, and X-Forwarded-Name where the row sends one), so that "row minus control"
	// is the plugin's own cost and "row / control" its own share of the throughput: a 1.1 KB Authorization header
	// costs plain Traefik CPU too.
	for _, src := range b.rows {
		if !controlled[src.name] {
			continue
		}
		name := "plain+" + src.name
		hdrs := append(append([]string{}, src.headers...), "X-Forwarded-User: "+src.expect.user)
		if src.expect.nameLen >= 0 {
			hdrs = append(hdrs, "X-Forwarded-Name: "+b.userByNameLen(users, src.expect.nameLen).Name)
		}
		b.add(&row{name: name, path: "/plain/", what: "none; sends " + src.name + "'s headers", size: 0, headers: hdrs,
			expect: expectation{user: src.expect.user, nameLen: src.expect.nameLen, cookies: true}})
		src.control = name
	}
	// Check every row once before loading it.
	for _, r := range b.rows {
		if err := b.check(r); err != nil {
			return err
		}
		b.logf("row %-18s %s", r.name, r.what)
	}
	return nil
}

// controlled are the rows that get a plain+<row> control row (setupRows).
var controlled = map[string]bool{"cookie": true, "cookie-big": true, "bearer": true, "cookie-8k": true, "bearer-8k": true}

func (b *bench) userByNameLen(users []devidp.User, n int) devidp.User {
	for _, u := range users {
		if len(u.Name) == n {
			return u
		}
	}
	return devidp.User{}
}

func sizeText(size int, cookieHeader string) string {
	s := fmt.Sprintf("%d B", size)
	if size >= 1024 {
		s = fmt.Sprintf("%.1f KB", float64(size)/1024)
	}
	if n := strings.Count(cookieHeader, "_descopeoidc"); n > 1 {
		s += fmt.Sprintf(", %d cookies", n)
	}
	return s
}

func (b *bench) add(r *row) {
	if r.name == "plain" || b.wanted(r.name) || strings.HasPrefix(r.name, "plain+") {
		b.rows = append(b.rows, r)
	}
}

func (b *bench) find(name string) *row {
	for _, r := range b.rows {
		if r.name == name {
			return r
		}
	}
	return nil
}

func (r *row) expectation() expectation {
	e := r.expect
	e.path = r.path
	return e
}

func (b *bench) rowURL(r *row) string {
	t := r.traefik
	if t == nil {
		t = b.main
	}
	return t.WebURL + r.path
}

// check sends one request of the row and requires a 200 that reached the upstream with the expected identity.
func (b *bench) check(r *row) error {
	b.up.reset(r.expectation())
	hdr := map[string]string{}
	for _, h := range r.headers {
		k, v, _ := strings.Cut(h, ": ")
		hdr[k] = v
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status, body, err := get(c, b.rowURL(r), hdr)
	if err != nil {
		return fmt.Errorf("row %s: %v", r.name, err)
	}
	cn := b.up.counts()
	if status != http.StatusOK || cn.matching != 1 || cn.wrong != 0 || cn.leaked != 0 {
		return fmt.Errorf("row %s is not authenticated as expected: status %d (body %.100q), upstream saw %d matching, %d wrong (%s), %d with the session cookie",
			r.name, status, body, cn.matching, cn.wrong, cn.example, cn.leaked)
	}
	return nil
}

// measure runs wrk once against the row, with Traefik's CPU time around it, and validates that every request was
// answered by the upstream with the row's identity.
func (b *bench) measure(r *row, d time.Duration) (runResult, error) {
	t := r.traefik
	if t == nil {
		t = b.main
	}
	b.up.quiesce()
	b.up.reset(r.expectation())
	before, err := cpuTicks(t.PID(), r.peerPID)
	if err != nil {
		return runResult{}, err
	}
	w, err := runWrk(b.ctx, wrkOptions{threads: b.s.threads, conns: b.s.conns, duration: d, timeout: 10 * time.Second, headers: r.headers,
		script: r.script, scriptArgs: r.scriptArgs}, b.rowURL(r))
	if err != nil {
		return runResult{}, fmt.Errorf("row %s: %v", r.name, err)
	}
	after, err := cpuTicks(t.PID(), r.peerPID)
	if err != nil {
		return runResult{}, err
	}
	res := runResult{wrk: w, cpuTicks: after - before}
	b.up.quiesce()
	if err := validate(r, w, b.up.counts()); err != nil {
		return res, err
	}
	return res, nil
}

// cpuTicks is the CPU time of Traefik plus, for the peer row, of oauth2-proxy.
func cpuTicks(pids ...int) (int64, error) {
	var sum int64
	for _, pid := range pids {
		if pid == 0 {
			continue
		}
		n, err := stack.CPUTicks(pid)
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

// validate fails loudly when a row did not measure what it claims: wrk errors, non-2xx answers, or requests that did
// not reach the upstream authenticated (a 302 to the login page is not an error for wrk).
func validate(r *row, w wrkResult, cn counts) error {
	var problems []string
	if w.non2xx3xx > 0 {
		problems = append(problems, fmt.Sprintf("%d responses with status >= 400", w.non2xx3xx))
	}
	if w.sockErrors > 0 {
		problems = append(problems, fmt.Sprintf("%d socket errors", w.sockErrors))
	}
	if cn.wrong > 0 {
		problems = append(problems, fmt.Sprintf("%d upstream requests without the expected identity headers (first: %s)", cn.wrong, cn.example))
	}
	if cn.leaked > 0 {
		problems = append(problems, fmt.Sprintf("%d upstream requests still carrying the session cookie", cn.leaked))
	}
	if cn.matching < w.requests {
		problems = append(problems, fmt.Sprintf("wrk counted %d requests but only %d reached the upstream authenticated (redirects?)", w.requests, cn.matching))
	}
	if len(problems) > 0 {
		return fmt.Errorf("row %s is invalid: %s\nwrk output:\n%s", r.name, strings.Join(problems, "; "), w.raw)
	}
	return nil
}

// loadRounds warms every row up, then runs the rows interleaved, round after round (each round starts one row later,
// so that no row always follows the same one).
func (b *bench) loadRounds() error {
	b.logf("warm-up: %d rows x 2s", len(b.rows))
	for _, r := range b.rows {
		if _, err := b.measure(r, 2*time.Second); err != nil {
			return err
		}
	}
	for round := 0; round < b.s.rounds; round++ {
		for i := range b.rows {
			r := b.rows[(i+round)%len(b.rows)]
			res, err := b.measure(r, b.s.duration)
			if err != nil {
				return err
			}
			r.runs = append(r.runs, res)
			b.logf("round %d/%d %-18s %9.0f req/s  p50 %-9s p99 %-9s CPU %6.1f µs/req", round+1, b.s.rounds, r.name,
				res.wrk.rps, fmtDur(res.wrk.p50), fmtDur(res.wrk.p99), res.cpuUsPerReq())
		}
	}
	time.Sleep(settle)
	var err error
	b.mainLoaded, err = b.sample(b.main, "after load")
	return err
}

// sample reads goroutines, RSS and the live heap (after a forced GC, from Traefik's pprof endpoint).
func (b *bench) sample(t *stack.Traefik, label string) (memSample, error) {
	http.DefaultClient.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	heap, err := liveHeap(ctx, t.APIURL)
	if err != nil {
		return memSample{}, fmt.Errorf("heap: %v", err)
	}
	g, own, err := goroutines(ctx, t.APIURL)
	if err != nil {
		return memSample{}, fmt.Errorf("goroutines: %v", err)
	}
	rss, err := t.RSSKiB()
	if err != nil {
		return memSample{}, err
	}
	return memSample{label: label, goroutines: g, own: own, rssKiB: rss, heapBytes: heap}, nil
}

// goroutines reads Traefik's goroutine profile and returns the total and the goroutines that do not belong to an HTTP
// connection (server connections and the client pools to the upstream and the provider, which depend on the load
// just before the sample). A goroutine leak in the plugin or in Traefik's reloads shows in the second number.
func goroutines(ctx context.Context, api string) (int, int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/debug/pprof/goroutine?debug=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	total, own := 0, 0
	groups := strings.Split(string(body), "\n\n")
	if len(groups) == 0 || !strings.HasPrefix(groups[0], "goroutine profile: total ") {
		return 0, 0, fmt.Errorf("unexpected goroutine profile %.80q", body)
	}
	groups[0] = groups[0][strings.IndexByte(groups[0], '\n')+1:]
	for _, g := range groups {
		count, _, ok := strings.Cut(strings.TrimSpace(g), " @ ")
		n, err := strconv.Atoi(count)
		if !ok || err != nil {
			continue
		}
		total += n
		if !strings.Contains(g, "net/http.(*persistConn)") && !strings.Contains(g, "net/http.(*conn).serve") &&
			!strings.Contains(g, "net/http.(*http2") && !strings.Contains(g, "golang.org/x/net/http2.") {
			own += n
		}
	}
	return total, own, nil
}

// liveHeap forces a GC in Traefik and reads HeapAlloc from the heap profile's MemStats comment.
func liveHeap(ctx context.Context, api string) (int64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/debug/pprof/heap?gc=1&debug=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, "# HeapAlloc = "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errors.New("no HeapAlloc in the heap profile")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d/time.Microsecond)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
}
