package descopeoidc

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"time"
)

// Routing a command to the server that must run it: the one address in standalone mode, the master Sentinel names,
// or the master that owns the key's slot in a cluster. The topology is loaded by the first command that needs it and
// reloaded after errors that say it changed, at most once per redisTopologyInterval; Sentinel's answer is also
// checked again by the first command after redisSentinelRecheck.

// redisSentinelRecheck bounds how long writes can go to a master that a switchover replaced but that is not yet
// demoted (the sentinel reconfigures it when it next sees it, up to ~10 s later): one sentinel question per second.
const redisSentinelRecheck = time.Second

// route returns the address for a command on key.
func (cl *redisClient) route(key string) (string, error) {
	switch cl.o.mode {
	case "standalone":
		return cl.o.addrs[0], nil
	case "sentinel":
		return cl.routed(-1, "redis: sentinel names no master for "+cl.o.masterName)
	}
	slot := redisKeySlot(key)
	return cl.routed(slot, "redis: no cluster node serves slot "+strconv.Itoa(slot))
}

// lookup is the address for slot (-1: Sentinel's master), with cl.mu held; "" when unknown.
func (cl *redisClient) lookup(slot int) string {
	if slot < 0 {
		return cl.master
	}
	return cl.slotNode(slot)
}

// routed returns what lookup finds, after a topology reload when it is stale. When the reload fails the last known
// address is still used: the command then fails or succeeds on its own.
func (cl *redisClient) routed(slot int, missing string) (string, error) {
	cl.mu.Lock()
	addr := cl.lookup(slot)
	if cl.o.mode == "sentinel" && time.Since(cl.loadedAt) > redisSentinelRecheck {
		cl.stale = true // a switchover moves the master without an error from the old one until it is demoted
	}
	stale := cl.stale
	cl.mu.Unlock()
	if addr != "" && !stale {
		return addr, nil
	}
	err := cl.refresh(addr == "")
	cl.mu.Lock()
	addr = cl.lookup(slot)
	cl.mu.Unlock()
	if addr != "" {
		return addr, nil
	}
	if err == nil {
		err = errors.New(missing)
	}
	return "", err
}

// invalidate marks the topology for a reload before the next command.
func (cl *redisClient) invalidate() {
	if cl.o.mode == "standalone" {
		return
	}
	cl.mu.Lock()
	cl.stale = true
	cl.mu.Unlock()
}

// refresh reloads a stale topology, one caller at a time and at most once per interval after the last load ended;
// the callers that come within the interval of a failed load get its error. A caller that knows an address (wait
// false) does not wait for a load in progress: it goes on with what it knows.
func (cl *redisClient) refresh(wait bool) error {
	if wait {
		cl.topoMu.Lock()
	} else if !cl.topoMu.TryLock() {
		return nil
	}
	defer cl.topoMu.Unlock()
	cl.mu.Lock()
	stale, loadedAt, lastErr := cl.stale, cl.loadedAt, cl.topoErr
	cl.mu.Unlock()
	if !stale {
		return nil
	}
	now := time.Now()
	if now.Sub(loadedAt) < redisTopologyInterval {
		return lastErr
	}
	var err error
	if cl.o.mode == "sentinel" {
		err = cl.discoverMaster()
	} else {
		err = cl.loadSlots()
	}
	cl.mu.Lock()
	cl.loadedAt = time.Now() // the interval starts when the load ends: a load that waited out timeouts is not redone at once
	cl.topoErr = err
	if err == nil {
		cl.stale = false
	}
	cl.mu.Unlock()
	return err
}

// serverError classifies an error reply from addr: "moved" or "ask" with the address to follow (a MOVED also updates
// the slot table), "retry" for errors that say the command did not run and the topology may have changed, "fail"
// for the others.
func (cl *redisClient) serverError(msg, addr string) (string, string) {
	code := msg
	if i := strings.IndexByte(msg, ' '); i >= 0 {
		code = msg[:i]
	}
	switch code {
	case "MOVED", "ASK":
		f := strings.Fields(msg)
		if len(f) != 3 || cl.o.mode != "cluster" {
			return "fail", ""
		}
		slot, err := strconv.Atoi(f[1])
		if err != nil || slot < 0 || slot >= redisSlots {
			return "fail", ""
		}
		target := f[2]
		if strings.HasPrefix(target, ":") { // the node does not know its own IP: same host as the one that answered
			host, _, _ := net.SplitHostPort(addr)
			target = net.JoinHostPort(host, target[1:])
		}
		if code == "MOVED" {
			cl.setSlot(slot, target)
			cl.invalidate()
			return "moved", target
		}
		return "ask", target
	case "TRYAGAIN", "LOADING":
		return "retry", ""
	case "READONLY", "MASTERDOWN", "CLUSTERDOWN":
		cl.invalidate()
		return "retry", ""
	}
	return "fail", ""
}
