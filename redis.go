package descopeoidc

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RedisConfig is the optional store shared by several replicas (issue 17): standalone, Sentinel or Cluster, with
// TLS and an ACL user whose password is read from a file. Validated by options, which New calls: it reads files but
// makes no connection. Durations are Go durations ("2s").
type RedisConfig struct {
	Mode                 string   `json:"mode,omitempty"`      // standalone (default), sentinel or cluster
	Addresses            []string `json:"addresses,omitempty"` // host:port: the server, the sentinels, or cluster seeds
	MasterName           string   `json:"masterName,omitempty"`
	Username             string   `json:"username,omitempty"`
	PasswordFile         string   `json:"passwordFile,omitempty"`
	SentinelUsername     string   `json:"sentinelUsername,omitempty"`
	SentinelPasswordFile string   `json:"sentinelPasswordFile,omitempty"`
	DB                   int      `json:"db,omitempty"` // standalone and sentinel only: a cluster has database 0
	TLS                  bool     `json:"tls,omitempty"`
	CAFile               string   `json:"caFile,omitempty"`
	CertFile             string   `json:"certFile,omitempty"`
	KeyFile              string   `json:"keyFile,omitempty"`
	ServerName           string   `json:"serverName,omitempty"`
	DialTimeout          string   `json:"dialTimeout,omitempty"`
	ReadTimeout          string   `json:"readTimeout,omitempty"`
	WriteTimeout         string   `json:"writeTimeout,omitempty"`
	IdleTimeout          string   `json:"idleTimeout,omitempty"`
	PoolSize             int      `json:"poolSize,omitempty"` // connections per server
	MaxRetries           int      `json:"maxRetries,omitempty"`
	// Unknown collects the keys Traefik's decoder has no field for; New fails naming them (configkeys.go).
	Unknown map[string]any `json:"-" mapstructure:",remain"`
}

// Defaults of RedisConfig's settings.
const (
	redisDefaultDialTimeout  = 2 * time.Second
	redisDefaultRWTimeout    = time.Second
	redisDefaultIdleTimeout  = time.Minute
	redisDefaultPoolSize     = 16
	redisDefaultMaxRetries   = 2
	redisMaxPoolSize         = 1024
	redisMaxClients          = 8 // distinct Redis configurations kept per process; older ones are closed
	redisMaxRedirects        = 5
	redisRetryBackoff        = redisTopologyInterval // a retry after READONLY or MOVED may reload the topology
	redisRetryBackoffCeiling = 500 * time.Millisecond
)

// redisOptions is a validated RedisConfig; key identifies it for the process-wide client table.
type redisOptions struct {
	mode         string
	addrs        []string
	masterName   string
	node         redisDialer // data nodes: credentials, TLS, database
	sentinel     redisDialer // sentinels: their own credentials, same TLS
	readTimeout  time.Duration
	writeTimeout time.Duration
	idleTimeout  time.Duration
	poolSize     int
	maxRetries   int
	key          string
}

// options validates the configuration, reads the password and TLS files, and names the offending key (under
// prefix, e.g. "redis.") in its error.
func (rc *RedisConfig) options(prefix string) (*redisOptions, error) {
	o := &redisOptions{mode: rc.Mode, masterName: rc.MasterName, poolSize: rc.PoolSize, maxRetries: rc.MaxRetries}
	if err := rc.checkTopology(prefix, o); err != nil {
		return nil, err
	}
	if err := rc.readSecrets(prefix, o); err != nil {
		return nil, err
	}
	if err := rc.durations(prefix, o); err != nil {
		return nil, err
	}
	if o.poolSize == 0 {
		o.poolSize = redisDefaultPoolSize
	}
	if o.poolSize < 0 || o.poolSize > redisMaxPoolSize {
		return nil, fmt.Errorf("%spoolSize: must be between 1 and %d", prefix, redisMaxPoolSize)
	}
	switch {
	case o.maxRetries == 0:
		o.maxRetries = redisDefaultMaxRetries
	case o.maxRetries == -1:
		o.maxRetries = 0 // -1: no retry
	case o.maxRetries < -1 || o.maxRetries > 10:
		return nil, fmt.Errorf("%smaxRetries: must be between -1 (none) and 10", prefix)
	}
	if err := rc.tlsConfig(prefix, o); err != nil {
		return nil, err
	}
	o.sentinel.dialTimeout = o.node.dialTimeout
	o.sentinel.tls = o.node.tls
	o.key = rc.identity(o)
	return o, nil
}

func (rc *RedisConfig) checkTopology(prefix string, o *redisOptions) error {
	switch o.mode {
	case "":
		o.mode = "standalone"
	case "standalone", "sentinel", "cluster":
	default:
		return fmt.Errorf("%smode: %q is not standalone, sentinel or cluster", prefix, o.mode)
	}
	if len(rc.Addresses) == 0 {
		return fmt.Errorf("%saddresses: at least one host:port is required", prefix)
	}
	for _, a := range rc.Addresses {
		a = strings.TrimSpace(a)
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" || port == "" {
			return fmt.Errorf("%saddresses: %q is not host:port", prefix, a)
		}
		o.addrs = append(o.addrs, a)
	}
	if o.mode == "standalone" && len(o.addrs) != 1 {
		return fmt.Errorf("%saddresses: standalone mode takes one address", prefix)
	}
	if (o.mode == "sentinel") != (o.masterName != "") {
		return fmt.Errorf("%smasterName: required in sentinel mode and only there", prefix)
	}
	if rc.DB < 0 || rc.DB > 15 || (o.mode == "cluster" && rc.DB != 0) {
		return fmt.Errorf("%sdb: must be 0-15, and 0 in cluster mode", prefix)
	}
	o.node.db = rc.DB
	return nil
}

// readSecrets reads the passwords from their files (a trailing newline is not part of the password).
func (rc *RedisConfig) readSecrets(prefix string, o *redisOptions) error {
	o.node.username = rc.Username
	o.sentinel.username = rc.SentinelUsername
	files := []string{rc.PasswordFile, rc.SentinelPasswordFile}
	keys := []string{"passwordFile", "sentinelPasswordFile"}
	for i := 0; i < len(files); i++ {
		if files[i] == "" {
			continue
		}
		b, err := os.ReadFile(files[i])
		if err != nil {
			return fmt.Errorf("%s%s: %v", prefix, keys[i], err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return fmt.Errorf("%s%s: the file is empty", prefix, keys[i])
		}
		if i == 0 {
			o.node.password = pw
		} else {
			o.sentinel.password = pw
		}
	}
	if rc.Username != "" && o.node.password == "" {
		return fmt.Errorf("%spasswordFile: required with username", prefix)
	}
	if rc.SentinelUsername != "" && o.sentinel.password == "" {
		return fmt.Errorf("%ssentinelPasswordFile: required with sentinelUsername", prefix)
	}
	return nil
}

func (rc *RedisConfig) durations(prefix string, o *redisOptions) error {
	vals := []string{rc.DialTimeout, rc.ReadTimeout, rc.WriteTimeout, rc.IdleTimeout}
	keys := []string{"dialTimeout", "readTimeout", "writeTimeout", "idleTimeout"}
	defs := []time.Duration{redisDefaultDialTimeout, redisDefaultRWTimeout, redisDefaultRWTimeout, redisDefaultIdleTimeout}
	out := make([]time.Duration, len(vals))
	for i := 0; i < len(vals); i++ {
		out[i] = defs[i]
		if vals[i] == "" {
			continue
		}
		d, err := time.ParseDuration(vals[i])
		if err != nil || d <= 0 || d > 10*time.Minute {
			return fmt.Errorf("%s%s: %q is not a duration between 0 and 10m", prefix, keys[i], vals[i])
		}
		out[i] = d
	}
	o.node.dialTimeout = out[0]
	o.readTimeout = out[1]
	o.writeTimeout = out[2]
	o.idleTimeout = out[3]
	return nil
}

func (rc *RedisConfig) tlsConfig(prefix string, o *redisOptions) error {
	if !rc.TLS {
		if rc.CAFile != "" || rc.CertFile != "" || rc.KeyFile != "" || rc.ServerName != "" {
			return fmt.Errorf("%stls: caFile, certFile, keyFile and serverName need tls: true", prefix)
		}
		return nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: rc.ServerName}
	if rc.CAFile != "" {
		pem, err := os.ReadFile(rc.CAFile)
		if err != nil {
			return fmt.Errorf("%scaFile: %v", prefix, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%scaFile: no PEM certificate in the file", prefix)
		}
		cfg.RootCAs = pool
	}
	if (rc.CertFile == "") != (rc.KeyFile == "") {
		return fmt.Errorf("%scertFile: certFile and keyFile go together", prefix)
	}
	if rc.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(rc.CertFile, rc.KeyFile)
		if err != nil {
			return fmt.Errorf("%scertFile: %v", prefix, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	o.node.tls = cfg
	return nil
}

// identity is the digest of everything that makes two configurations reach different servers or as different
// users (passwords and TLS files included): equal configurations, e.g. the same one after a reload, share a client.
func (rc *RedisConfig) identity(o *redisOptions) string {
	parts := []string{o.mode, strings.Join(o.addrs, ","), o.masterName, o.node.username, o.node.password,
		o.sentinel.username, o.sentinel.password, strconv.Itoa(o.node.db), strconv.FormatBool(rc.TLS), rc.CAFile,
		rc.CertFile, rc.KeyFile, rc.ServerName, o.node.dialTimeout.String(), o.readTimeout.String(),
		o.writeTimeout.String(), o.idleTimeout.String(), strconv.Itoa(o.poolSize), strconv.Itoa(o.maxRetries)}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])
}

// redisClients holds one client per Redis configuration for the whole process, shared by every middleware instance
// and surviving reloads. Built lazily on first use, bounded: past redisMaxClients the least recently used is closed.
var redisClients = struct {
	sync.Mutex
	m map[string]*redisClient
}{m: map[string]*redisClient{}}

// sharedRedis returns the process's client for o, creating it (without any connection) on first use.
func sharedRedis(o *redisOptions) *redisClient {
	now := time.Now()
	redisClients.Lock()
	defer redisClients.Unlock()
	if c := redisClients.m[o.key]; c != nil {
		c.lastUse = now
		return c
	}
	if len(redisClients.m) >= redisMaxClients {
		var oldest *redisClient
		for _, c := range redisClients.m {
			if oldest == nil || c.lastUse.Before(oldest.lastUse) {
				oldest = c
			}
		}
		delete(redisClients.m, oldest.o.key)
		oldest.close()
	}
	c := newRedisClient(o)
	c.lastUse = now
	redisClients.m[o.key] = c
	return c
}

var (
	errRedisPoolExhausted = errors.New("redis: no free connection before the deadline")
	errRedisDown          = errors.New("redis: server unreachable, next dial after a backoff")
)
