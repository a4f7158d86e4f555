package scenarios

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// sessionCookieBudget is the README's cookie budget (section "Cookie budget"): what the plugin's cookies weigh on a
// request outside the logout path, before the claims the configured headers and rules read.
const sessionCookieBudget = 1536

// bigUser is the demo user with ~6.5 KB of extra authorization claims (roles, permissions), in the ID token, the
// access token and userinfo alike.
func bigUser() devidp.User {
	u := devidp.DemoUser()
	for i := 0; i < 110; i++ {
		u.Roles = append(u.Roles, fmt.Sprintf("role-%03d-for-a-large-organisation", i))
		u.Permissions = append(u.Permissions, fmt.Sprintf("perm-%03d.read.write", i))
	}
	return u
}

// cookieBytes is what the browser sends in the Cookie header for path (name=value pairs joined by "; "), and the
// number of cookies.
func (b *browser) cookieBytes(path string) (int, int) {
	u, _ := url.Parse(b.env.srv.URL + path)
	var pairs []string
	for _, c := range b.HTTP.Jar.Cookies(u) {
		pairs = append(pairs, c.Name+"="+c.Value)
	}
	return len(strings.Join(pairs, "; ")), len(pairs)
}

// logoutHint logs out and returns the id_token_hint sent to the provider.
func (b *browser) logoutHint() string {
	b.t.Helper()
	r := b.Do(http.MethodPost, "/oauth2/logout", map[string]string{"Origin": b.env.srv.URL})
	end, err := url.Parse(r.Location())
	if r.Status != http.StatusSeeOther || err != nil {
		b.t.Fatalf("logout: status %d Location %q", r.Status, r.Location())
	}
	return end.Query().Get("id_token_hint")
}

// jwtPayload decodes a JWT's claims (no verification: the provider issued it to this test).
func jwtPayload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	out := map[string]any{}
	if err != nil || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("JWT payload does not decode: %v", err)
	}
	return out
}

// TestCookieBudget: however large the provider's tokens (an 8 KB ID token here), the cookies a browser sends with
// every request stay within the budget; the ID token travels only to the logout path, where logout still sends it
// as id_token_hint. Refresh keeps working from the small cookie.
func TestCookieBudget(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := startIDP(t, devidp.Options{AZPClaim: true, Users: []devidp.User{bigUser()}})
		cfg := merge(baseConfig(idp), map[string]any{
			"forwardHeaders": map[string]any{"X-Forwarded-User": "sub", "X-Forwarded-Email": "email"},
		})
		e := newEnv(t, tg, idp, cfg)
		b := e.browser()
		if er := b.mustLogin("/"); er.Headers["X-Forwarded-User"] != devidp.DemoSubject || er.Headers["X-Forwarded-Email"] != devidp.DemoUsername {
			t.Fatalf("upstream identity %q %q", er.Headers["X-Forwarded-User"], er.Headers["X-Forwarded-Email"])
		}
		n, count := b.cookieBytes("/app/page")
		if n > sessionCookieBudget || count != 1 {
			t.Fatalf("Cookie header outside the logout path: %d bytes in %d cookies, want one cookie within %d", n, count, sessionCookieBudget)
		}
		t.Logf("Cookie header: %d bytes outside the logout path", n)
		if ln, _ := b.cookieBytes("/oauth2/logout"); ln < 8000 {
			t.Fatalf("Cookie header on the logout path: %d bytes, want the session and the ~8 KB ID token", ln)
		}
		hint := b.logoutHint()
		if claims := jwtPayload(t, hint); len(hint) < 6000 || claims["sub"] != devidp.DemoSubject {
			t.Fatalf("id_token_hint %d bytes, sub %v; want the large ID token of the user", len(hint), claims["sub"])
		}
	})
}

// TestCookieBudgetWithLargeHeaders: a header that forwards a large claim needs it in the session: the session grows
// by that claim alone (4/3 of its JSON, the sealing's base64), chunked over several cookies, and the header reaches
// upstream whole.
func TestCookieBudgetWithLargeHeaders(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		u := bigUser()
		idp := startIDP(t, devidp.Options{AZPClaim: true, Users: []devidp.User{u}})
		cfg := merge(baseConfig(idp), map[string]any{
			"forwardHeaders": map[string]any{"X-Forwarded-User": "sub", "X-Forwarded-Permissions": "permissions"},
		})
		e := newEnv(t, tg, idp, cfg)
		b := e.browser()
		er := b.mustLogin("/")
		want, _ := json.Marshal(u.Permissions)
		if got := er.Headers["X-Forwarded-Permissions"]; got != strings.Join(u.Permissions, ",") && got != string(want) {
			t.Fatalf("X-Forwarded-Permissions %d bytes, want the %d permissions", len(got), len(u.Permissions))
		}
		n, count := b.cookieBytes("/")
		t.Logf("Cookie header: %d bytes in %d cookies, for %d bytes of forwarded claim", n, count, len(want))
		if limit := sessionCookieBudget + len(want)*4/3; n > limit || count < 2 {
			t.Fatalf("Cookie header: %d bytes in %d cookies, want chunks within %d (budget + 4/3 of %d bytes of claim)", n, count, limit, len(want))
		}
	})
}
