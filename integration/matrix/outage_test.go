package matrix

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// scenarioOutage: with the provider down before the plugin ever reached it, a new login and a bearer request get
// 503 with Retry-After (never a 500 or a redirect loop); once it is up, the plugin heals by itself within its
// backoff and logins work. Then, during a second outage, a signed-in browser keeps being served and a login in
// flight (its callback needs the token endpoint) gets 503 with Retry-After.
func scenarioOutage(t T, c *cell) string {
	var token string
	if c.caps.JWTAccessTokens {
		token = c.clientTokens(t).AccessToken // the provider is up: the client gets its token before the outage
		if _, idLike := payload(token)["nonce"]; idLike {
			token = "" // refused as a bearer token before the keys are needed (see scenarioBearer)
		}
	}
	c.use(t, c.bearerConfig())
	gate := c.p.Gate()
	b := c.browser(t)
	gate.Down()
	defer func() { gate.Up(); _ = awaitHeal(b) }() // also when failing: the next scenario needs a healed plugin
	wantUnavailable(t, b.navigate("/during-outage"), "new login while the provider is down")
	if token != "" {
		wantUnavailable(t, b.Do(http.MethodGet, "/api", map[string]string{"Authorization": "Bearer " + token}), "bearer request while the provider is down")
	}
	gate.Up()
	if err := awaitHeal(b); err != nil {
		t.Fatal(err)
	}
	b.wantUser(b.mustLogin("/healed"), "login after the outage")
	inFlight := c.browser(t)
	callback := inFlight.authenticate(inFlight.startLogin("/in-flight"))
	gate.Down()
	b.wantUser(b.Echo("/still-signed-in", nil), "signed-in browser during an outage")
	wantUnavailable(t, inFlight.Get(callback), "callback while the token endpoint is down")
	return ""
}

// awaitHeal waits until a new login is redirected to the provider again (the plugin retries within its backoff,
// at most 10 s).
func awaitHeal(b *browser) error {
	start := time.Now()
	for {
		r := b.navigate("/healed")
		if r.Status == http.StatusFound && strings.HasPrefix(r.Location(), b.e.disc.AuthorizationEndpoint+"?") {
			return nil
		}
		if r.Status != http.StatusServiceUnavailable || time.Since(start) > 12*time.Second {
			return fmt.Errorf("%s after the provider came back: status %d Location %q, want a login redirect within the plugin's backoff",
				time.Since(start).Round(time.Millisecond), r.Status, r.Location())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func wantUnavailable(t T, r response, what string) {
	t.Helper()
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if r.Status != http.StatusServiceUnavailable || err != nil || ra < 1 || ra > 11 {
		t.Fatalf("%s: status %d Retry-After %q, want 503 with Retry-After 1..11 s (body %q)", what, r.Status, r.Header.Get("Retry-After"), snippet(r.Body))
	}
}
