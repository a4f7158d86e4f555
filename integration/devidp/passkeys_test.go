package devidp

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// passkeyEnv is a provider on localhost (passkeys need a host name) and one login in progress.
type passkeyEnv struct {
	t   *testing.T
	s   *Server
	p   authParams
	id  string // the auth request ID of the login page
	hdr map[string]string
}

func newPasskeyEnv(t *testing.T) *passkeyEnv {
	t.Helper()
	s := StartForTest(t, Options{Addr: "localhost:0", AZPClaim: true})
	e := &passkeyEnv{t: t, s: s}
	e.restart()
	return e
}

// restart begins a new authorization and opens its login page.
func (e *passkeyEnv) restart() {
	e.t.Helper()
	e.p = newAuthParams()
	resp, err := noRedirect.Get(e.p.authorizeURL(e.s))
	if err != nil {
		e.t.Fatal(err)
	}
	_ = resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Path != PathLogin || loc.Query().Get("authRequestID") == "" {
		e.t.Fatalf("authorize: %s Location %v, want the login page", resp.Status, loc)
	}
	e.id = loc.Query().Get("authRequestID")
}

// call posts a passkey request as the login page's script does and returns the status and the raw JSON answer.
func (e *passkeyEnv) call(path string, req passkeyRequest) (int, []byte) {
	e.t.Helper()
	if req.ID == "" {
		req.ID = e.id
	}
	body, _ := json.Marshal(req)
	r, _ := http.NewRequest(http.MethodPost, e.s.URL()+path, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Origin", e.s.URL())
	for k, v := range e.hdr {
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (e *passkeyEnv) mustCall(path string, req passkeyRequest) []byte {
	e.t.Helper()
	status, out := e.call(path, req)
	if status != http.StatusOK {
		e.t.Fatalf("POST %s: %d %s, want 200", path, status, out)
	}
	return out
}

// expectError asserts a 400 whose message contains want.
func (e *passkeyEnv) expectError(path string, req passkeyRequest, want string) {
	e.t.Helper()
	status, out := e.call(path, req)
	var got struct{ Error string }
	_ = json.Unmarshal(out, &got)
	if status != http.StatusBadRequest || !strings.Contains(got.Error, want) {
		e.t.Fatalf("POST %s: %d %s, want 400 with an error containing %q", path, status, out, want)
	}
}

func (e *passkeyEnv) signUp(a *softAuthenticator, email, name, password string) []byte {
	e.t.Helper()
	opts := e.mustCall(PathPasskeySignUpBegin, passkeyRequest{Email: email, Name: name, Password: password})
	return e.mustCall(PathPasskeySignUpFinish, passkeyRequest{Credential: a.create(opts)})
}

func (e *passkeyEnv) signIn(a *softAuthenticator) []byte {
	e.t.Helper()
	opts := e.mustCall(PathPasskeySignInBegin, passkeyRequest{})
	return e.mustCall(PathPasskeySignInFinish, passkeyRequest{Credential: a.get(opts)})
}

// tokens follows the finish answer's redirect (the provider's callback) to the relying party's code, exchanges it
// and returns the ID token's claims.
func (e *passkeyEnv) tokens(finish []byte) map[string]any {
	e.t.Helper()
	var done struct{ Redirect string }
	if err := json.Unmarshal(finish, &done); err != nil || !strings.HasPrefix(done.Redirect, e.s.URL()+PathAuthorize+"/callback?") {
		e.t.Fatalf("finish answered %s, want a redirect to the authorization callback", finish)
	}
	resp, err := noRedirect.Get(done.Redirect)
	if err != nil {
		e.t.Fatal(err)
	}
	_ = resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != e.p.state {
		e.t.Fatalf("callback: %s Location %v, want the redirect URI with code and state", resp.Status, loc)
	}
	tr := exchangeCode(e.t, e.s, e.p, loc.Query().Get("code"), false)
	_, claims := verifyJWT(e.t, e.s, tr.IDToken)
	return claims
}

func TestPasskeySignUpThenSignIn(t *testing.T) {
	e := newPasskeyEnv(t)
	a := newSoftAuthenticator(t, e.s.URL())
	up := e.tokens(e.signUp(a, "ada@example.com", "Ada Lovelace", ""))
	sub, _ := up["sub"].(string)
	if !strings.HasPrefix(sub, "U2") || sub == DemoSubject || up["email"] != "ada@example.com" || up["name"] != "Ada Lovelace" {
		t.Fatalf("after sign-up: sub %q email %v name %v, want a new U2... user with the typed email and name", sub, up["email"], up["name"])
	}
	if amr := strs(up["amr"]); !slices.Equal(amr, []string{"webauthn"}) {
		t.Errorf("after sign-up: amr %q, want [webauthn]", amr)
	}
	if roles := strs(up["roles"]); !slices.Equal(roles, []string{"viewer"}) || up["dct"] != DemoTenant {
		t.Errorf("new account: roles %q dct %v, want [viewer] and %s", roles, up["dct"], DemoTenant)
	}

	e.restart()
	in := e.tokens(e.signIn(a))
	if in["sub"] != sub || !slices.Equal(strs(in["amr"]), []string{"webauthn"}) {
		t.Errorf("after sign-in: sub %v amr %v, want %s and [webauthn]", in["sub"], in["amr"], sub)
	}
	if n := e.s.Passkeys("ada@example.com"); n != 1 {
		t.Errorf("Passkeys(ada@example.com) = %d, want 1", n)
	}
	st := e.s.Stats()
	if st.PasskeySignUps != 1 || st.PasskeySignIns != 1 || st.FailedPasskeys != 0 || st.LoginAttempts != 0 {
		t.Errorf("stats: %d sign-ups, %d sign-ins, %d failures, %d password logins; want 1, 1, 0, 0",
			st.PasskeySignUps, st.PasskeySignIns, st.FailedPasskeys, st.LoginAttempts)
	}

	// An account made with a passkey has no password: the password form must not let anyone in with an empty one.
	e.restart()
	if err := e.s.storage.checkLogin(e.id, "ada@example.com", "", amrPassword); err == nil {
		t.Errorf("password login with an empty password succeeded for a passkey-only account")
	}
	e.expectError(PathPasskeySignUpBegin, passkeyRequest{Email: "ada@example.com"}, "an account with this email exists")
}

// An existing account gets a passkey only with its password; sign-in with it is then that account.
func TestPasskeyForExistingAccount(t *testing.T) {
	e := newPasskeyEnv(t)
	a := newSoftAuthenticator(t, e.s.URL())
	e.expectError(PathPasskeySignUpBegin, passkeyRequest{Email: DemoUsername, Password: "wrong"}, "enter its password")
	e.expectError(PathPasskeySignUpBegin, passkeyRequest{Email: DemoUsername}, "enter its password")
	c := e.tokens(e.signUp(a, DemoUsername, "", DemoPassword))
	if c["sub"] != DemoSubject || c["name"] != DemoUser().Name {
		t.Fatalf("sub %v name %v, want the demo user %s", c["sub"], c["name"], DemoSubject)
	}
	e.restart()
	if c := e.tokens(e.signIn(a)); c["sub"] != DemoSubject {
		t.Errorf("sign-in: sub %v, want %s", c["sub"], DemoSubject)
	}
	if n := e.s.Passkeys(DemoUsername); n != 1 {
		t.Errorf("Passkeys(demo) = %d, want 1", n)
	}
	// The same authenticator cannot be registered twice.
	e.restart()
	opts := e.mustCall(PathPasskeySignUpBegin, passkeyRequest{Email: DemoUsername, Password: DemoPassword})
	var o struct {
		PublicKey struct {
			Exclude []struct{ ID string } `json:"excludeCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts, &o); err != nil || len(o.PublicKey.Exclude) != 1 || o.PublicKey.Exclude[0].ID != b64u(a.credID) {
		t.Errorf("creation options exclude %+v, want the registered passkey", o.PublicKey.Exclude)
	}
	e.expectError(PathPasskeySignUpFinish, passkeyRequest{Credential: a.create(opts)}, "registered already")
}

func TestPasskeyRejections(t *testing.T) {
	e := newPasskeyEnv(t)
	a := newSoftAuthenticator(t, e.s.URL())
	e.signUp(a, "grace@example.com", "Grace", "")

	t.Run("answer without ceremony", func(t *testing.T) {
		e.restart()
		e.expectError(PathPasskeySignInFinish, passkeyRequest{Credential: a.get([]byte(`{"publicKey":{"challenge":"AAAA","rpId":"localhost"}}`))}, "no passkey ceremony")
	})
	t.Run("answer replayed", func(t *testing.T) {
		e.restart()
		opts := e.mustCall(PathPasskeySignInBegin, passkeyRequest{})
		answer := a.get(opts)
		e.mustCall(PathPasskeySignInFinish, passkeyRequest{Credential: answer})
		e.expectError(PathPasskeySignInFinish, passkeyRequest{Credential: answer}, "no passkey ceremony")
	})
	t.Run("other origin", func(t *testing.T) {
		e.restart()
		evil := *a
		evil.origin = "http://localhost:1"
		opts := e.mustCall(PathPasskeySignInBegin, passkeyRequest{})
		e.expectError(PathPasskeySignInFinish, passkeyRequest{Credential: evil.get(opts)}, "not accepted")
	})
	t.Run("unknown passkey", func(t *testing.T) {
		e.restart()
		stranger := newSoftAuthenticator(t, e.s.URL())
		stranger.userHandle = a.userHandle // claims the user, signs with another key
		opts := e.mustCall(PathPasskeySignInBegin, passkeyRequest{})
		e.expectError(PathPasskeySignInFinish, passkeyRequest{Credential: stranger.get(opts)}, "not accepted")
	})
	t.Run("wrong key for the credential", func(t *testing.T) {
		e.restart()
		forged := newSoftAuthenticator(t, e.s.URL())
		forged.credID, forged.userHandle, forged.counter = a.credID, a.userHandle, a.counter+10
		opts := e.mustCall(PathPasskeySignInBegin, passkeyRequest{})
		e.expectError(PathPasskeySignInFinish, passkeyRequest{Credential: forged.get(opts)}, "not accepted")
	})
	t.Run("counter went backwards", func(t *testing.T) {
		e.restart()
		clone := *a
		clone.counter = 0 // get() makes it 1, below the counter the provider has seen
		opts := e.mustCall(PathPasskeySignInBegin, passkeyRequest{})
		e.expectError(PathPasskeySignInFinish, passkeyRequest{Credential: clone.get(opts)}, "counter went backwards")
	})
	t.Run("malformed answer", func(t *testing.T) {
		e.restart()
		e.mustCall(PathPasskeySignInBegin, passkeyRequest{})
		e.expectError(PathPasskeySignInFinish, passkeyRequest{Credential: json.RawMessage(`{"id":"x"}`)}, "could not be read")
	})
	t.Run("unknown login request", func(t *testing.T) {
		e.expectError(PathPasskeySignInBegin, passkeyRequest{ID: "nope"}, "unknown or expired")
		e.expectError(PathPasskeySignUpBegin, passkeyRequest{ID: "nope", Email: "x@example.com"}, "unknown or expired")
	})
	t.Run("bad sign-up fields", func(t *testing.T) {
		for _, email := range []string{"", "no-at", "a@b@c", "a b@example.com", "@example.com"} {
			e.expectError(PathPasskeySignUpBegin, passkeyRequest{Email: email}, "enter your email")
		}
	})
	if st := e.s.Stats(); st.PasskeySignIns != 1 || st.FailedPasskeys < 8 {
		t.Errorf("stats: %d sign-ins, %d failures; want 1 (the replayed answer's first use) and at least 8", st.PasskeySignIns, st.FailedPasskeys)
	}
}

// Only same-origin JSON calls are served: a cross-site form cannot start or finish a ceremony.
func TestPasskeyCallsAreSameOrigin(t *testing.T) {
	e := newPasskeyEnv(t)
	e.hdr = map[string]string{"Origin": "http://evil.example"}
	if status, _ := e.call(PathPasskeySignInBegin, passkeyRequest{}); status != http.StatusForbidden {
		t.Errorf("cross-origin call: %d, want 403", status)
	}
	e.hdr = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	if status, _ := e.call(PathPasskeySignInBegin, passkeyRequest{}); status != http.StatusForbidden {
		t.Errorf("form-encoded call: %d, want 403", status)
	}
}

// Browsers refuse an IP address as relying party ID: on 127.0.0.1 the page says so and the endpoints answer 404;
// on localhost the page offers passkeys and serves its script.
func TestPasskeysNeedAHostName(t *testing.T) {
	for _, c := range []struct {
		addr      string
		available bool
	}{{"127.0.0.1:0", false}, {"localhost:0", true}} {
		s := StartForTest(t, Options{Addr: c.addr})
		if s.PasskeysAvailable() != c.available {
			t.Errorf("%s: PasskeysAvailable %v, want %v", c.addr, s.PasskeysAvailable(), c.available)
		}
		p := newAuthParams()
		resp, err := newBrowser(t).Get(p.authorizeURL(s))
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		offered := strings.Contains(string(page), `id="passkey-signin"`) && strings.Contains(string(page), `<script src="`+PathPasskeyScript+`"`)
		if offered != c.available || strings.Contains(string(page), `id="passkeys-unavailable"`) == c.available {
			t.Errorf("%s: login page offers passkeys %v, want %v:\n%s", c.addr, offered, c.available, page)
		}
		e := &passkeyEnv{t: t, s: s, id: "x"}
		if status, _ := e.call(PathPasskeySignInBegin, passkeyRequest{}); (status == http.StatusNotFound) == c.available {
			t.Errorf("%s: sign-in begin answered %d", c.addr, status)
		}
		js, err := http.Get(s.URL() + PathPasskeyScript)
		if err != nil {
			t.Fatal(err)
		}
		_ = js.Body.Close()
		if js.StatusCode != http.StatusOK || !strings.HasPrefix(js.Header.Get("Content-Type"), "text/javascript") {
			t.Errorf("%s: GET %s: %s %s", c.addr, PathPasskeyScript, js.Status, js.Header.Get("Content-Type"))
		}
	}
}

// Ceremonies left unanswered do not pile up: starting one forgets those past their timeout.
func TestPasskeyCeremoniesExpire(t *testing.T) {
	p, err := newPasskeys("http://localhost:9", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.beginLogin("old"); err != nil {
		t.Fatal(err)
	}
	c := p.ceremonies["old"]
	if left := time.Until(c.session.Expires); left < ceremonyTimeout-time.Minute || left > ceremonyTimeout {
		t.Fatalf("a new ceremony expires in %s, want about %s", left, ceremonyTimeout)
	}
	c.session.Expires = time.Now().Add(-time.Second)
	p.ceremonies["old"] = c
	if _, err := p.beginLogin("new"); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.ceremonies["old"]; ok || len(p.ceremonies) != 1 {
		t.Errorf("ceremonies %v: want only the new one", slices.Collect(maps.Keys(p.ceremonies)))
	}
}
