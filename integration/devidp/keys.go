package devidp

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"sync"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// signingKey is one private key; it implements op.SigningKey and, through
// publicKey, op.Key.
type signingKey struct {
	id  string
	alg jose.SignatureAlgorithm
	key crypto.Signer
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return p.k.alg }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return p.k.key.Public() }

// keyRing holds the current signing key and every key published in the JWKS.
type keyRing struct {
	mu      sync.Mutex
	alg     jose.SignatureAlgorithm
	current *signingKey
	all     []*signingKey
}

func newKeyRing(alg string) (*keyRing, error) {
	r := &keyRing{alg: jose.SignatureAlgorithm(alg)}
	if _, err := r.rotate(); err != nil {
		return nil, err
	}
	return r, nil
}

// rotate makes a new key current and keeps the old ones published.
func (r *keyRing) rotate() (string, error) {
	var (
		key crypto.Signer
		err error
	)
	if r.alg == jose.ES256 {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		return "", err
	}
	k := &signingKey{id: "K" + rand.Text(), alg: r.alg, key: key}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.current = k
	r.all = append(r.all, k)
	return k.id, nil
}

func (r *keyRing) signing() *signingKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current
}

func (r *keyRing) keySet() []op.Key {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]op.Key, 0, len(r.all))
	for _, k := range r.all {
		keys = append(keys, publicKey{k})
	}
	return keys
}

// verified returns the payload of a JWT issued by this ring and the key that signed it. Only our own, freshly signed
// tokens get here: verified anyway.
func (r *keyRing) verified(token string) ([]byte, *signingKey, error) {
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{r.alg})
	if err != nil {
		return nil, nil, err
	}
	key := r.byID(jws.Signatures[0].Header.KeyID)
	if key == nil {
		return nil, nil, errors.New("unknown signing key")
	}
	payload, err := jws.Verify(key.key.Public())
	return payload, key, err
}

// resignWithout removes the claims from a JWT issued by this ring and signs
// it again with the same key. The other claims are kept byte for byte.
func (r *keyRing) resignWithout(token string, claims ...string) (string, error) {
	payload, key, err := r.verified(token)
	if err != nil {
		return "", err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return "", err
	}
	for _, c := range claims {
		delete(m, c)
	}
	if payload, err = json.Marshal(m); err != nil {
		return "", err
	}
	return sign(key, payload)
}

// sign is payload signed with key, as a compact JWS.
func sign(key *signingKey, payload []byte) (string, error) {
	signer, err := op.SignerFromKey(key)
	if err != nil {
		return "", err
	}
	signed, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return signed.CompactSerialize()
}

func (r *keyRing) byID(kid string) *signingKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range r.all {
		if k.id == kid {
			return k
		}
	}
	return nil
}

// resignWith decodes a JWT issued by this ring, lets edit change its claims and signs it again with the same key.
func (r *keyRing) resignWith(token string, edit func(map[string]any)) (string, error) {
	payload, key, err := r.verified(token)
	if err != nil {
		return "", err
	}
	m := map[string]any{}
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber() // exp, iat and auth_time stay integers
	if err := d.Decode(&m); err != nil {
		return "", err
	}
	edit(m)
	if payload, err = json.Marshal(m); err != nil {
		return "", err
	}
	return sign(key, payload)
}
