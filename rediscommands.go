package descopeoidc

import (
	"context"
	"crypto/sha1" //nolint:gosec // EVALSHA names a script by its SHA-1, as Redis defines it
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// The commands the session store needs, typed. Idempotent ones (GET, SET without NX, DEL, EXPIRE, PEXPIRE, XRANGE)
// are retried after a connection error; the others only when they surely were not sent.

var errRedisReply = errors.New("redis: unexpected reply type")

// get returns key's value; ok is false when the key does not exist.
func (cl *redisClient) get(ctx context.Context, key string) (string, bool, error) {
	rep, err := cl.do(ctx, redisCmd{args: []string{"GET", key}, key: key, idempotent: true})
	if err != nil {
		return "", false, err
	}
	if rep.kind != '$' {
		return "", false, errRedisReply
	}
	return rep.str, !rep.null, nil
}

// set stores value under key for ttl (PX; none when ttl is 0). With nx it stores only when the key does not exist
// and reports whether it did.
func (cl *redisClient) set(ctx context.Context, key, value string, ttl time.Duration, nx bool) (bool, error) {
	args := []string{"SET", key, value}
	if ttl > 0 {
		args = append(args, "PX", redisMillis(ttl))
	}
	if nx {
		args = append(args, "NX")
	}
	rep, err := cl.do(ctx, redisCmd{args: args, key: key, idempotent: !nx})
	if err != nil {
		return false, err
	}
	if rep.null {
		return false, nil
	}
	if rep.kind != '+' {
		return false, errRedisReply
	}
	return true, nil
}

// del deletes key and reports whether it existed.
func (cl *redisClient) del(ctx context.Context, key string) (bool, error) {
	n, err := cl.integer(ctx, redisCmd{args: []string{"DEL", key}, key: key, idempotent: true})
	return n > 0, err
}

// expire sets key's time to live (EXPIRE in seconds, PEXPIRE below a second's precision) and reports whether the key
// exists.
func (cl *redisClient) expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	args := []string{"PEXPIRE", key, redisMillis(ttl)}
	if ttl%time.Second == 0 {
		args = []string{"EXPIRE", key, strconv.FormatInt(int64(ttl/time.Second), 10)}
	}
	n, err := cl.integer(ctx, redisCmd{args: args, key: key, idempotent: true})
	return n == 1, err
}

// incr increments key's integer value and returns it.
func (cl *redisClient) incr(ctx context.Context, key string) (int64, error) {
	return cl.integer(ctx, redisCmd{args: []string{"INCR", key}, key: key})
}

// publish sends message on channel and returns how many subscribers received it (in a cluster, of the node that
// ran it; the cluster forwards it to every node).
func (cl *redisClient) publish(ctx context.Context, channel, message string) (int64, error) {
	return cl.integer(ctx, redisCmd{args: []string{"PUBLISH", channel, message}, key: channel})
}

func (cl *redisClient) integer(ctx context.Context, cmd redisCmd) (int64, error) {
	rep, err := cl.do(ctx, cmd)
	if err != nil {
		return 0, err
	}
	if rep.kind != ':' {
		return 0, errRedisReply
	}
	return rep.num, nil
}

// redisScript is a Lua script run by EVALSHA, loaded with EVAL when the server does not have it (NOSCRIPT).
type redisScript struct {
	src string
	sha string
}

func newRedisScript(src string) *redisScript {
	sum := sha1.Sum([]byte(src)) //nolint:gosec // the script's name for EVALSHA
	return &redisScript{src: src, sha: hex.EncodeToString(sum[:])}
}

// eval runs script with one key (so that it routes in a cluster) and args. idempotent says whether running it twice
// is harmless.
func (cl *redisClient) eval(ctx context.Context, s *redisScript, key string, idempotent bool, args ...string) (redisReply, error) {
	argv := append([]string{"EVALSHA", s.sha, "1", key}, args...)
	rep, err := cl.do(ctx, redisCmd{args: argv, key: key, idempotent: idempotent})
	if err != nil && rep.kind == '-' && strings.HasPrefix(rep.str, "NOSCRIPT") {
		argv[0] = "EVAL"
		argv[1] = s.src
		rep, err = cl.do(ctx, redisCmd{args: argv, key: key, idempotent: idempotent})
	}
	return rep, err
}

// redisStreamEntry is one stream entry: its ID and its field/value pairs.
type redisStreamEntry struct {
	id     string
	fields []string
}

// xadd appends an entry to stream with a server-assigned ID, trimming (approximately) the entries older than
// minID when it is set, and returns the new ID. With replicas > 0 it returns once that many replicas have the entry
// or after redisWaitTimeout.
func (cl *redisClient) xadd(ctx context.Context, stream, minID string, replicas int, fields ...string) (string, error) {
	args := []string{"XADD", stream}
	if minID != "" {
		args = append(args, "MINID", "~", minID)
	}
	args = append(append(args, "*"), fields...)
	rep, err := cl.do(ctx, redisCmd{args: args, key: stream, replicas: replicas})
	if err != nil {
		return "", err
	}
	if rep.kind != '$' || rep.null {
		return "", errRedisReply
	}
	return rep.str, nil
}

// xrange returns at most count entries of stream after the ID after ("" for the first), oldest first.
func (cl *redisClient) xrange(ctx context.Context, stream, after string, count int) ([]redisStreamEntry, error) {
	start := "-"
	if after != "" {
		start = "(" + after
	}
	rep, err := cl.do(ctx, redisCmd{args: []string{"XRANGE", stream, start, "+", "COUNT", strconv.Itoa(count)}, key: stream, idempotent: true})
	if err != nil {
		return nil, err
	}
	if rep.kind != '*' {
		return nil, errRedisReply
	}
	out := make([]redisStreamEntry, 0, len(rep.elems))
	for _, e := range rep.elems {
		if e.kind != '*' || len(e.elems) != 2 || e.elems[1].kind != '*' {
			return nil, errRedisReply
		}
		ent := redisStreamEntry{id: e.elems[0].str}
		for _, f := range e.elems[1].elems {
			ent.fields = append(ent.fields, f.str)
		}
		out = append(out, ent)
	}
	return out, nil
}

// redisMillis formats d in whole milliseconds, at least 1.
func redisMillis(d time.Duration) string {
	ms := int64(d / time.Millisecond)
	if ms < 1 {
		ms = 1
	}
	return strconv.FormatInt(ms, 10)
}
