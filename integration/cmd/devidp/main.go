// Command devidp runs the Descope-like local OpenID provider for the demo.
package main

import (
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/devidp"
)

func main() {
	var (
		addr       = flag.String("addr", "127.0.0.1:9000", "listen address (a host name such as localhost:9000 for passkeys: browsers refuse an IP as WebAuthn RP ID)")
		project    = flag.String("project", devidp.DefaultProjectID, "project ID (client_id, last issuer path segment)")
		secret     = flag.String("secret", devidp.DefaultClientSecret, "client secret (Descope access key)")
		azp        = flag.Bool("azp", true, "put azp = project ID into ID and access tokens (Descope JWT template)")
		lifetime   = flag.Duration("token-lifetime", time.Hour, "lifetime of ID and access tokens")
		noRotate   = flag.Bool("no-refresh-rotation", false, "keep refresh tokens across refreshes")
		alg        = flag.String("alg", "RS256", "signing algorithm: RS256 or ES256")
		redirects  = flag.String("redirect", "", "comma-separated extra exact redirect URIs (loopback ones are always allowed)")
		postLogout = flag.String("post-logout", "", "comma-separated extra exact post_logout_redirect_uris")
		verbose    = flag.Bool("v", false, "log every OIDC request error and route")
	)
	flag.Parse()
	if !*verbose {
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	}
	srv, err := devidp.Start(devidp.Options{
		Addr:                   *addr,
		ProjectID:              *project,
		ClientSecret:           *secret,
		RedirectURIs:           splitList(*redirects),
		PostLogoutRedirectURIs: splitList(*postLogout),
		AllowLoopbackRedirects: true,
		AZPClaim:               *azp,
		IDTokenLifetime:        *lifetime,
		AccessTokenLifetime:    *lifetime,
		NoRefreshRotation:      *noRotate,
		SigningAlg:             *alg,
	})
	if err != nil {
		log.Fatal(err)
	}
	printBanner(srv, *azp, *lifetime)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	_ = srv.Close()
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func printBanner(srv *devidp.Server, azp bool, lifetime time.Duration) {
	fmt.Printf(`Descope-like dev OpenID provider
  issuer         %s
  discovery      %s/.well-known/openid-configuration
  client ID      %s
  client secret  %s
  azp claim      %v
  token lifetime %s
  login          %s / %s
Stop with Ctrl-C.
`, srv.Issuer(), srv.Issuer(), srv.ClientID(), srv.ClientSecret(), azp, lifetime,
		devidp.DemoUsername, devidp.DemoPassword)
}
