package devidp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// softAuthenticator is a software passkey for the tests: one P-256 (ES256) discoverable credential, "none"
// attestation, user presence and verification always on. The browser test uses Chromium's virtual authenticator;
// this one lets the tests break single fields of an answer.
type softAuthenticator struct {
	t          *testing.T
	origin     string // what the client data claims; the provider's URL unless a test changes it
	key        *ecdsa.PrivateKey
	credID     []byte
	userHandle []byte
	counter    uint32
}

func newSoftAuthenticator(t *testing.T, origin string) *softAuthenticator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &softAuthenticator{t: t, origin: origin, key: key, credID: id}
}

// options is the part of the provider's creation or request options the authenticator needs.
type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"` // request options
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"` // creation options
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"publicKey"`
}

func (a *softAuthenticator) parse(raw []byte) options {
	a.t.Helper()
	var o options
	if err := json.Unmarshal(raw, &o); err != nil || o.PublicKey.Challenge == "" {
		a.t.Fatalf("not WebAuthn options (%v): %s", err, raw)
	}
	return o
}

func (a *softAuthenticator) clientData(typ, challenge string) []byte {
	cd, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.origin, "crossOrigin": false})
	return cd
}

func (a *softAuthenticator) authData(rpID string, attested []byte) []byte {
	rpHash := sha256.Sum256([]byte(rpID))
	flags := byte(0x01 | 0x04) // UP, UV
	if attested != nil {
		flags |= 0x40 // AT
	}
	out := append(rpHash[:], flags)
	out = binary.BigEndian.AppendUint32(out, a.counter)
	return append(out, attested...)
}

// create answers navigator.credentials.create with the provider's creation options.
func (a *softAuthenticator) create(raw []byte) json.RawMessage {
	a.t.Helper()
	o := a.parse(raw)
	handle, err := base64.RawURLEncoding.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		a.t.Fatalf("user.id %q: %v", o.PublicKey.User.ID, err)
	}
	a.userHandle = handle
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: 2, Algorithm: -7},
		Curve:         1, XCoord: a.key.X.FillBytes(make([]byte, 32)), YCoord: a.key.Y.FillBytes(make([]byte, 32)),
	})
	if err != nil {
		a.t.Fatal(err)
	}
	attested := append(make([]byte, 16), byte(len(a.credID)>>8), byte(len(a.credID)))
	attested = append(append(attested, a.credID...), cose...)
	attObj, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": a.authData(o.PublicKey.RP.ID, attested)})
	if err != nil {
		a.t.Fatal(err)
	}
	return a.credential(map[string]any{
		"clientDataJSON":    b64u(a.clientData("webauthn.create", o.PublicKey.Challenge)),
		"attestationObject": b64u(attObj),
		"transports":        []string{"internal"},
	})
}

// get answers navigator.credentials.get with the provider's request options (the counter goes up by one).
func (a *softAuthenticator) get(raw []byte) json.RawMessage {
	a.t.Helper()
	o := a.parse(raw)
	a.counter++
	authData := a.authData(o.PublicKey.RPID, nil)
	cd := a.clientData("webauthn.get", o.PublicKey.Challenge)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(authData, cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		a.t.Fatal(err)
	}
	return a.credential(map[string]any{
		"clientDataJSON":    b64u(cd),
		"authenticatorData": b64u(authData),
		"signature":         b64u(sig),
		"userHandle":        b64u(a.userHandle),
	})
}

func (a *softAuthenticator) credential(response map[string]any) json.RawMessage {
	out, _ := json.Marshal(map[string]any{
		"id": b64u(a.credID), "rawId": b64u(a.credID), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{}, "response": response,
	})
	return out
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
