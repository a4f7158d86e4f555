// Command demo runs the whole setup on loopback: the real Traefik binary (bin/traefik) with the plugin loaded from
// this checkout (local plugin mode, examples/local/*.yml), an echo upstream, and the Descope-like local OpenID
// provider. With DESCOPE_PROJECT_ID and DESCOPE_ACCESS_KEY set it uses that real Descope project instead of the
// local provider. `make demo` runs it; stop it with Ctrl-C.
//
// Environment:
//
//	DESCOPE_PROJECT_ID, DESCOPE_ACCESS_KEY  both set: real Descope (no local provider); neither: local provider
//	OIDC_ISSUER       real Descope mode only: issuer override (custom domain); default derived by the plugin: https://api.descope.com/<id>, https://api.<region>.descope.com/<id> for a regional (32+ character) ID
//	SESSION_SECRET    cookie encryption secret (at least 32 bytes); default: random for each run
//	DEMO_PORT         Traefik's web entrypoint port, default 8000
//	DEMO_API_PORT     Traefik's API/dashboard entrypoint port, default 8080
//	DEMO_IDP_PORT     local provider port, default 9000 (served as http://localhost:PORT: passkeys need a host name)
//	DEMO_ECHO_PORT    echo upstream port, default 9001
//	TRAEFIK           the traefik binary to run (v3.6+); default: a traefik v3.6+ on PATH, else bin/traefik
//
// With -traefik-check it only says which Traefik it would run, and exits 10 when that is bin/traefik (so that
// `make demo` builds it first) and 0 for another one.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
	"github.com/traefik-descope/descopeoidc/integration/echo"
	"github.com/traefik-descope/descopeoidc/integration/harness"
	"github.com/traefik-descope/descopeoidc/integration/stack"
)

const logPrefix = "traefik | "

func main() {
	if len(os.Args) == 2 && os.Args[1] == "-traefik-check" {
		os.Exit(traefikCheck())
	}
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

// settings are the demo's choices, from the environment.
type settings struct {
	webAddr, apiAddr, idpAddr, echoAddr string
	webPort                             int
	projectID, accessKey, issuer        string // real Descope mode when projectID is set
	sessionSecret                       string
	secretGenerated                     bool
}

func (s *settings) descope() bool { return s.projectID != "" }

// publicURL is what a browser on this machine opens.
func (s *settings) publicURL(path string) string {
	return "http://localhost:" + strconv.Itoa(s.webPort) + path
}

func loadSettings() (*settings, error) {
	s := &settings{}
	ports := []struct {
		env  string
		def  int
		addr *string
	}{
		{"DEMO_PORT", 8000, &s.webAddr}, {"DEMO_API_PORT", 8080, &s.apiAddr},
		{"DEMO_IDP_PORT", 9000, &s.idpAddr}, {"DEMO_ECHO_PORT", 9001, &s.echoAddr},
	}
	seen := map[int]string{}
	for _, p := range ports {
		port := p.def
		if v := strings.TrimSpace(os.Getenv(p.env)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("%s=%q is not a port number", p.env, v)
			}
			port = n
		}
		if other, dup := seen[port]; dup {
			return nil, fmt.Errorf("%s and %s are both %d: every service needs its own port", other, p.env, port)
		}
		seen[port] = p.env
		*p.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if p.env == "DEMO_PORT" {
			s.webPort = port
		}
	}

	s.projectID = strings.TrimSpace(os.Getenv("DESCOPE_PROJECT_ID"))
	s.accessKey = strings.TrimSpace(os.Getenv("DESCOPE_ACCESS_KEY"))
	switch {
	case s.projectID != "" && s.accessKey == "":
		return nil, errors.New("DESCOPE_PROJECT_ID is set but DESCOPE_ACCESS_KEY is not: set both to use your Descope project, or neither to use the local demo provider")
	case s.projectID == "" && s.accessKey != "":
		return nil, errors.New("DESCOPE_ACCESS_KEY is set but DESCOPE_PROJECT_ID is not: set both to use your Descope project, or neither to use the local demo provider")
	}
	if s.descope() {
		// Empty: the plugin derives the issuer from the project ID (regional hosts included). A custom domain can be given explicitly.
		s.issuer = strings.TrimSpace(os.Getenv("OIDC_ISSUER"))
	}

	s.sessionSecret = os.Getenv("SESSION_SECRET")
	if s.sessionSecret == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		s.sessionSecret, s.secretGenerated = hex.EncodeToString(b), true
	} else if len(s.sessionSecret) < 32 {
		return nil, fmt.Errorf("SESSION_SECRET is %d bytes: the plugin needs at least 32 (or unset it for a random one)", len(s.sessionSecret))
	}
	return s, nil
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	started := time.Now()

	s, err := loadSettings()
	if err != nil {
		return err
	}
	checks := [][2]string{{s.webAddr, "Traefik web entrypoint (DEMO_PORT)"}, {s.apiAddr, "Traefik API entrypoint (DEMO_API_PORT)"}}
	if !s.descope() {
		checks = append(checks, [2]string{s.idpAddr, "local OpenID provider (DEMO_IDP_PORT)"})
	}
	checks = append(checks, [2]string{s.echoAddr, "echo upstream (DEMO_ECHO_PORT)"})
	for _, c := range checks {
		if err := stack.CheckFree(c[0], c[1]); err != nil {
			return err
		}
	}
	tc, err := chooseTraefik(defaultTraefikEnv())
	if err != nil {
		return err
	}
	if tc.Note != "" {
		fmt.Println(">> " + tc.Note)
	}
	if _, err := os.Stat(tc.Bin); err != nil && tc.Source == "bin/traefik" {
		fmt.Println(">> bin/traefik is missing: building Traefik v3.6.12 (several minutes the first time; `make traefik` does the same)")
		if _, err := stack.BuildTraefik(); err != nil {
			return err
		}
	}

	// Echo upstream.
	echoLn, err := net.Listen("tcp", s.echoAddr)
	if err != nil {
		return fmt.Errorf("echo upstream: %v", err)
	}
	echoSrv := &http.Server{Handler: echo.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = echoSrv.Serve(echoLn) }()
	defer shutdown(echoSrv)

	env := []string{"SESSION_SECRET=" + s.sessionSecret, "ECHO_URL=http://" + s.echoAddr}
	var idp *devidp.Server
	if s.descope() {
		env = append(env, "OIDC_ISSUER="+s.issuer, "DESCOPE_PROJECT_ID="+s.projectID, "DESCOPE_ACCESS_KEY="+s.accessKey)
	} else {
		// zitadel's provider logs every rejected request at info level through slog: keep the terminal for Traefik.
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
		// localhost, not 127.0.0.1: browsers refuse an IP address as WebAuthn relying party, and the login page
		// offers passkeys.
		_, port, _ := net.SplitHostPort(s.idpAddr)
		idp, err = devidp.Start(devidp.Options{Addr: net.JoinHostPort("localhost", port), AZPClaim: true})
		if err != nil {
			return fmt.Errorf("local OpenID provider: %v", err)
		}
		defer func() { _ = idp.Close() }()
		env = append(env, "OIDC_ISSUER="+idp.Issuer(), "DESCOPE_PROJECT_ID="+idp.ClientID(), "DESCOPE_ACCESS_KEY="+idp.ClientSecret())
	}

	runDir := filepath.Join(harness.RepoRoot(), ".run", "demo")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return err
	}
	dynamic, err := demoDynamic()
	if err != nil {
		return err
	}
	logs := newPrefixWriter(os.Stdout, logPrefix)
	logs.stripColour = !isTerminal(os.Stdout) // Traefik colours its console log whatever its output is
	defer logs.Flush()
	fmt.Printf(">> starting Traefik %s, plugin from this checkout, in %s\n", tc.describe(), relToRepo(runDir))
	fmt.Printf(">> live changes: edit %s (Traefik reloads it); it is a fresh copy of %s at every start\n",
		relToRepo(filepath.Join(runDir, "dynamic.yml")), "examples/local/dynamic.yml")
	tr, err := startTraefik(ctx, stack.Options{Bin: tc.Bin, Dir: runDir, WebAddr: s.webAddr, APIAddr: s.apiAddr, Env: env, LogTo: logs, Dynamic: dynamic})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println(">> stopping Traefik")
		if err := tr.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		}
		logs.Flush()
	}()

	if err := checkRoute(ctx, tr.WebURL, s, idp); err != nil {
		return err
	}
	printBanner(s, idp, tr, tc, time.Since(started))

	exited := make(chan error, 1)
	go func() { exited <- tr.Wait() }()
	select {
	case <-ctx.Done():
		fmt.Println("\n>> interrupted, shutting down")
		return nil
	case err := <-exited:
		return fmt.Errorf("traefik exited unexpectedly: %v", err)
	}
}

// demoDynamic is examples/local/dynamic.yml plus the demo's sign-out landing page: after the sign-out the browser
// goes to /signed-out (excluded from the login), where the echo service says "You are signed out" with a sign-in
// link, instead of landing on the login form again without a word.
func demoDynamic() ([]byte, error) {
	base, err := stack.ExampleDynamic()
	if err != nil {
		return nil, err
	}
	return stack.DeriveDynamic(base, "sessionSecret:",
		"postLogoutRedirectURL: "+echo.SignedOutPath+" # added by the demo: a page that says you are signed out",
		"excludedPaths: ["+echo.SignedOutPath+"]")
}

// startTraefik starts Traefik and waits until the router serves. When it does not (Traefik exited, or disabled the
// router because a middleware refused its configuration: the plugin's own error names the key), the error says so
// in a few seconds, quoting Traefik's reason, and where to fix it.
func startTraefik(ctx context.Context, o stack.Options) (*stack.Traefik, error) {
	tr, err := stack.StartContext(ctx, o)
	if err == nil {
		return tr, nil
	}
	// The error repeats Traefik's whole log, which was just streamed: keep its first part.
	msg, _, _ := strings.Cut(err.Error(), "\ntraefik log:")
	if strings.Contains(msg, "traefik disabled the router") {
		return nil, fmt.Errorf("%s\nFix the setting it names in examples/local/dynamic.yml (or the environment variable it comes from) and run make demo again", msg)
	}
	return nil, fmt.Errorf("%s (see the %q lines above)", msg, strings.TrimSpace(logPrefix))
}

// checkRoute makes sure the router and the middleware work before "ready" is printed: an anonymous browser
// navigation to / must be redirected (302) to the provider's authorization endpoint.
func checkRoute(ctx context.Context, webURL string, s *settings, idp *devidp.Server) error {
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	want := "the provider's authorization endpoint"
	if idp != nil {
		want = idp.URL() + devidp.PathAuthorize
	}
	var last string
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, webURL+"/", nil)
		req.Header.Set("Accept", "text/html")
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			_ = resp.Body.Close()
			loc := resp.Header.Get("Location")
			if resp.StatusCode == http.StatusFound && isProviderRedirect(loc, s, idp) {
				return nil
			}
			last = fmt.Sprintf("status %d, Location %q, body %q", resp.StatusCode, loc, strings.TrimSpace(string(body)))
			if resp.StatusCode == http.StatusServiceUnavailable && s.descope() {
				last += " (the plugin cannot reach Descope: check the network and DESCOPE_PROJECT_ID)"
			}
		} else {
			last = err.Error()
		}
		if ctx.Err() != nil {
			return errors.New("interrupted while checking the route")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET %s/ through Traefik should redirect to %s, got: %s\n(see the %q lines above)", webURL, want, last, strings.TrimSpace(logPrefix))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func isProviderRedirect(loc string, s *settings, idp *devidp.Server) bool {
	if idp != nil {
		return strings.HasPrefix(loc, idp.URL()+devidp.PathAuthorize+"?")
	}
	u, err := url.Parse(loc)
	return err == nil && u.IsAbs() && u.Query().Get("client_id") == s.projectID
}

func printBanner(s *settings, idp *devidp.Server, tr *stack.Traefik, tc traefikChoice, took time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n================ descopeoidc demo is ready (started in %.1fs) ================\n", took.Seconds())
	fmt.Fprintf(&b, "  Open           %s\n", s.publicURL("/echo"))
	if idp != nil {
		fmt.Fprintf(&b, "  Log in as      %s / %s, or sign up with a passkey (any email; the browser's\n", devidp.DemoUsername, devidp.DemoPassword)
		b.WriteString("                 passkey manager or security key), then sign out and sign in with it\n")
		fmt.Fprintf(&b, "  Provider       local Descope-like provider, issuer %s (project %s)\n", idp.Issuer(), idp.ClientID())
	} else {
		issuer := s.issuer
		if issuer == "" {
			issuer = descopeIssuer(s.projectID)
		}
		fmt.Fprintf(&b, "  Provider       Descope project %s, issuer %s\n", s.projectID, issuer)
		fmt.Fprintf(&b, "  Redirect URL   register %s with your Descope project\n", s.publicURL("/oauth2/callback"))
		fmt.Fprintf(&b, "                 (and allow %s as a post-logout redirect)\n", s.publicURL(echo.SignedOutPath))
		fmt.Fprintf(&b, "  azp claim      the plugin requires azp = %s in ID tokens. Descope adds it only through a JWT\n", s.projectID)
		b.WriteString("                 template: Descope console > Project Settings > JWT Templates > + JWT Template (User JWT),\n")
		fmt.Fprintf(&b, "                 custom claim \"azp\" with the value %s, then select that template for the project's\n", s.projectID)
		b.WriteString("                 user tokens. Without it sign-in ends with 401 and the log says \"azp claim missing\".\n")
	}
	fmt.Fprintf(&b, "  Log out        the echo page's Sign out button, or %s (then %s)\n", s.publicURL("/oauth2/logout"), s.publicURL(echo.SignedOutPath))
	fmt.Fprintf(&b, "  Echo upstream  http://%s (what the app behind Traefik sees: X-Forwarded-User, -Email, ...)\n", s.echoAddr)
	fmt.Fprintf(&b, "  Traefik        %s\n", tc.describe())
	fmt.Fprintf(&b, "  Traefik API    %s/api/http/routers\n", tr.APIURL)
	fmt.Fprintf(&b, "  Config         %s (from examples/local)\n", relToRepo(tr.Dir))
	fmt.Fprintf(&b, "  Live changes   edit %s: Traefik reloads it at once (a restart copies\n", relToRepo(filepath.Join(tr.Dir, "dynamic.yml")))
	b.WriteString("                 examples/local/dynamic.yml over it again)\n")
	if s.secretGenerated {
		b.WriteString("  Session secret random for this run (set SESSION_SECRET to keep sessions across restarts)\n")
	}
	b.WriteString("Traefik's log follows, prefixed with \"" + strings.TrimSpace(logPrefix) + "\". Stop with Ctrl-C.\n")
	b.WriteString("==============================================================================\n")
	fmt.Print(b.String())
}

// traefikCheck is `demo -traefik-check`: exit 10 when the demo would run bin/traefik, 0 for another binary, 1 when
// TRAEFIK is refused (with the reason). The demo itself then prints its choice.
func traefikCheck() int {
	tc, err := chooseTraefik(defaultTraefikEnv())
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		return 1
	}
	if tc.Source == "bin/traefik" {
		return 10
	}
	return 0
}

func relToRepo(p string) string {
	if r, err := filepath.Rel(harness.RepoRoot(), p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}

// prefixWriter writes complete lines to out, each with a prefix; with stripColour, without ANSI escape sequences.
type prefixWriter struct {
	mu          sync.Mutex
	out         io.Writer
	prefix      string
	buf         bytes.Buffer
	stripColour bool
}

// ansiEscape matches the CSI sequences (colours, cursor moves) of a console log.
var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;?]*[ -/]*[@-~]")

// isTerminal reports whether f is a character device (a terminal), not a pipe or a file.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newPrefixWriter(out io.Writer, prefix string) *prefixWriter {
	return &prefixWriter{out: out, prefix: prefix}
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadBytes('\n')
		if err != nil { // no complete line left: keep the rest for the next write
			rest := append([]byte(nil), line...)
			w.buf.Reset()
			w.buf.Write(rest)
			return len(p), nil
		}
		w.emit(line)
	}
}

// Flush writes a trailing partial line, if any.
func (w *prefixWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() > 0 {
		w.emit(append(w.buf.Bytes(), '\n'))
		w.buf.Reset()
	}
}

func (w *prefixWriter) emit(line []byte) {
	if w.stripColour {
		line = ansiEscape.ReplaceAll(line, nil)
	}
	_, _ = io.WriteString(w.out, w.prefix)
	_, _ = w.out.Write(line)
}

// descopeIssuer is the issuer the plugin derives from a project ID: a regional host for IDs of 32 characters or
// more, as Descope's go-sdk descope/api/client.go baseURLForProjectID (the plugin's descopeproject.go).
func descopeIssuer(projectID string) string {
	if len(projectID) >= 32 {
		return "https://api." + projectID[1:5] + ".descope.com/" + projectID
	}
	return "https://api.descope.com/" + projectID
}
