package matrix

import (
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

// runScenario runs one cell as a subtest and records its outcome for the report.
func runScenario(t *testing.T, c *cell, sc scenario, rep *report) {
	ran, note, f := false, "", &first{}
	passed := t.Run(sc.name, func(t *testing.T) {
		ran = true
		note = sc.run(realT{T: t, first: f}, c)
	})
	if !ran {
		return
	}
	rep.record(c.name, c.tg.Name(), sc.name, outcome{ok: passed, note: note, fail: f.msg})
}
