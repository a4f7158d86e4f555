package descopeoidc

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// sharedStore is the state several replicas share (issue 17), one method per concern. The session registry uses it
// when a store is configured; every method is one round trip.
type sharedStore interface {
	// spendOnce records key for ttl and reports whether this call was the first: a login state, a logout token's
	// jti, spent once across replicas.
	spendOnce(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// claim takes key for owner for ttl unless it is held, and returns its value now: owner when this call won the
	// claim, otherwise the other owner's claim or the value it settled with (one refresh grant per session chain).
	claim(ctx context.Context, key, owner string, ttl time.Duration) (string, error)
	// settle replaces owner's claim on key by value for ttl, and reports whether owner still held it.
	settle(ctx context.Context, key, owner, value string, ttl time.Duration) (bool, error)
	// load reads key's value; false when there is none (a loser of a claim reads the winner's result).
	load(ctx context.Context, key string) (string, bool, error)
	// revoke tells every replica that id (a session chain, a sid, a subject) is revoked.
	revoke(ctx context.Context, id string) error
	// revocations returns, in one round trip, the revocations recorded after cursor ("" for all those kept), at
	// most redisRevocationBatch, and the cursor for the next call (the same cursor when there is nothing new).
	revocations(ctx context.Context, cursor string) ([]string, string, error)
}

const redisRevocationBatch = 1000

// redisStore is sharedStore on Redis. It holds validated options, not a connection: the process-wide client for
// them is looked up (and built, without I/O) at the first call, so building a store in New does nothing.
type redisStore struct {
	o         *redisOptions
	prefix    string        // prepended to every key, e.g. "descopeoidc:<issuer digest>:"
	retention time.Duration // how long revocations are kept: at least the longest session
}

func newRedisStore(o *redisOptions, prefix string, retention time.Duration) *redisStore {
	return &redisStore{o: o, prefix: prefix, retention: retention}
}

func (s *redisStore) client() *redisClient { return sharedRedis(s.o) }

// The claim and settle scripts: GET then SET in one atomic step. Running either twice gives the same answer, so
// they are retried like idempotent commands.
var (
	redisClaimScript = newRedisScript(`local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]`)
	redisSettleScript = newRedisScript(`local v = redis.call('GET', KEYS[1])
if v == ARGV[2] then return 1 end
if v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`)
)

func (s *redisStore) spendOnce(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return s.client().set(ctx, s.prefix+key, "1", ttl, true)
}

func (s *redisStore) claim(ctx context.Context, key, owner string, ttl time.Duration) (string, error) {
	rep, err := s.client().eval(ctx, redisClaimScript, s.prefix+key, true, owner, redisMillis(ttl))
	if err != nil {
		return "", err
	}
	if rep.kind != '$' || rep.null {
		return "", errRedisReply
	}
	return rep.str, nil
}

func (s *redisStore) settle(ctx context.Context, key, owner, value string, ttl time.Duration) (bool, error) {
	if owner == value {
		return false, errors.New("redis: settle: the value must differ from the claim")
	}
	rep, err := s.client().eval(ctx, redisSettleScript, s.prefix+key, true, owner, value, redisMillis(ttl))
	if err != nil {
		return false, err
	}
	if rep.kind != ':' {
		return false, errRedisReply
	}
	return rep.num == 1, nil
}

func (s *redisStore) load(ctx context.Context, key string) (string, bool, error) {
	return s.client().get(ctx, s.prefix+key)
}

// revoke appends id to the revocation stream, whose IDs the server assigns (no clock of ours orders them), and
// trims the entries older than the retention. With Sentinel it returns once a replica has the entry (or after
// redisWaitTimeout): replication is asynchronous, and a revocation only the dead master had would be lost by the
// failover.
func (s *redisStore) revoke(ctx context.Context, id string) error {
	minID := strconv.FormatInt(time.Now().Add(-s.retention).UnixMilli(), 10) + "-0"
	replicas := 0
	if s.o.mode == "sentinel" {
		replicas = 1
	}
	_, err := s.client().xadd(ctx, s.prefix+"revocations", minID, replicas, "id", id)
	return err
}

func (s *redisStore) revocations(ctx context.Context, cursor string) ([]string, string, error) {
	entries, err := s.client().xrange(ctx, s.prefix+"revocations", cursor, redisRevocationBatch)
	if err != nil {
		return nil, cursor, err
	}
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		cursor = e.id
		if len(e.fields) == 2 && e.fields[0] == "id" {
			ids = append(ids, e.fields[1])
		}
	}
	return ids, cursor, nil
}
