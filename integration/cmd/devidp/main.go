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

	"github.com/traefik-descope/descopeoidc/integration/devidp"
)

func main() {
	var (
		addr       = flag.String("addr", "127.0.0.1:9000", "listen address (a host name such as localhost:9000 for passkeys: browsers refuse an IP as WebAuthn RP ID)")
		project    = flag.String("project", devidp.DefaultProjectID, "project ID (client_id, last issuer path segment)")
		secret     = flag.String("secret", devidp.DefaultClientSecret, "client secret (Descope access key)")
		azp        = flag.Bool("azp", true, "put azp = project ID into ID and access tokens (Descope JWT template)")
		lifetime   = flag.Duration("token-lifetime", 0, "lifetime of ID and access tokens (default 1h; 10m for access tokens with -profile descope-strict)")
		noRotate   = flag.Bool("no-refresh-rotation", false, "keep refresh tokens across refreshes")
		alg        = flag.String("alg", "RS256", "signing algorithm: RS256 or ES256")
		redirects  = flag.String("redirect", "", "comma-separated extra exact redirect URIs (loopback ones are always allowed)")
		postLogout = flag.String("post-logout", "", "comma-separated extra exact post_logout_redirect_uris")
		verbose    = flag.Bool("v", false, "log every OIDC request error and route")
		profile    = flag.String("profile", "", "descope-strict: every Descope mode of issue 19 (bare-ID session issuer, no aud, tenantOnly, an app client ID with two audiences, JWT refresh tokens, error envelope, 10-minute session tokens unless -token-lifetime)")
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
		Profile:                *profile,
	})
	if err != nil {
		log.Fatal(err)
	}
	printBanner(srv)
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

func printBanner(srv *devidp.Server) {
	o := srv.Options()
	fmt.Printf(`Descope-like dev OpenID provider
  issuer         %s
  discovery      %s/.well-known/openid-configuration
  client ID      %s
  client secret  %s
  azp claim      %v
  token lifetime %s (ID), %s (access)
  profile        %q
  login          %s / %s
Stop with Ctrl-C.
`, srv.Issuer(), srv.Issuer(), srv.ClientID(), srv.ClientSecret(), o.AZPClaim, o.IDTokenLifetime, o.AccessTokenLifetime, o.Profile,
		devidp.DemoUsername, devidp.DemoPassword)
}
