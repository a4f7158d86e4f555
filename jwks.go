package descopeoidc

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// jwkDTO is one JSON Web Key as published (RFC 7517/7518/8037). Plain tagged fields only (Yaegi).
type jwkDTO struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

type jwksDTO struct {
	Keys []jwkDTO `json:"keys"`
}

// Key families: which algorithms a key can verify.
const (
	familyRSA = "RSA"
	familyEC  = "EC"
	familyOKP = "OKP"
)

type publicKey struct {
	kid    string
	alg    string // optional: the key's declared algorithm
	family string
	crv    string // EC and OKP curve name
	key    any
}

type keySet struct {
	keys []publicKey
}

// parseJWKS parses a JWK set, keeping the signature keys it understands. It fails only when no usable key is left.
func parseJWKS(body []byte) (*keySet, error) {
	var doc jwksDTO
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("jwks: invalid JSON: %v", err)
	}
	ks := &keySet{}
	var firstErr error
	for i := 0; i < len(doc.Keys); i++ {
		k := doc.Keys[i]
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pk, err := parseJWK(k)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		ks.keys = append(ks.keys, pk)
	}
	if len(ks.keys) == 0 {
		if firstErr != nil {
			return nil, fmt.Errorf("jwks: no usable signing key: %v", firstErr)
		}
		return nil, errors.New("jwks: no usable signing key")
	}
	return ks, nil
}

func b64(field, v string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("jwk field %s: not base64url", field)
	}
	return b, nil
}

func parseJWK(k jwkDTO) (publicKey, error) {
	pk := publicKey{kid: k.Kid, alg: k.Alg, family: k.Kty, crv: k.Crv}
	var err error
	switch k.Kty {
	case familyRSA:
		pk.key, err = parseRSAJWK(k)
	case familyEC:
		pk.key, err = parseECJWK(k)
	case familyOKP:
		if k.Crv != "Ed25519" {
			return pk, fmt.Errorf("jwk %q: unsupported OKP curve %q", k.Kid, k.Crv)
		}
		var x []byte
		x, err = b64("x", k.X)
		if err == nil && len(x) != ed25519.PublicKeySize {
			err = errors.New("jwk: Ed25519 key has wrong size")
		}
		pk.key = ed25519.PublicKey(x)
	default:
		return pk, fmt.Errorf("jwk %q: unsupported kty %q", k.Kid, k.Kty)
	}
	return pk, err
}

func parseRSAJWK(k jwkDTO) (*rsa.PublicKey, error) {
	n, err := b64("n", k.N)
	if err != nil {
		return nil, err
	}
	e, err := b64("e", k.E)
	if err != nil {
		return nil, err
	}
	if len(e) > 4 {
		return nil, errors.New("jwk: RSA exponent too large")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if pub.N.BitLen() < 2048 {
		return nil, fmt.Errorf("jwk %q: RSA key of %d bits is too small (want >= 2048)", k.Kid, pub.N.BitLen())
	}
	return pub, nil
}

func parseECJWK(k jwkDTO) (*ecdsa.PublicKey, error) {
	var curve elliptic.Curve
	switch k.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return nil, fmt.Errorf("jwk %q: unsupported EC curve %q", k.Kid, k.Crv)
	}
	x, err := b64("x", k.X)
	if err != nil {
		return nil, err
	}
	y, err := b64("y", k.Y)
	if err != nil {
		return nil, err
	}
	pub := &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	if !curve.IsOnCurve(pub.X, pub.Y) {
		return nil, fmt.Errorf("jwk %q: point is not on curve %q", k.Kid, k.Crv)
	}
	return pub, nil
}

// algFamily tells which key family and curve an algorithm needs.
func algFamily(alg string) (family, crv string) {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return familyRSA, ""
	case "ES256":
		return familyEC, "P-256"
	case "ES384":
		return familyEC, "P-384"
	case "ES512":
		return familyEC, "P-521"
	case "EdDSA", "Ed25519":
		return familyOKP, "Ed25519"
	}
	return "", ""
}

// find returns the key for kid that can verify alg. Without a kid, the single key of the right type is used, and
// only when the set holds exactly one key.
func (ks *keySet) find(kid, alg string) (any, bool) {
	family, crv := algFamily(alg)
	if kid == "" {
		if len(ks.keys) != 1 {
			return nil, false
		}
		k := ks.keys[0]
		return k.key, keyFits(k, family, crv, alg)
	}
	for i := 0; i < len(ks.keys); i++ {
		k := ks.keys[i]
		if k.kid == kid && keyFits(k, family, crv, alg) {
			return k.key, true
		}
	}
	return nil, false
}

func keyFits(k publicKey, family, crv, alg string) bool {
	if k.family != family || (crv != "" && k.crv != crv) {
		return false
	}
	return k.alg == "" || k.alg == alg || (isEd25519(k.alg) && isEd25519(alg))
}
