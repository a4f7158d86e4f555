package devidp

import (
	"bytes"
	"errors"
	"net"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// ceremonyTimeout bounds a passkey ceremony, from the options to the authenticator's answer.
const ceremonyTimeout = 5 * time.Minute

// passkeys are the users' WebAuthn credentials (in memory) and the ceremonies in progress, at most one per auth
// request. The relying party ID is the provider's host name; the user handle of a passkey is the user's subject.
type passkeys struct {
	wa *webauthn.WebAuthn // nil when the host is an IP address, which browsers refuse as RP ID

	mu         sync.Mutex
	creds      map[string][]webauthn.Credential // by subject
	ceremonies map[string]ceremony              // by auth request ID
}

// ceremony is a WebAuthn ceremony started for an auth request.
type ceremony struct {
	signUp  bool
	session webauthn.SessionData
	user    User // sign-up: the account the new passkey is for
	isNew   bool // sign-up: the account is created with its passkey
}

// newPasskeys sets up WebAuthn for the origin base (http://host:port). Passkeys are discoverable (resident), so
// that sign-in needs no username.
func newPasskeys(base, displayName string) (*passkeys, error) {
	p := &passkeys{creds: map[string][]webauthn.Credential{}, ceremonies: map[string]ceremony{}}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if net.ParseIP(u.Hostname()) != nil {
		return p, nil
	}
	timeout := webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTimeout, TimeoutUVD: ceremonyTimeout}
	p.wa, err = webauthn.New(&webauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: displayName,
		RPOrigins:     []string{base},
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
	return p, err
}

func (p *passkeys) available() bool { return p.wa != nil }

// passkeyUser is the WebAuthn view of a user: its subject is the user handle.
type passkeyUser struct {
	u     User
	creds []webauthn.Credential
}

func (p passkeyUser) WebAuthnID() []byte                         { return []byte(p.u.Subject) }
func (p passkeyUser) WebAuthnName() string                       { return p.u.Username }
func (p passkeyUser) WebAuthnCredentials() []webauthn.Credential { return p.creds }
func (p passkeyUser) WebAuthnDisplayName() string {
	if p.u.Name != "" {
		return p.u.Name
	}
	return p.u.Username
}

func (p *passkeys) userLocked(u User) passkeyUser {
	return passkeyUser{u: u, creds: slices.Clone(p.creds[u.Subject])}
}

// count is the number of passkeys of the user subject.
func (p *passkeys) count(subject string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.creds[subject])
}

// beginRegistration starts the sign-up ceremony of auth request id for u (isNew: the account does not exist yet).
func (p *passkeys) beginRegistration(id string, u User, isNew bool) (*protocol.CredentialCreation, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pu := p.userLocked(u)
	creation, session, err := p.wa.BeginRegistration(pu,
		webauthn.WithExclusions(webauthn.Credentials(pu.creds).CredentialDescriptors()))
	if err != nil {
		return nil, err
	}
	p.startLocked(id, ceremony{signUp: true, session: *session, user: u, isNew: isNew})
	return creation, nil
}

// finishRegistration checks the authenticator's answer to the sign-up ceremony of auth request id and stores the
// new passkey. create is called for a new account before the passkey is stored; its error aborts the sign-up.
func (p *passkeys) finishRegistration(id string, answer []byte, create func(User) error) (User, error) {
	parsed, err := protocol.ParseCredentialCreationResponseBytes(answer)
	if err != nil {
		return User{}, badPasskey("the passkey could not be read", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := p.takeLocked(id, true)
	if err != nil {
		return User{}, err
	}
	cred, err := p.wa.CreateCredential(p.userLocked(c.user), c.session, parsed)
	if err != nil {
		return User{}, badPasskey("the passkey was not accepted", err)
	}
	for _, creds := range p.creds {
		for _, other := range creds {
			if bytes.Equal(other.ID, cred.ID) {
				return User{}, badPasskey("this passkey is registered already", nil)
			}
		}
	}
	if c.isNew {
		if err := create(c.user); err != nil {
			return User{}, badPasskey("the account could not be created", err)
		}
	}
	p.creds[c.user.Subject] = append(p.creds[c.user.Subject], *cred)
	return c.user, nil
}

// beginLogin starts the sign-in ceremony of auth request id: any passkey of this provider may answer.
func (p *passkeys) beginLogin(id string) (*protocol.CredentialAssertion, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	assertion, session, err := p.wa.BeginDiscoverableLogin()
	if err != nil {
		return nil, err
	}
	p.startLocked(id, ceremony{session: *session})
	return assertion, nil
}

// finishLogin checks the authenticator's answer to the sign-in ceremony of auth request id and returns the user
// whose passkey signed it; lookup finds a user by subject (the passkey's user handle).
func (p *passkeys) finishLogin(id string, answer []byte, lookup func(string) (*User, bool)) (User, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(answer)
	if err != nil {
		return User{}, badPasskey("the passkey answer could not be read", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := p.takeLocked(id, false)
	if err != nil {
		return User{}, err
	}
	byHandle := func(_, userHandle []byte) (webauthn.User, error) {
		u, ok := lookup(string(userHandle))
		if !ok || len(p.creds[u.Subject]) == 0 {
			return nil, errors.New("no account has this passkey")
		}
		return p.userLocked(*u), nil
	}
	wu, cred, err := p.wa.ValidatePasskeyLogin(byHandle, c.session, parsed)
	if err != nil {
		return User{}, badPasskey("the passkey was not accepted", err)
	}
	u := wu.(passkeyUser).u
	creds := p.creds[u.Subject]
	for i := range creds {
		if bytes.Equal(creds[i].ID, cred.ID) {
			creds[i] = *cred // the new signature counter
		}
	}
	if cred.Authenticator.CloneWarning {
		return User{}, badPasskey("the passkey's signature counter went backwards (a cloned authenticator?)", nil)
	}
	return u, nil
}

// startLocked records the ceremony of auth request id (replacing an earlier one) and forgets expired ones.
func (p *passkeys) startLocked(id string, c ceremony) {
	now := time.Now()
	for other, old := range p.ceremonies {
		if now.After(old.session.Expires) {
			delete(p.ceremonies, other)
		}
	}
	p.ceremonies[id] = c
}

// takeLocked removes and returns the ceremony of auth request id: every ceremony gets one answer.
func (p *passkeys) takeLocked(id string, signUp bool) (ceremony, error) {
	c, ok := p.ceremonies[id]
	delete(p.ceremonies, id)
	if !ok || c.signUp != signUp {
		return ceremony{}, badPasskey("no passkey ceremony is in progress for this login: start again", nil)
	}
	return c, nil
}

// passkeyError is a failed ceremony: msg is shown on the login page, err is the library's reason.
type passkeyError struct {
	msg string
	err error
}

func badPasskey(msg string, err error) error { return &passkeyError{msg: msg, err: err} }

func (e *passkeyError) Error() string {
	if e.err == nil {
		return e.msg
	}
	return e.msg + ": " + e.err.Error()
}

func (e *passkeyError) Unwrap() error { return e.err }
