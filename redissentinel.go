package descopeoidc

import (
	"errors"
	"net"
	"time"
)

// Redis Sentinel: the sentinels name the current master (SENTINEL get-master-addr-by-name). The client asks them
// when it has no master yet and again after a connection error, READONLY or MASTERDOWN from the master it used (a
// failover demoted it), then sends its commands to the master they name.

// discoverMaster asks the sentinels in turn, the last one that answered first, and records the master.
func (cl *redisClient) discoverMaster() error {
	cl.mu.Lock()
	sentinels := append([]string{}, cl.sentinel...)
	cl.mu.Unlock()
	var lastErr error
	for i, s := range sentinels {
		master, err := cl.askSentinel(s)
		if err != nil {
			lastErr = err
			continue
		}
		cl.mu.Lock()
		old := cl.master
		cl.master = master
		if i > 0 {
			cl.sentinel = append(append([]string{s}, sentinels[:i]...), sentinels[i+1:]...)
		}
		cl.mu.Unlock()
		if old != "" && old != master {
			cl.drop(old)
		}
		return nil
	}
	return lastErr
}

// askSentinel asks one sentinel for the master's address, on a connection of its own (discovery is rare).
func (cl *redisClient) askSentinel(addr string) (string, error) {
	c, err := cl.o.sentinel.dial(addr)
	if err != nil {
		return "", err
	}
	defer c.close()
	rep, err := c.roundTrip([]string{"SENTINEL", "get-master-addr-by-name", cl.o.masterName}, time.Now().Add(cl.o.readTimeout))
	if err != nil {
		return "", err
	}
	if rep.kind == '-' {
		return "", errors.New("redis: sentinel " + addr + ": " + rep.str)
	}
	if rep.kind != '*' || len(rep.elems) != 2 || rep.elems[0].str == "" || rep.elems[1].str == "" {
		return "", errors.New("redis: sentinel " + addr + " does not know master " + cl.o.masterName)
	}
	return net.JoinHostPort(rep.elems[0].str, rep.elems[1].str), nil
}
