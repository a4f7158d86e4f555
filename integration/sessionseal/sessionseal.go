// Package sessionseal opens and seals the plugin's cookies with the test's knowledge of the session secret, as the
// plugin's session.go does: AES-256-GCM under HMAC-SHA256(secret, "descopeoidc/v1/"+purpose), additional data
// "<purpose>|<issuer>|<clientID>", value base64url(nonce || ciphertext || tag). The adversarial tests forge login
// state with it; the benchmarks make many distinct valid sessions offline instead of by as many logins.
package sessionseal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// Sealer seals and opens the cookies of one purpose ("session", "state") for one issuer and client.
type Sealer struct {
	aead cipher.AEAD
	aad  []byte
}

// New returns the sealer of purpose's cookies of the middlewares with this session secret, issuer and client.
func New(secret, purpose, issuer, clientID string) *Sealer {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("descopeoidc/v1/" + purpose))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &Sealer{aead: gcm, aad: []byte(purpose + "|" + issuer + "|" + clientID)}
}

// Open returns the plaintext (JSON) of a cookie value.
func (s *Sealer) Open(value string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return nil, err
	}
	ns := s.aead.NonceSize()
	if len(raw) < ns+s.aead.Overhead() {
		return nil, errors.New("sessionseal: value too short")
	}
	return s.aead.Open(nil, raw[:ns], raw[ns:], s.aad)
}

// Seal returns a cookie value holding plaintext, under a fresh random nonce.
func (s *Sealer) Seal(plaintext []byte) string {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plaintext, s.aad))
}
