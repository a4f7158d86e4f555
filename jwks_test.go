package descopeoidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
)

func jwksOf(t *testing.T, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseJWKSKeyTypes(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256", "ES384", "ES512", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			k := newTestKey(t, alg, "kid-"+alg, 0)
			ks, err := parseJWKS(jwksJSON(t, k))
			if err != nil {
				t.Fatal(err)
			}
			if len(ks.keys) != 1 {
				t.Fatalf("got %d keys", len(ks.keys))
			}
			got := ks.keys[0]
			if got.kid != k.kid || got.alg != alg {
				t.Errorf("kid %q alg %q", got.kid, got.alg)
			}
			var equal bool
			switch want := k.pub.(type) {
			case *rsa.PublicKey:
				equal = want.Equal(got.key)
			case *ecdsa.PublicKey:
				equal = want.Equal(got.key)
			case ed25519.PublicKey:
				equal = want.Equal(got.key)
			}
			if !equal {
				t.Errorf("parsed key %T differs from the generated public key", got.key)
			}
		})
	}
}

func TestParseJWKSRejectsBadKeys(t *testing.T) {
	good := newTestKey(t, "RS256", "good", 0)
	rsaKey := testRSAKey(t, 0)
	cases := []struct {
		name   string
		mutate func(m map[string]any)
		alg    string
		want   string
	}{
		{"RSA smaller than 2048 bits", func(m map[string]any) { m["n"] = b64u(new(big.Int).Rsh(rsaKey.N, 1024).Bytes()) }, "RS256", "too small"},
		{"RSA exponent too large", func(m map[string]any) { m["e"] = b64u([]byte{1, 0, 0, 0, 1}) }, "RS256", "exponent too large"},
		{"RSA modulus not base64url", func(m map[string]any) { m["n"] = "+/+/" }, "RS256", "not base64url"},
		{"EC point off the curve", func(m map[string]any) {
			y, _ := b64Decode(m["y"].(string))
			y[len(y)-1] ^= 1
			m["y"] = b64u(y)
		}, "ES256", "not on curve"},
		{"EC unsupported curve", func(m map[string]any) { m["crv"] = "P-192" }, "ES256", "unsupported EC curve"},
		{"EC missing y", func(m map[string]any) { delete(m, "y") }, "ES256", "not base64url"},
		{"OKP X25519", func(m map[string]any) { m["crv"] = "X25519" }, "EdDSA", "unsupported OKP curve"},
		{"Ed25519 wrong size", func(m map[string]any) { m["x"] = b64u(make([]byte, 31)) }, "EdDSA", "wrong size"},
		{"symmetric key", func(m map[string]any) { m["kty"] = "oct" }, "RS256", "unsupported kty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := newTestKey(t, tc.alg, "bad", 0)
			k.jwkMutate = tc.mutate
			_, err := parseJWKS(jwksJSON(t, k))
			if err == nil {
				t.Fatalf("a set holding only the bad key parsed, want error containing %q", tc.want)
			}
			mustContain(t, "error", err.Error(), tc.want)
			// Next to a good key, the bad one is skipped and the set is still usable.
			ks, err := parseJWKS(jwksJSON(t, k, good))
			if err != nil {
				t.Fatalf("with a good key: %v", err)
			}
			if len(ks.keys) != 1 || ks.keys[0].kid != "good" {
				t.Errorf("kept %d keys", len(ks.keys))
			}
		})
	}
}

func b64Decode(s string) ([]byte, error) { return b64("test", s) }

func TestParseJWKSSkipsEncryptionKeys(t *testing.T) {
	enc := newTestKey(t, "RS256", "enc", 1)
	enc.use = "enc"
	sig := newTestKey(t, "RS256", "sig", 0)
	noUse := newTestKey(t, "ES256", "nouse", 0)
	noUse.use = ""

	if _, err := parseJWKS(jwksJSON(t, enc)); err == nil || !strings.Contains(err.Error(), "no usable signing key") {
		t.Errorf("only an encryption key: err = %v", err)
	}
	ks, err := parseJWKS(jwksJSON(t, enc, sig, noUse))
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range ks.keys {
		kids = append(kids, k.kid)
	}
	if strings.Join(kids, ",") != "sig,nouse" {
		t.Errorf("kept %v, want sig and nouse (use=enc skipped)", kids)
	}
	if _, ok := ks.find("enc", "RS256"); ok {
		t.Error("find returned the encryption key")
	}
}

func TestParseJWKSInvalidDocuments(t *testing.T) {
	for _, body := range []string{`not json`, `{"keys":[]}`, `{}`, `{"keys":"x"}`} {
		if _, err := parseJWKS([]byte(body)); err == nil {
			t.Errorf("parseJWKS(%s) succeeded", body)
		}
	}
}

func TestKeySetFind(t *testing.T) {
	rsaNoAlg := newTestKey(t, "RS256", "rsa-any", 0)
	rsaNoAlg.omitAlg = true
	rs256 := newTestKey(t, "RS256", "rsa-rs256", 1)
	es256 := newTestKey(t, "ES256", "ec256", 0)
	es384 := newTestKey(t, "ES384", "ec384", 0)
	ed := newTestKey(t, "EdDSA", "ed", 0)
	sameKid := newTestKey(t, "ES256", "rsa-rs256", 0) // same kid as rs256, other family

	multi, err := parseJWKS(jwksJSON(t, rsaNoAlg, rs256, es256, es384, ed, sameKid))
	if err != nil {
		t.Fatal(err)
	}
	single, err := parseJWKS(jwksJSON(t, es256))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		ks       *keySet
		kid, alg string
		want     any // expected public key, nil = not found
	}{
		{"RSA key without alg verifies RS256", multi, "rsa-any", "RS256", rsaNoAlg.pub},
		{"RSA key without alg verifies PS512", multi, "rsa-any", "PS512", rsaNoAlg.pub},
		{"RSA key declared RS256", multi, "rsa-rs256", "RS256", rs256.pub},
		{"alg mismatch: RS256 key, PS256 token", multi, "rsa-rs256", "PS256", nil},
		{"same kid, other family picked by alg", multi, "rsa-rs256", "ES256", sameKid.pub},
		{"EC P-256", multi, "ec256", "ES256", es256.pub},
		{"EC curve mismatch", multi, "ec384", "ES256", nil},
		{"EC P-384", multi, "ec384", "ES384", es384.pub},
		{"Ed25519", multi, "ed", "EdDSA", ed.pub},
		{"family mismatch", multi, "ed", "RS256", nil},
		{"unknown kid", multi, "nope", "RS256", nil},
		{"unknown alg", multi, "rsa-any", "HS256", nil},
		{"no kid, several keys", multi, "", "RS256", nil},
		{"no kid, single key", single, "", "ES256", es256.pub},
		{"no kid, single key of other family", single, "", "RS256", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.ks.find(tc.kid, tc.alg)
			if tc.want == nil {
				if ok {
					t.Fatalf("found %T, want none", got)
				}
				return
			}
			if !ok {
				t.Fatal("not found")
			}
			if !tc.want.(interface{ Equal(crypto.PublicKey) bool }).Equal(got) {
				t.Errorf("found the wrong key")
			}
		})
	}
}
