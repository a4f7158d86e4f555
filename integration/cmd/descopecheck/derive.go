package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"
)

// derived is what the plugin derives from projectID (descopeproject.go and config.go of the plugin; kept in step by
// TestDeriveMatchesPlugin): the issuer (regional host for IDs of 32+ characters, as Descope's go-sdk
// descope/api/client.go baseURLForProjectID), the client ID, the default scopes and the accepted issuers.
type derived struct {
	project, issuer, clientID string
	issuerSet                 bool
	scopes                    []string
	issuers                   []string
}

func derive(project, issuer, clientID string) derived {
	d := derived{project: project, issuer: issuer, clientID: clientID, issuerSet: issuer != ""}
	if d.issuer == "" {
		base := "https://api.descope.com/"
		if len(project) >= 32 {
			base = "https://api." + project[1:5] + ".descope.com/"
		}
		d.issuer = base + project
	}
	if d.clientID == "" {
		d.clientID = project
	}
	d.scopes = []string{"openid", "profile", "email", "roles", "descope.custom_claims", "offline_access"}
	d.issuers = []string{d.issuer, project}
	if u, err := url.Parse(d.issuer); err == nil && u.Host != "" {
		origin := u.Scheme + "://" + u.Host
		for _, iss := range []string{origin + "/" + project, origin + "/v1/apps/" + project} {
			if iss != d.issuer {
				d.issuers = append(d.issuers, iss)
			}
		}
	}
	return d
}

func (d derived) print(out io.Writer, accessKeySet bool) {
	fmt.Fprintln(out, "== What the plugin derives from projectID")
	how := "derived from the project ID"
	if d.issuerSet {
		how = "as configured (issuer: a custom domain or an app's issuer)"
	} else if len(d.project) >= 32 {
		how = "regional project (ID of 32+ characters: region " + d.project[1:5] + ")"
	}
	fmt.Fprintf(out, "issuer:          %s  (%s)\n", d.issuer, how)
	fmt.Fprintf(out, "clientID:        %s\n", d.clientID)
	fmt.Fprintf(out, "scopes:          %s  (default with projectID, as Descope's web SDK)\n", strings.Join(d.scopes, " "))
	fmt.Fprintf(out, "token issuers:   %s  (bearer tokens, the DS cookie, the access token as claims source)\n", strings.Join(d.issuers, " "))
	if accessKeySet {
		fmt.Fprintln(out, "clientSecret:    DESCOPE_ACCESS_KEY is set (not shown)")
	} else {
		fmt.Fprintln(out, "clientSecret:    DESCOPE_ACCESS_KEY is not set: the plugin needs the access key as clientSecret (or clientSecretFile)")
	}
}
