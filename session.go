package descopeoidc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Cookies hold AES-256-GCM sealed JSON. The key for each purpose ("session", "state") is
// HMAC-SHA256(secret, "descopeoidc/v1/"+purpose), and the GCM additional data is "<purpose>|<issuer>|<clientID>"
// (cookieAAD): a state cookie can never be replayed as a session cookie, and a cookie sealed by a middleware for
// another issuer or client opens nowhere else, even with the same sessionSecret.

const (
	maxCookieChunk = 3500 // bytes of value per cookie; browsers cap a cookie at ~4096 with its attributes
	stateTTL       = 10 * time.Minute
)

var (
	errNoCookie  = errors.New("no cookie")
	errBadCookie = errors.New("cookie does not decrypt with any configured session secret")
)

// cookieAAD binds a sealed cookie to its purpose, issuer and client. The issuer is the normalized one (no trailing
// slash), so both spellings of one configuration agree.
func cookieAAD(purpose, issuer, clientID string) string {
	return purpose + "|" + issuer + "|" + clientID
}

func newAEAD(secret, purpose string) (cipher.AEAD, error) {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("descopeoidc/v1/" + purpose))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func seal(aead cipher.AEAD, aad string, plaintext []byte) (string, error) {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := aead.Seal(nonce, nonce, plaintext, []byte(aad))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// open tries every key, the current one first, so that cookies sealed with a previous secret still work.
func open(aeads []cipher.AEAD, aad, value string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return nil, errBadCookie
	}
	for _, aead := range aeads {
		ns := aead.NonceSize()
		if len(raw) < ns+aead.Overhead() {
			return nil, errBadCookie
		}
		if pt, err := aead.Open(nil, raw[:ns], raw[ns:], []byte(aad)); err == nil {
			return pt, nil
		}
	}
	return nil, errBadCookie
}

// sessionData is what the session cookie holds: only what the plugin needs on any request, since the browser sends
// it with every one (README "Cookie budget"). Exported, tagged fields only: under Yaegi, encoding/json would also
// marshal unexported fields.
type sessionData struct {
	Claims map[string]any `json:"c"` // only those headers and rules read (claims.go)
	// IDToken is never sealed into the session cookie: the logout cookie carries it (hint.go). Cookies sealed before
	// may still hold one; logout uses it when there is no logout cookie.
	IDToken string `json:"i,omitempty"`
	// AccessToken is in the cookie only with forwardAccessToken, which sends it upstream on every request; else it
	// is needed only while a login or refresh collects the claims.
	AccessToken  string `json:"a,omitempty"`
	RefreshToken string `json:"r,omitempty"` // a refresh may be due on any path: it travels with every request
	Expiry       int64  `json:"e"`           // unix seconds: when the tokens expire
	Issued       int64  `json:"n,omitempty"` // unix seconds: when the tokens were obtained (their lifetime starts)
	Created      int64  `json:"t"`           // unix seconds: login time, for sessionMaxAge
	Seen         int64  `json:"s,omitempty"` // unix seconds: last activity, for sessionIdleTimeout
	ID           string `json:"d"`           // random per login, kept by refreshes: the session chain (chain.go)
	Gen          int64  `json:"g,omitempty"` // refreshes since login: a successor has a higher generation
	// Kept names the claims the session was collected for (the registry's union when it was sealed, claims.go): a
	// middleware that reads others has the session refreshed first. "" in cookies sealed before it existed.
	Kept string `json:"k,omitempty"`
	// A thin session (thinSession) is what the cache keeps of a session it can reopen from its cookie: no claims and
	// no tokens, only the subject and session ID that events and provider-initiated logouts match. Never sealed.
	Thin bool   `json:"-"`
	Sub  string `json:"-"`
	Sid  string `json:"-"`
}

// thinSession is d as the session cache keeps it when the entry's key is the cookie itself (sessionKey of a value up
// to maxRawKey): the chain, generation and times every request may read, the subject and session ID. The claims
// and the refresh and access tokens (a Descope refresh token alone is ~720 bytes) are read again from the cookie
// when a refresh, an idle re-issue or the session endpoint needs them (sessionManager.session): a cached session
// costs a third of the memory (TestEntryBytesEstimate) and the cookie stays the only copy of its tokens.
func thinSession(d *sessionData) *sessionData {
	t := &sessionData{Expiry: d.Expiry, Issued: d.Issued, Created: d.Created, Seen: d.Seen, ID: d.ID, Gen: d.Gen,
		Thin: true}
	t.Sub, _ = d.Claims["sub"].(string)
	t.Sid, _ = d.Claims["sid"].(string)
	return t
}

// sessionClaim is the string claim name ("sub" or "sid") of d, thin or not.
func sessionClaim(d *sessionData, name string) string {
	if !d.Thin {
		v, _ := d.Claims[name].(string)
		return v
	}
	if name == "sub" {
		return d.Sub
	}
	if name == "sid" {
		return d.Sid
	}
	return ""
}

// stateData is what a login-attempt cookie holds.
type stateData struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Target   string `json:"t"`
	Expiry   int64  `json:"e"`
	// The step-up rule of the middleware that started the login (any middleware may receive the callback): stepup.go
	StepUp  bool     `json:"u,omitempty"`
	NeedACR []string `json:"ua,omitempty"`
	NeedAMR []string `json:"um,omitempty"`
	NeedAge int64    `json:"ux,omitempty"`
	NeedSU  bool     `json:"us,omitempty"`
	Silent  bool     `json:"q,omitempty"` // sent with prompt=none (silentReauth): silent.go
	// AuthMaxAge is the authParams.max_age the login sent, as a time.Duration (1ns for max_age=0; 0 when none): the
	// callback requires auth_time that recent whichever middleware serves it (maxage.go)
	AuthMaxAge int64 `json:"ma,omitempty"`
}

// sealSession seals d into a session cookie value. What must not travel with every request is dropped from d
// first, in place, so that the session cached here is the one another replica opens from the cookie: the ID token
// (in the logout cookie, hint.go) and the access token unless forwardAccessToken.
func (sm *sessionManager) sealSession(d *sessionData) (string, error) {
	d.IDToken = ""
	if !sm.s.forwardAccessToken {
		d.AccessToken = ""
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	return seal(sm.s.sessionAEADs[0], sm.s.sessionAAD, b)
}

func (sm *sessionManager) openSession(value string) (*sessionData, error) {
	pt, err := open(sm.s.sessionAEADs, sm.s.sessionAAD, value)
	if err != nil {
		return nil, err
	}
	d := &sessionData{}
	if err := json.Unmarshal(pt, d); err != nil {
		return nil, errBadCookie
	}
	if d.Created == 0 || d.Expiry == 0 || d.ID == "" {
		return nil, errBadCookie
	}
	return d, nil
}

func (sm *sessionManager) newCookie(name, value, path string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     path,
		Domain:   sm.s.cookieDomain,
		MaxAge:   maxAge,
		Secure:   sm.s.cookieSecure,
		HttpOnly: true,
		SameSite: sm.s.sameSite,
	}
}

func (sm *sessionManager) chunkName(i int) string {
	return sm.chunkNames[i]
}

// readSessionCookie returns the sealed session value, reassembled from its chunks. A chunked value is stored as
// "<n>.<chunk0>" in the main cookie and the rest in <name>_1 … <name>_<n-1>; base64url never contains '.'.
func (sm *sessionManager) readSessionCookie(r *http.Request) (string, error) {
	return sm.pickSession(r.Cookies()) // of several cookies with the session's name, a good one: sessioncookies.go
}

// sessionValue is readSessionCookie on the request's parsed cookies (the hot path parses them once). Of several
// cookies with one name the first counts, as with r.Cookie.
func (sm *sessionManager) sessionValue(cookies []*http.Cookie) (string, error) {
	return chunkedValueAt(cookies, sm.chunkNames, 0)
}

func cookieValue(cookies []*http.Cookie, name string) (string, bool) {
	for _, c := range cookies {
		if c.Name == name {
			return c.Value, true
		}
	}
	return "", false
}

// writeSessionCookie sets the session, in chunks when needed, and expires chunks left over from a larger one.
func (sm *sessionManager) writeSessionCookie(w http.ResponseWriter, r *http.Request, value string) error {
	return sm.writeChunked(w, r, sm.chunkNames, sm.s.cookiePath, value)
}

// writeChunked sets value under names (a chunked value is "<n>.<chunk0>" in names[0] and the rest in names[1…n-1];
// base64url never contains '.'), on path, and expires the chunks from index n on that the browser sent.
func (sm *sessionManager) writeChunked(w http.ResponseWriter, r *http.Request, names []string, path, value string) error {
	n := (len(value) + maxCookieChunk - 1) / maxCookieChunk
	if n > len(names) {
		return errors.New("session is too large for " + strconv.Itoa(len(names)) + " cookies; forward fewer claims")
	}
	maxAge := int(sm.s.maxAge / time.Second)
	if n <= 1 {
		http.SetCookie(w, sm.newCookie(names[0], value, path, maxAge))
	} else {
		for i := 0; i < n; i++ {
			end := (i + 1) * maxCookieChunk
			if end > len(value) {
				end = len(value)
			}
			part := value[i*maxCookieChunk : end]
			if i == 0 {
				part = strconv.Itoa(n) + "." + part
			}
			http.SetCookie(w, sm.newCookie(names[i], part, path, maxAge))
		}
	}
	sm.expireChunked(w, r, names, path, n)
	return nil
}

// expireChunked deletes the chunk cookies of names from index `from` on that the browser sent.
func (sm *sessionManager) expireChunked(w http.ResponseWriter, r *http.Request, names []string, path string, from int) {
	if from < 1 {
		from = 1
	}
	for i := from; i < len(names); i++ {
		if _, err := r.Cookie(names[i]); err == nil {
			sm.expireCookie(w, names[i], path) // both Domain variants: sessioncookies.go
		}
	}
}

// clearSessionCookie deletes the session and every chunk.
func (sm *sessionManager) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	sm.expireCookie(w, sm.s.cookieName, sm.s.cookiePath) // both Domain variants: sessioncookies.go
	sm.expireChunked(w, r, sm.chunkNames, sm.s.cookiePath, 1)
}

// stateCookieName binds a login attempt to its own cookie, so that parallel logins in several tabs don't clash.
func (sm *sessionManager) stateCookieName(state string) string {
	if len(state) > 16 {
		state = state[:16]
	}
	return sm.s.statePrefix + state
}

// stateCookie is a login-state cookie: on the callback path, host-only (the callback is on the host the login
// started from), and always SameSite=Lax whatever cookieSameSite says, because the provider sends the browser back
// with a cross-site navigation, on which a Strict cookie is not sent.
func (sm *sessionManager) stateCookie(state, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: sm.stateCookieName(state), Value: value, Path: sm.s.callbackPath, MaxAge: maxAge,
		Secure: sm.s.cookieSecure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
}

// writeStateCookie sets the login-state cookie. It must fit in maxCookieBytes (browsers drop a larger one and the
// login fails): a return target too long for it is shortened to its path, then to "/".
func (sm *sessionManager) writeStateCookie(w http.ResponseWriter, d *stateData) error {
	target := d.Target
	for _, t := range []string{target, pathOnly(target), "/"} {
		sd := *d
		sd.Target = t
		c, err := sm.sealState(&sd)
		if err != nil {
			return err
		}
		if len(c.String()) <= maxCookieBytes {
			http.SetCookie(w, c)
			d.Target = t
			return nil
		}
	}
	return errors.New("login cookie too large even without a return target")
}

func pathOnly(target string) string {
	if i := strings.IndexByte(target, '?'); i >= 0 {
		return target[:i]
	}
	return target
}

// sealState encodes d compactly (no HTML escaping: JSON would write '&' as \u0026, six bytes) and seals it.
func (sm *sessionManager) sealState(d *stateData) (*http.Cookie, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	v, err := seal(sm.s.stateAEADs[0], sm.s.stateAAD, b)
	if err != nil {
		return nil, err
	}
	return sm.stateCookie(d.State, v, int(stateTTL/time.Second)), nil
}

func (sm *sessionManager) clearStateCookie(w http.ResponseWriter, state string) {
	http.SetCookie(w, sm.stateCookie(state, "", -1))
}

// readStateCookie returns the login attempt for state; it must match exactly and not be expired.
func (sm *sessionManager) readStateCookie(r *http.Request, state string, now time.Time) (*stateData, error) {
	c, err := r.Cookie(sm.stateCookieName(state))
	if err != nil {
		return nil, errors.New("no login cookie for this state (expired, other browser, or replayed callback)")
	}
	pt, err := open(sm.s.stateAEADs, sm.s.stateAAD, c.Value)
	if err != nil {
		return nil, err
	}
	d := &stateData{}
	if err := json.Unmarshal(pt, d); err != nil {
		return nil, errBadCookie
	}
	if !hmac.Equal([]byte(d.State), []byte(state)) {
		return nil, errors.New("state does not match the login cookie")
	}
	if now.Unix() > d.Expiry {
		return nil, errors.New("login attempt expired")
	}
	return d, nil
}

func randomString(nBytes int) (string, error) {
	b := make([]byte, nBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
