package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

// TestUnknownKeyDisablesMiddleware (issue 18 item 3), in the real traefik binary: examples/local with
// `requiredRole: admin` (singular) added. Before, the middleware loaded without the role check and every signed-in
// user got through; now New fails, Traefik disables the router that uses it (nothing reaches the upstream) and its
// log and API name the key and the closest known one.
func TestUnknownKeyDisablesMiddleware(t *testing.T) {
	idp := startIDP(t, devidp.Options{})
	up := startEcho(t)
	base, err := stack.ExampleDynamic()
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := stack.DeriveDynamic(base, "sessionSecret:", "requiredRole: admin")
	if err != nil {
		t.Fatal(err)
	}
	// a router without the middleware tells when Traefik has applied the configuration
	if dyn, err = stack.DeriveDynamic(dyn, "routers:", "  plain:", "    rule: \"PathPrefix(`/plain`)\"",
		"    entryPoints: [web]", "    service: echo"); err != nil {
		t.Fatal(err)
	}
	tr := startTraefik(t, idp, up, stack.Options{Dynamic: dyn, ReadyRouter: "plain@file"})
	const want = "requiredRole: unknown key (did you mean `requiredRoles`?)"
	var router struct {
		Status string   `json:"status"`
		Errors []string `json:"error"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(tr.APIURL + "/api/http/routers/echo@file"); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_ = json.Unmarshal(body, &router)
		}
		if router.Status == "disabled" && strings.Contains(tr.Logs(), want) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if router.Status != "disabled" || !strings.Contains(strings.Join(router.Errors, " "), "requiredRole") {
		t.Errorf("router echo@file: status %q errors %q, want disabled naming requiredRole", router.Status, router.Errors)
	}
	if !strings.Contains(tr.Logs(), want) {
		t.Errorf("traefik's log does not contain %q", want)
	}
	for _, line := range strings.Split(tr.Logs(), "\n") {
		if strings.Contains(line, "requiredRole") {
			t.Logf("traefik: %s", line)
			break
		}
	}
	resp, err := http.Get(tr.WebURL + "/app")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if up.hits.Load() != 0 || resp.StatusCode == http.StatusOK {
		t.Errorf("GET /app: status %d, upstream hits %d; want neither a pass nor the upstream", resp.StatusCode, up.hits.Load())
	}
}
