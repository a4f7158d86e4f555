// Command descopecheck checks a Descope project against what the descopeoidc plugin expects, before a user
// configures it: it derives what the plugin derives from projectID, fetches the project's discovery document and
// JWKS, prints the issuer, algorithms and endpoints, and, given a token on stdin (a session token, an ID token),
// decodes it (never printing its signature, and no secret at all) and says which plugin keys to set and why.
//
//	make descope-check DESCOPE_PROJECT_ID=P2abc... [DESCOPE_ACCESS_KEY=...] [OIDC_ISSUER=https://auth.example.com/P2abc...]
//	pbpaste | make descope-check DESCOPE_PROJECT_ID=P2abc...        # with a token copied from the browser
//
// The access key (the plugin's clientSecret) is read from DESCOPE_ACCESS_KEY, never from a flag, and never
// printed: the check says only whether it is set.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "descopecheck:", err)
		os.Exit(1)
	}
}

// run is the whole check: flags, the project's documents, then the token from stdin when -token is set.
func run(args []string, stdin io.Reader, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("descopecheck", flag.ContinueOnError)
	project := fs.String("project", getenv("DESCOPE_PROJECT_ID"), "Descope project ID (default $DESCOPE_PROJECT_ID)")
	issuer := fs.String("issuer", getenv("OIDC_ISSUER"), "issuer, for a custom domain (default: derived from the project ID)")
	clientID := fs.String("client-id", "", "client ID of a Descope OIDC or inbound app (default: the project ID)")
	token := fs.Bool("token", false, "read a token (session token, ID token) from stdin and explain it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *project == "" {
		return errors.New("set DESCOPE_PROJECT_ID (or -project)")
	}
	d := derive(*project, *issuer, *clientID)
	d.print(out, getenv("DESCOPE_ACCESS_KEY") != "")
	docs, err := fetchDocs(d.issuer)
	if err != nil {
		return err
	}
	docs.print(out, d)
	if !*token {
		fmt.Fprintln(out, "\n(no token checked: paste a session token or ID token on stdin with -token)")
		return nil
	}
	raw, err := bufio.NewReader(io.LimitReader(stdin, 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if strings.TrimSpace(raw) == "" {
		fmt.Fprintln(out, "\n(no token on stdin)")
		return nil
	}
	return explainToken(out, strings.TrimSpace(raw), d, docs)
}
