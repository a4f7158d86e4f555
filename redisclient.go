package descopeoidc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// redisClient sends commands to one Redis deployment (standalone, Sentinel or Cluster) over pooled connections, one
// pool per server address. It starts no goroutine: connections are dialled on demand, idle ones are closed when the
// pool is next used, and the topology (Sentinel's master, the cluster's slot table) is loaded by the command that
// finds it missing or stale.
type redisClient struct {
	o       *redisOptions
	lastUse time.Time // guarded by redisClients' mutex

	mu       sync.Mutex
	pools    map[string]*redisPool
	closed   bool
	stale    bool      // the topology must be reloaded before it is trusted again
	loadedAt time.Time // last topology load attempt
	topoErr  error     // its error, if it failed
	master   string    // sentinel: the current master's address
	slots    []uint16  // cluster: 1 + index in nodes of each slot's master, 0 when unknown
	nodes    []string  // cluster: master addresses
	sentinel []string  // sentinel: the sentinels, the last one that answered first

	topoMu sync.Mutex // one topology load at a time
}

// redisPool holds one server's connections; open counts them, idle or in use.
type redisPool struct {
	idle      []*redisConn
	open      int
	downUntil time.Time     // a dial failed: no new dial before this, callers get downErr at once
	downErr   error         // that dial's error
	backoff   time.Duration // the current wait after a failed dial, doubled by each failure
}

const (
	redisTopologyInterval   = 100 * time.Millisecond // at most one topology load per interval
	redisMaxPools           = 64
	redisDialBackoff        = 100 * time.Millisecond // after a failed dial, the first wait before the next
	redisDialBackoffCeiling = 2 * time.Second
)

func newRedisClient(o *redisOptions) *redisClient {
	cl := &redisClient{o: o, pools: map[string]*redisPool{}, stale: true}
	cl.sentinel = append(cl.sentinel, o.addrs...)
	return cl
}

// close closes the idle connections; connections in use are closed when they come back.
func (cl *redisClient) close() {
	cl.mu.Lock()
	cl.closed = true
	var idle []*redisConn
	for _, p := range cl.pools {
		idle = append(idle, p.idle...)
		p.open -= len(p.idle)
		p.idle = nil
	}
	cl.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// conn returns a connection to addr: the most recently used idle one, or a new one while the pool has room, or
// waits (polling, no select) for one until deadline. Idle connections past the idle timeout are closed here.
func (cl *redisClient) conn(addr string, deadline time.Time) (*redisConn, error) {
	wait := time.Millisecond
	for {
		c, dial, expired := cl.take(addr, time.Now())
		for _, e := range expired {
			e.close()
		}
		if c != nil {
			return c, nil
		}
		if dial {
			return cl.dialPooled(addr)
		}
		if !time.Now().Add(wait).Before(deadline) {
			return nil, errRedisPoolExhausted
		}
		time.Sleep(wait)
		if wait < 16*time.Millisecond {
			wait *= 2
		}
	}
}

// dialPooled dials addr for the pool slot take reserved, unless a dial to addr failed within the backoff: then it
// fails at once with that failure, so that an unreachable server costs each command nothing while the first dial
// after the backoff finds out whether it is back. A failure doubles the backoff (100 ms up to 2 s), a success
// resets it.
func (cl *redisClient) dialPooled(addr string) (*redisConn, error) {
	cl.mu.Lock()
	p := cl.pools[addr] // the pool that counted the slot: a pool with open > 0 is never removed
	if time.Now().Before(p.downUntil) {
		err := fmt.Errorf("%w (%s: %v)", errRedisDown, addr, p.downErr)
		p.open--
		cl.mu.Unlock()
		return nil, err
	}
	cl.mu.Unlock()
	c, err := cl.o.node.dial(addr)
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if err != nil {
		p.open--
		p.backoff *= 2
		if p.backoff < redisDialBackoff {
			p.backoff = redisDialBackoff
		}
		if p.backoff > redisDialBackoffCeiling {
			p.backoff = redisDialBackoffCeiling
		}
		p.downUntil = time.Now().Add(p.backoff)
		p.downErr = err
		return nil, err
	}
	p.backoff = 0
	p.downUntil = time.Time{}
	return c, nil
}

// take pops an idle connection of addr's pool, or reserves a slot for a dial (dial true); expired are the idle
// connections past the idle timeout, for the caller to close outside the lock.
func (cl *redisClient) take(addr string, now time.Time) (*redisConn, bool, []*redisConn) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	p := cl.pools[addr]
	if p == nil {
		cl.prunePools()
		p = &redisPool{}
		cl.pools[addr] = p
	}
	var expired []*redisConn
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].idleAt) > cl.o.idleTimeout {
		n++
	}
	if n > 0 {
		expired = append(expired, p.idle[:n]...)
		p.idle = append(p.idle[:0], p.idle[n:]...)
		p.open -= n
	}
	if k := len(p.idle); k > 0 {
		c := p.idle[k-1]
		p.idle = p.idle[:k-1]
		return c, false, expired
	}
	if p.open < cl.o.poolSize {
		p.open++
		return nil, true, expired
	}
	return nil, false, expired
}

// prunePools drops the pools without connections when there are too many (addresses a cluster no longer has).
// Only here is a pool removed, and only when none of its connections is in use: a connection always comes back to
// the pool that counted it.
func (cl *redisClient) prunePools() {
	if len(cl.pools) < redisMaxPools {
		return
	}
	for a, p := range cl.pools {
		if p.open == 0 {
			delete(cl.pools, a)
		}
	}
}

// drop closes the idle connections to addr (a server that failed, or is no longer the master); those in use close
// when they come back if they failed too.
func (cl *redisClient) drop(addr string) {
	cl.mu.Lock()
	p := cl.pools[addr]
	var idle []*redisConn
	if p != nil {
		idle = p.idle
		p.open -= len(idle)
		p.idle = nil
	}
	cl.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// putConn returns a connection to its pool, or closes it when it is broken or the client was closed.
func (cl *redisClient) putConn(c *redisConn) {
	cl.mu.Lock()
	p := cl.pools[c.addr]
	if c.broken || cl.closed || p == nil {
		if p != nil && p.open > 0 {
			p.open--
		}
		cl.mu.Unlock()
		c.close()
		return
	}
	c.idleAt = time.Now()
	p.idle = append(p.idle, c)
	cl.mu.Unlock()
}

// redisCmd is one command: its arguments, the key that routes it in a cluster, and whether running it twice is
// harmless (then a connection that fails after the command was sent is retried too).
type redisCmd struct {
	args       []string
	key        string
	idempotent bool
	replicas   int // when > 0, WAIT for that many replicas (up to redisWaitTimeout) on the same connection after it
}

// redisWaitTimeout bounds a WAIT after a write that must survive a failover.
const redisWaitTimeout = 250 * time.Millisecond

// do runs cmd: routed to the master that owns its key, following MOVED and ASK redirects, re-discovering the
// topology after connection errors, READONLY, CLUSTERDOWN or MASTERDOWN, and retrying at most maxRetries times with
// backoff (a command that may have run is retried only when idempotent). A server error reply is returned as an
// error "redis: <message>" along with the reply.
func (cl *redisClient) do(ctx context.Context, cmd redisCmd) (redisReply, error) {
	redirects := 0
	attempt := 0
	ask := ""
	for {
		if err := ctx.Err(); err != nil {
			return redisReply{}, err
		}
		rep, retry, redirect, err := cl.attempt(ctx, cmd, ask)
		ask = ""
		if err == nil {
			return rep, nil
		}
		if redirect != "" {
			redirects++
			if redirects > redisMaxRedirects {
				return rep, err
			}
			if strings.HasPrefix(rep.str, "ASK ") {
				ask = redirect
			}
			continue
		}
		if !retry || attempt >= cl.o.maxRetries {
			return rep, err
		}
		attempt++
		if !redisBackoff(ctx, attempt) {
			return rep, err
		}
	}
}

// attempt sends cmd once, to ask when set (after an ASK redirect) or where the topology routes its key. It reports
// whether a failure may be retried, or the address a redirect names.
func (cl *redisClient) attempt(ctx context.Context, cmd redisCmd, ask string) (redisReply, bool, string, error) {
	addr := ask
	if addr == "" {
		a, err := cl.route(cmd.key)
		if err != nil {
			return redisReply{}, true, "", err
		}
		addr = a
	}
	rep, sent, err := cl.exchange(ctx, addr, ask != "", cmd)
	if err != nil && errors.Is(err, errRedisDown) {
		cl.invalidate() // elsewhere than standalone, another route may come: the next command asks
		return rep, false, "", err
	}
	if err != nil {
		// The idle connections to addr are likely as dead as this one (a restart, a failover): close them rather
		// than spend the retries on them one by one.
		cl.drop(addr)
		cl.invalidate()
		return rep, !sent || cmd.idempotent, "", err
	}
	if rep.kind != '-' {
		return rep, false, "", nil
	}
	action, target := cl.serverError(rep.str, addr)
	err = errors.New("redis: " + rep.str)
	return rep, action == "retry", target, err
}

// exchange runs one command on a pooled connection to addr (after ASKING when asking). sent is false when the
// command surely did not reach the server: no connection, or a reused connection the server had already closed.
func (cl *redisClient) exchange(ctx context.Context, addr string, asking bool, cmd redisCmd) (redisReply, bool, error) {
	now := time.Now()
	c, err := cl.conn(addr, redisDeadline(ctx, now.Add(cl.o.node.dialTimeout)))
	if err != nil {
		return redisReply{}, false, err
	}
	reused := !c.idleAt.IsZero()
	wd := redisDeadline(ctx, now.Add(cl.o.writeTimeout))
	if asking {
		rep, err := c.roundTrip([]string{"ASKING"}, wd)
		if err == nil && rep.kind == '-' {
			err = errors.New("redis: ASKING: " + rep.str)
		}
		if err != nil {
			cl.putConn(c)
			return rep, false, err // the command itself was not sent
		}
	}
	if err := c.write(cmd.args, wd); err != nil {
		cl.putConn(c)
		return redisReply{}, !(reused && redisClosedByPeer(err)), err
	}
	rep, err := c.read(redisDeadline(ctx, time.Now().Add(cl.o.readTimeout)))
	if err == nil && rep.kind != '-' && cmd.replicas > 0 {
		// WAIT counts the replicas that have this connection's writes: best effort, the write itself succeeded.
		wait := []string{"WAIT", strconv.Itoa(cmd.replicas), redisMillis(redisWaitTimeout)}
		_, _ = c.roundTrip(wait, redisDeadline(ctx, time.Now().Add(redisWaitTimeout+cl.o.readTimeout)))
	}
	cl.putConn(c)
	if err != nil {
		return rep, !(reused && redisClosedByPeer(err)), err
	}
	return rep, true, nil
}

// redisClosedByPeer tells whether err is the server closing a connection that sat idle (timeout, restart): the
// command written on it was not read.
func redisClosedByPeer(err error) bool {
	if err == io.EOF || errors.Is(err, net.ErrClosed) {
		return true
	}
	msg := err.Error() // no syscall package under Yaegi: ECONNRESET by its text
	return strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe")
}

// redisDeadline is d, or the context's deadline when it is earlier.
func redisDeadline(ctx context.Context, d time.Time) time.Time {
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

// redisBackoff sleeps before retry number attempt (100 ms, 200 ms, 400 ms, then 500 ms: the first is the topology
// interval, so that the retry after a READONLY or a connection error can ask the sentinel again); false when the
// context's deadline would pass first.
func redisBackoff(ctx context.Context, attempt int) bool {
	d := redisRetryBackoff
	for i := 1; i < attempt && d < redisRetryBackoffCeiling; i++ {
		d *= 2
	}
	if d > redisRetryBackoffCeiling {
		d = redisRetryBackoffCeiling
	}
	if cd, ok := ctx.Deadline(); ok && time.Now().Add(d).After(cd) {
		return false
	}
	time.Sleep(d)
	return true
}
