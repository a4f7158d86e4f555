package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
)

// The peer row: oauth2-proxy v7 (go install github.com/oauth2-proxy/oauth2-proxy/v7@v7.15.6) as Traefik forwardAuth
// in front of the same upstream, with the same provider, cookie sessions, and request logging off like Traefik's.
// bench/dynamic.yml has its routers (/peer/ with the forwardAuth middleware, /oauth2/ to oauth2-proxy for the login);
// BENCH_OAUTH2_PROXY is its address, reserved before Traefik starts.

// oauth2ProxyBinary finds the binary: BENCH_PEER as a path, else PATH, else $(go env GOPATH)/bin.
func oauth2ProxyBinary(setting string) (string, error) {
	switch setting {
	case "off", "no", "0", "false":
		return "", errors.New("BENCH_PEER=off")
	case "", "auto", "on", "1", "true":
	default:
		return setting, nil
	}
	if p, err := exec.LookPath("oauth2-proxy"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		out, _ := exec.Command("go", "env", "GOPATH").Output()
		gopath = strings.TrimSpace(string(out))
	}
	p := filepath.Join(gopath, "bin", "oauth2-proxy")
	if _, err := os.Stat(p); err != nil {
		return "", errors.New("oauth2-proxy not found (go install github.com/oauth2-proxy/oauth2-proxy/v7@v7.15.6, or BENCH_PEER=<path>)")
	}
	return p, nil
}

// startPeer starts oauth2-proxy on b.peerAddr, logs the demo user in through Traefik's /oauth2/start and adds the row.
func (b *bench) startPeer(users []devidp.User) error {
	if !b.wanted("peer") {
		return errors.New("not selected (BENCH_ROWS)")
	}
	bin, err := oauth2ProxyBinary(b.s.peer)
	if err != nil {
		return err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	cmd := exec.Command(bin,
		"--http-address="+b.peerAddr,
		"--provider=oidc",
		"--oidc-issuer-url="+b.idp.Issuer(),
		"--client-id="+b.idp.ClientID(),
		"--client-secret="+b.idp.ClientSecret(),
		"--cookie-secret="+base64.RawURLEncoding.EncodeToString(secret)[:32],
		"--cookie-secure=false",
		"--cookie-name=_oauth2_proxy",
		"--email-domain=*",
		"--redirect-url="+b.main.WebURL+"/oauth2/callback",
		"--reverse-proxy=true",
		"--set-xauthrequest=true",
		"--upstream=static://202",
		"--skip-provider-button=true",
		"--code-challenge-method=S256",
		"--scope=openid email profile offline_access",
		"--request-logging=false",
		"--auth-logging=false",
		"--standard-logging=false",
	)
	logs := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	b.stops = append(b.stops, func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})
	if err := waitHTTP("http://"+b.peerAddr+"/ping", 30*time.Second); err != nil {
		return fmt.Errorf("oauth2-proxy did not start: %v\n%s", err, logs.String())
	}
	if err := waitRouter(b.main, "peer@file", "", 10*time.Second); err != nil {
		return err
	}
	demo := users[0]
	br := newBrowser(b.main.WebURL, b.idp)
	resp, err := br.c.Get(b.main.WebURL + "/oauth2/start?rd=%2Fpeer%2F")
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), b.idp.URL()) {
		return fmt.Errorf("oauth2-proxy /oauth2/start: status %d Location %q\n%s", resp.StatusCode, resp.Header.Get("Location"), logs.String())
	}
	cb, err := b.idp.Login(br.c, resp.Header.Get("Location"), demo.Username, demo.Password)
	if err != nil {
		return fmt.Errorf("oauth2-proxy login: %v", err)
	}
	if resp, err = br.c.Get(cb); err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return fmt.Errorf("oauth2-proxy callback: status %d\n%s", resp.StatusCode, logs.String())
	}
	hdr, size := br.cookieHeaderNamed("/peer/", "_oauth2_proxy")
	r := &row{name: "peer", path: "/peer/", what: "oauth2-proxy v7.15.6 (forwardAuth), session cookie " + sizeText(size, ""), size: size,
		headers: []string{"Cookie: " + hdr}, peerPID: cmd.Process.Pid,
		expect: expectation{user: demo.Subject, nameLen: -1, cookies: true, header: "X-Auth-Request-User"}}
	if err := b.check(r); err != nil {
		// oauth2-proxy's user may be another claim than sub: take what it sends, if it is the demo user's email.
		if !strings.Contains(err.Error(), demo.Email) {
			return err
		}
		r.expect.user = demo.Email
		if err := b.check(r); err != nil {
			return err
		}
	}
	b.rows = append(b.rows, r)
	b.logf("row %-18s %s", r.name, r.what)
	return nil
}

func waitHTTP(u string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(u)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %v", u, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
