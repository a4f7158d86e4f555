package descopeoidc

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRedisConfigErrorsNameTheKey: each bad setting fails naming its key, without any connection.
func TestRedisConfigErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	notPEM := filepath.Join(dir, "ca")
	_ = os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	base := func() RedisConfig { return RedisConfig{Addresses: []string{"127.0.0.1:6379"}} }
	cases := []struct {
		key  string
		edit func(*RedisConfig)
	}{
		{"redis.mode", func(c *RedisConfig) { c.Mode = "ring" }},
		{"redis.addresses", func(c *RedisConfig) { c.Addresses = nil }},
		{"redis.addresses", func(c *RedisConfig) { c.Addresses = []string{"localhost"} }},
		{"redis.addresses", func(c *RedisConfig) { c.Addresses = []string{"a:1", "b:2"} }},
		{"redis.masterName", func(c *RedisConfig) { c.Mode = "sentinel" }},
		{"redis.masterName", func(c *RedisConfig) { c.MasterName = "mymaster" }},
		{"redis.db", func(c *RedisConfig) { c.DB = 16 }},
		{"redis.db", func(c *RedisConfig) { c.Mode, c.DB = "cluster", 1 }},
		{"redis.passwordFile", func(c *RedisConfig) { c.PasswordFile = filepath.Join(dir, "missing") }},
		{"redis.passwordFile", func(c *RedisConfig) { c.PasswordFile = empty }},
		{"redis.passwordFile", func(c *RedisConfig) { c.Username = "alice" }},
		{"redis.sentinelPasswordFile", func(c *RedisConfig) { c.SentinelUsername = "s" }},
		{"redis.dialTimeout", func(c *RedisConfig) { c.DialTimeout = "soon" }},
		{"redis.readTimeout", func(c *RedisConfig) { c.ReadTimeout = "-1s" }},
		{"redis.idleTimeout", func(c *RedisConfig) { c.IdleTimeout = "11m" }},
		{"redis.poolSize", func(c *RedisConfig) { c.PoolSize = -3 }},
		{"redis.maxRetries", func(c *RedisConfig) { c.MaxRetries = 11 }},
		{"redis.tls", func(c *RedisConfig) { c.CAFile = notPEM }},
		{"redis.caFile", func(c *RedisConfig) { c.TLS, c.CAFile = true, notPEM }},
		{"redis.certFile", func(c *RedisConfig) { c.TLS, c.CertFile = true, notPEM }},
		{"redis.certFile", func(c *RedisConfig) { c.TLS, c.CertFile, c.KeyFile = true, notPEM, notPEM }},
	}
	for i, tc := range cases {
		c := base()
		tc.edit(&c)
		_, err := c.options("redis.")
		if err == nil || !strings.HasPrefix(err.Error(), tc.key+":") {
			t.Errorf("case %d: %v, want an error naming %s", i, err, tc.key)
		}
	}
}

// TestRedisConfigDefaults: the documented defaults, and a password file's trailing newline is not the password.
func TestRedisConfigDefaults(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	_ = os.WriteFile(pw, []byte("secret\r\n"), 0o600)
	c := RedisConfig{Addresses: []string{"127.0.0.1:6379"}, Username: "u", PasswordFile: pw}
	o, err := c.options("redis.")
	if err != nil {
		t.Fatal(err)
	}
	if o.mode != "standalone" || o.poolSize != redisDefaultPoolSize || o.maxRetries != redisDefaultMaxRetries ||
		o.node.dialTimeout != 2*time.Second || o.readTimeout != time.Second || o.writeTimeout != time.Second ||
		o.idleTimeout != time.Minute || o.node.password != "secret" || o.node.tls != nil {
		t.Errorf("defaults: %+v", o)
	}
	c.MaxRetries = -1
	if o, _ := c.options(""); o.maxRetries != 0 {
		t.Errorf("maxRetries -1: %d retries, want none", o.maxRetries)
	}
}

// TestSharedRedisPerConfiguration: equal configurations (a reload) share one client, different ones (another
// password) do not, and the table stays bounded however many configurations come and go.
func TestSharedRedisPerConfiguration(t *testing.T) {
	dir := t.TempDir()
	opts := func(addr, password string) *redisOptions {
		c := RedisConfig{Addresses: []string{addr}}
		if password != "" {
			c.PasswordFile = filepath.Join(dir, password)
			_ = os.WriteFile(c.PasswordFile, []byte(password), 0o600)
		}
		o, err := c.options("")
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	a := sharedRedis(opts("127.0.0.1:1", "one"))
	if sharedRedis(opts("127.0.0.1:1", "one")) != a {
		t.Error("the same configuration built twice got two clients")
	}
	if sharedRedis(opts("127.0.0.1:1", "two")) == a {
		t.Error("another password shares the client")
	}
	for i := 0; i < 3*redisMaxClients; i++ {
		sharedRedis(opts("127.0.0.1:"+strconv.Itoa(100+i), ""))
	}
	redisClients.Lock()
	n := len(redisClients.m)
	redisClients.Unlock()
	if n > redisMaxClients {
		t.Errorf("%d clients kept, want at most %d", n, redisMaxClients)
	}
	a.mu.Lock()
	closed := a.closed
	a.mu.Unlock()
	if !closed {
		t.Error("an evicted client was not closed")
	}
}

// TestRedisSettingsFromTheEnvironment: ${NAME} in redis's addresses and strings is expanded like the other keys, and
// an unset variable names the key.
func TestRedisSettingsFromTheEnvironment(t *testing.T) {
	t.Setenv("TEST_REDIS_ADDR", "127.0.0.1:6399")
	s := settingsWith(t, func(c *Config) {
		c.Redis = &RedisConfig{Addresses: []string{"${TEST_REDIS_ADDR}"}, Mode: "standalone"}
	}, "")
	if s.store == nil {
		t.Fatal("no store")
	}
	c := CreateConfig()
	c.Issuer, c.ClientID, c.ClientSecret, c.SessionSecret = "https://idp.example", "client", "secret", testSessionKey
	c.Redis = &RedisConfig{Addresses: []string{"${TEST_REDIS_ADDR}"}}
	if err := expandConfigEnv(c); err != nil || c.Redis.Addresses[0] != "127.0.0.1:6399" {
		t.Errorf("addresses %v, error %v; want the variable's value", c.Redis.Addresses, err)
	}
	settingsWith(t, func(c *Config) {
		c.Redis = &RedisConfig{Addresses: []string{"${TEST_REDIS_UNSET_VARIABLE}"}}
	}, "redis.addresses")
}
