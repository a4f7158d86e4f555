package adversarial

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/badidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestSessionBoundToIssuerAndClient: two middlewares share one sessionSecret but trust different issuers (or the same
// issuer with another client ID). A session cookie from one must not authenticate at the other, and a login started
// at one cannot be finished at the other with its login cookie.
func TestSessionBoundToIssuerAndClient(t *testing.T) {
	o := newOutcomes(t)
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idpA, idpB := newIdP(t), newIdP(t)
		hA, upA := build(t, tg, baseConfig(idpA, nil))
		hB, upB := build(t, tg, baseConfig(idpB, nil))
		// same issuer as A, another client: the provider would refuse its code exchange, but the cookie must already fail
		hC, upC := build(t, tg, baseConfig(idpA, map[string]any{"clientID": "another-client"}))
		b := newBrowser(t, hA)
		b.mustLogin(idpA, "/app")
		if r := b.get("/app"); r.Status != http.StatusOK || upA.count() != 1 {
			t.Fatalf("control: A's own session at A: %s", r)
		}
		cookies := b.cookieHeader("/app")
		for _, other := range []struct {
			name string
			h    http.Handler
			up   *upstream
			idp  *badidp.Server
		}{{"other issuer", hB, upB, idpB}, {"other client", hC, upC, idpA}} {
			r := serve(t, other.h, withCookie(navigation(), cookies))
			if r.Status != http.StatusFound || !strings.HasPrefix(r.location(), other.idp.Issuer()+"/authorize?") || other.up.count() != 0 {
				t.Errorf("%s: A's session cookie gives %s (Location %q), upstream %d; want a login redirect",
					other.name, r, r.location(), other.up.count())
			}
			if !r.sessionCleared() {
				t.Errorf("%s: the foreign session cookie is not cleared", other.name)
			}
			o.record(tg.Name(), "session at "+other.name, fmt.Sprintf("status=%d upstream=%d", r.Status, other.up.count()))
		}

		// a login started at A, its callback (with A's login cookie) delivered to B: B cannot read the cookie
		pending := newBrowser(t, hA)
		cb := pending.mustReachCallback(idpA, "/app")
		login := pending.cookieHeader("/oauth2/callback")
		r := callbackWithCookie(t, hB, cb, login)
		expectRejected(t, r, upB, idpA, cb, http.StatusBadRequest)
		if ok := callbackWithCookie(t, hA, cb, login); ok.Status != http.StatusFound || !ok.sessionSet() {
			t.Errorf("control: the same callback at A: %s", ok)
		}
		o.record(tg.Name(), "login cookie at other issuer", fmt.Sprintf("status=%d", r.Status))
	})
}
