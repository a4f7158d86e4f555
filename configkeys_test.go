package descopeoidc

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// TestUnknownKeysFailNew (issue 18 item 3): a key Traefik's decoder left over (the ",remain" fields) fails New,
// naming the key and the closest known one, compared case-insensitively; nested in a claimRules entry too.
func TestUnknownKeysFailNew(t *testing.T) {
	cases := []struct {
		name string
		edit func(c *Config)
		want []string
	}{
		{"singular role", func(c *Config) { c.Unknown = map[string]any{"requiredRole": "admin"} },
			[]string{"requiredRole: unknown key", "did you mean `requiredRoles`?"}},
		{"doubled letter", func(c *Config) { c.Unknown = map[string]any{"clientSecrett": "x"} },
			[]string{"clientSecrett: unknown key", "`clientSecret`"}},
		{"other case", func(c *Config) { c.Unknown = map[string]any{"EXCLUDEDPATH": "/x"} }, []string{"`excludedPaths`"}},
		{"two keys, sorted", func(c *Config) { c.Unknown = map[string]any{"sesionSecret": "x", "cookiename": 1, "logleve": "debug"} },
			[]string{"cookiename: unknown key (did you mean `cookieName`?); logleve: unknown key (did you mean `logLevel`?); sesionSecret"}},
		{"in a claim rule", func(c *Config) {
			c.ClaimRules = []ClaimRule{{Claim: "a", Equals: []string{"b"}}, {Claim: "x", Unknown: map[string]any{"equal": "y"}}}
		}, []string{"claimRules[1].equal: unknown key (did you mean `claimRules[1].equals`?)"}},
		{"under redis", func(c *Config) {
			c.Redis = &RedisConfig{Addresses: []string{"127.0.0.1:6379"}, Unknown: map[string]any{"adresses": "x"}}
		}, []string{"redis.adresses: unknown key (did you mean `redis.addresses`?)"}},
	}
	for _, tc := range cases {
		c := testConfigForKeys()
		tc.edit(c)
		_, err := New(context.Background(), http.NotFoundHandler(), c, "keys")
		if err == nil {
			t.Errorf("%s: New accepted the configuration", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", tc.name, err, w)
			}
		}
	}
	if _, err := New(context.Background(), http.NotFoundHandler(), testConfigForKeys(), "keys"); err != nil {
		t.Fatalf("the same configuration without unknown keys: %v", err)
	}
}

// TestKnownKeysAreTheDocumentedOnes: the suggestions come from the json names of Config and ClaimRule, one per field
// but the ",remain" one, each equal to its field's name but for case (mapstructure matches field names).
func TestKnownKeysAreTheDocumentedOnes(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeOf(Config{}), reflect.TypeOf(ClaimRule{}), reflect.TypeOf(RedisConfig{})} {
		keys := knownKeys(typ)
		if len(keys) != typ.NumField()-1 {
			t.Errorf("%s: %d known keys for %d fields", typ.Name(), len(keys), typ.NumField())
		}
		for i, k := range keys {
			if f := typ.Field(i); !strings.EqualFold(f.Name, k) {
				t.Errorf("%s: field %s has json name %q: mapstructure would not match it", typ.Name(), f.Name, k)
			}
		}
		f, _ := typ.FieldByName("Unknown")
		if f.Tag.Get("mapstructure") != ",remain" || f.Index[0] != typ.NumField()-1 {
			t.Errorf("%s: Unknown must be the last field, tagged mapstructure:\",remain\"", typ.Name())
		}
	}
	if got := closestKey("INTROSPECTIONURL", knownKeys(reflect.TypeOf(Config{}))); got != "introspectionURL" {
		t.Errorf("closestKey(INTROSPECTIONURL) = %q", got)
	}
}

func testConfigForKeys() *Config {
	c := CreateConfig()
	c.Issuer = "https://idp.example.com"
	c.ClientID = "client"
	c.ClientSecret = "secret"
	c.SessionSecret = strings.Repeat("s", 32)
	return c
}
