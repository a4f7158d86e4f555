package adversarial

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/harness"
)

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestHugeCookieHeaderCost (issue 18 item 2): a Cookie header of ~1 MiB (under Traefik's default 1 MiB header limit)
// of pairs named like the plugin's chunks, sent to an excluded path (no session needed), costs the process well under
// a second of CPU under Traefik's Yaegi loader too (it cost 14 s when each removed pair copied the rest of the line),
// and no plugin cookie reaches upstream.
func TestHugeCookieHeaderCost(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		h, up := build(t, tg, baseConfig(idp, map[string]any{"excludedPaths": []string{"/public"}}))
		serve(t, h, appRequest(http.MethodGet, "/public/warm", http.Header{"Cookie": {"a=1; " + cookieName + "_1=x; b=2"}}))
		for name, pair := range map[string]string{"own chunks": cookieName + "_1=x; ", "look-alikes": "x" + cookieName + "=1; ",
			"own after others": "k=v; " + cookieName + "_2=; "} {
			line := "a=1; " + strings.Repeat(pair, (1<<20-64)/len(pair))
			r := appRequest(http.MethodGet, "/public/x", nil)
			r.Header["Cookie"] = []string{line}
			cpu0, t0 := processCPU(), time.Now()
			resp := serve(t, h, r)
			cpu, wall := processCPU()-cpu0, time.Since(t0)
			t.Logf("%s: %d-byte Cookie line: %v CPU, %v wall", name, len(line), cpu, wall)
			if resp.Status != http.StatusOK || cpu > time.Second {
				t.Errorf("%s: %s, %v of CPU for one request", name, resp, cpu)
			}
			for _, c := range (&http.Request{Header: up.lastHeader()}).Cookies() {
				if strings.HasPrefix(c.Name, cookieName) {
					t.Fatalf("%s: plugin cookie %q reached upstream", name, c.Name)
				}
			}
		}
	})
}
