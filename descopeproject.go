package descopeoidc

import (
	"errors"
	"net/url"
	"strings"
)

// What the projectID shortcut derives, from the source of Descope's own SDKs (fetched 2026-12-07):
//
//   - The API host. go-sdk descope/api/client.go baseURLForProjectID: a project ID of 32 characters or more belongs
//     to a regional project whose API is https://api.<region>.descope.com, the region being characters 1 to 4 of the
//     ID (projectID[1:5], e.g. "euc1"); a shorter ID uses https://api.descope.com.
//   - The issuers of the project's tokens. node-sdk lib/helpers.ts issuerMatchesProject accepts the bare project ID
//     and any URL whose last (or, for MCP tokens, second to last) path segment is the project ID, on any host; go-sdk
//     descope/types.go reads the project from the issuer's last path segment. The plugin accepts exactly the forms
//     Descope issues, and only on the configured issuer's own host: the bare ID, https://<host>/<ProjectID> and
//     https://<host>/v1/apps/<ProjectID> (the issuer of Descope's OIDC and federated apps).

const (
	descopeAPIPrefix   = "https://api."
	descopeDomain      = "descope.com"
	regionalProjectLen = 32
)

// descopeBase is the API base URL (with a trailing slash) of projectID, derived as the SDKs do.
func descopeBase(projectID string) string {
	if len(projectID) >= regionalProjectLen {
		return descopeAPIPrefix + projectID[1:5] + "." + descopeDomain + "/"
	}
	return descopeBaseURL
}

// validProjectID refuses what cannot be a project ID: it ends up in URLs and compared with iss.
func validProjectID(id string) error {
	if strings.ContainsAny(id, "/?#:% \t") {
		return errors.New("not a Descope project ID (letters and digits, such as P2abc...)")
	}
	return nil
}

// projectIssuers are the iss values of projectID's tokens on the host of issuer (scheme and host as configured):
// the bare project ID, <origin>/<ProjectID> and <origin>/v1/apps/<ProjectID>. Nil without a project ID.
func projectIssuers(issuer, projectID string) []string {
	if projectID == "" {
		return nil
	}
	out := []string{projectID}
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return out
	}
	origin := u.Scheme + "://" + u.Host
	return append(out, origin+"/"+projectID, origin+"/v1/apps/"+projectID)
}

// appendNew appends the values of add that list does not hold yet.
func appendNew(list []string, add ...string) []string {
	for _, v := range add {
		if !contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}

// defaultScopes are the scopes asked for (after openid) when scopes is not set. With projectID they are those of
// Descope's own web SDK, descope-js packages/sdks/web-js-sdk/src/sdk/oidc/index.ts ("openid email roles
// descope.custom_claims offline_access"), plus profile for the name: roles puts roles and permissions in the
// tokens, descope.custom_claims the claims of the project's JWT template (the quick start's azp among them), and
// offline_access a refresh token (Descope's session token lives 10 minutes by default).
func defaultScopes(projectID string) []string {
	if projectID != "" {
		return []string{"profile", "email", "roles", "descope.custom_claims", "offline_access"}
	}
	return []string{"profile", "email"}
}
