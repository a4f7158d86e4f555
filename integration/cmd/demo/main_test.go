package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/echo"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

func TestPrefixWriterStripsColour(t *testing.T) {
	line := "\x1b[90m2026-12-07T05:00:00Z\x1b[0m \x1b[31mERR\x1b[0m plugin error\n"
	var plain, coloured bytes.Buffer
	w := newPrefixWriter(&plain, "traefik | ")
	w.stripColour = true
	_, _ = w.Write([]byte(line))
	if got := plain.String(); got != "traefik | 2026-12-07T05:00:00Z ERR plugin error\n" {
		t.Errorf("not a terminal: %q", got)
	}
	w = newPrefixWriter(&coloured, "traefik | ")
	_, _ = w.Write([]byte(line))
	if got := coloured.String(); got != "traefik | "+line {
		t.Errorf("terminal: %q, want the line as Traefik wrote it", got)
	}
}

func TestDemoDynamicSignedOutPage(t *testing.T) {
	dyn, err := demoDynamic()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"postLogoutRedirectURL: " + echo.SignedOutPath, "excludedPaths: [" + echo.SignedOutPath + "]", "X-Forwarded-Amr: amr"} {
		if !strings.Contains(string(dyn), want) {
			t.Errorf("the demo's dynamic.yml has no %q:\n%s", want, dyn)
		}
	}
}

// TestDemoFailsFastOnRefusedConfiguration: a configuration the plugin refuses (a sessionSecret shorter than 32
// bytes) makes Traefik disable the router. The demo stops within seconds (not at its 60-second readiness timeout),
// quoting the plugin's own error, which names the key, and says where to fix it. Real Traefik binary.
func TestDemoFailsFastOnRefusedConfiguration(t *testing.T) {
	if _, err := stack.BuildTraefik(); err != nil {
		t.Fatalf("traefik binary: %v", err)
	}
	dyn, err := demoDynamic()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	start := time.Now()
	tr, err := startTraefik(context.Background(), stack.Options{
		WebAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", Dir: t.TempDir(), Dynamic: dyn, LogTo: &logs,
		Env: []string{"OIDC_ISSUER=http://localhost:9", "DESCOPE_PROJECT_ID=P2demo", "DESCOPE_ACCESS_KEY=k",
			"SESSION_SECRET=too-short", "ECHO_URL=http://127.0.0.1:9"},
	})
	took := time.Since(start)
	if err == nil {
		_ = tr.Stop()
		t.Fatal("Traefik started with a 9-byte sessionSecret")
	}
	msg := err.Error()
	t.Logf("after %v: %s", took.Round(time.Millisecond), msg)
	for _, want := range []string{"traefik disabled the router echo@file", "sessionSecret", "examples/local/dynamic.yml"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "traefik log:") {
		t.Errorf("the error repeats Traefik's log, which the demo streams already: %q", msg)
	}
	if took > 30*time.Second {
		t.Errorf("the demo took %v to give up, want seconds (the readiness timeout is 60 s)", took)
	}
}
