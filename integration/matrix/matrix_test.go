package matrix

import (
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/harness"
	"github.com/traefik-descope/descopeoidc/integration/providers"
)

// scenario is one row of the matrix. run returns a note when the provider's quirk changed what was asserted.
type scenario struct {
	name, title string
	run         func(t T, c *cell) (note string)
}

// scenarios run in this order in every cell. The outage comes first: it needs a plugin that has not fetched this
// provider's discovery document and keys yet (they are cached per issuer for the process).
var scenarios = []scenario{
	{"outage", "provider down then up: 503 + Retry-After, heals; sessions survive", scenarioOutage},
	{"login", "login: every authorize parameter, identity headers upstream", scenarioLogin},
	{"reuse", "session reuse: no provider traffic", scenarioReuse},
	{"refresh", "refresh near expiry, one grant for concurrent requests", scenarioRefresh},
	{"logout", "logout through end_session (or local)", scenarioLogout},
	{"bearer", "bearer: the provider's own access token", scenarioBearer},
	{"idtoken", "bearer: the provider's ID token is refused", scenarioIDTokenBearer},
	{"userinfo", "email and name headers (from userinfo where only it has them)", scenarioUserinfo},
}

// pending are the cells ("provider/scenario", both targets) that fail for want of one of those fixes. They run like
// every other cell, but as probes: their failure is written to the report with the reason, and does not fail the
// test. Once a fix has landed, its entries must go, so that the cells guard it (a passing probe says so in the log).
var pending = map[string]string{
	// Empty since the token-kinds and exact-issuer fixes (issue 9 item 1) landed; add "provider/scenario": reason.
}

// TestMatrix runs every scenario for every provider under Yaegi and compiled, a cell per provider and target, cells
// in parallel.
func TestMatrix(t *testing.T) {
	targets, err := harness.Targets()
	if err != nil {
		t.Fatal(err)
	}
	rep := newReport()
	t.Cleanup(func() { rep.write(t) })
	for _, name := range providers.Names() {
		for _, tg := range targets {
			name, tg := name, tg
			t.Run(name+"/"+tg.Name(), func(t *testing.T) {
				t.Parallel()
				c := newCell(t, name, tg)
				for _, sc := range scenarios {
					runScenario(t, c, sc, rep)
				}
			})
		}
	}
}

// runScenario runs one cell as a subtest; a pending cell runs as a probe, its outcome reported but not failed.
func runScenario(t *testing.T, c *cell, sc scenario, rep *report) {
	ran, ok, note, f := false, false, "", &first{}
	reason, isPending := pending[c.name+"/"+sc.name]
	passed := t.Run(sc.name, func(t *testing.T) {
		ran = true
		if !isPending {
			note = sc.run(realT{T: t, first: f}, c)
			return
		}
		if ok, note = probe(t, c, sc, f); ok {
			t.Logf("pending cell %s/%s passes now: remove it from pending (%s)", c.name, sc.name, reason)
		}
	})
	if !ran {
		return
	}
	o := outcome{ok: ok, note: note, fail: f.msg}
	switch {
	case !isPending:
		o.ok = passed
	case !ok:
		o.pending, o.fail = true, reason+"; here: "+f.msg
	default:
		o.note = strings.TrimPrefix(note+"; ", "; ") + "on the pending list (" + reason + ") but passed in this run"
	}
	rep.record(c.name, c.tg.Name(), sc.name, o)
}
