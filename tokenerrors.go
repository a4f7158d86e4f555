package descopeoidc

import (
	"errors"
	"fmt"
	"net/http"
)

// How the token endpoint says no. A refresh the provider refuses for good ends the session (a new login), whatever
// words it uses; an outage keeps it (503 with Retry-After, refresh.go) until refreshOutageLimit:
//   - refused: RFC 6749's invalid_grant (errInvalidGrant), any other RFC 6749 error code of the client's request
//     (invalid_request, unauthorized_client, unsupported_grant_type, invalid_scope, ...), Descope's own error envelope
//     ({"errorCode":"E…","errorDescription":…,"errorMessage":…}, seen with 400 and 404), and any other 4xx (a bare
//     401 or 403) (errTokenRefused);
//   - outage: 5xx, 429 and 408, the error codes temporarily_unavailable and server_error (errProviderUnavailable),
//     and invalid_client: the client's own credentials, a configuration fault that refusing every user's session
//     would not mend (a plain error, retried like an outage);
//   - connection errors and timeouts are outages (tokenRequest).

// errTokenRefused marks a definite refusal of a grant other than invalid_grant.
var errTokenRefused = errors.New("token request refused")

// tokenOutage reports a status that says the provider cannot answer now.
func tokenOutage(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout
}

// tokenError classifies an answer of the token endpoint that is not a token response: doc is its JSON body (nil
// when it is not JSON). It returns nil when doc holds no error and status is 200.
func tokenError(status int, doc map[string]any) error {
	code, _ := doc["error"].(string)
	desc, _ := doc["error_description"].(string)
	switch code {
	case "":
	case "invalid_grant":
		return fmt.Errorf("token endpoint: %w: %q", errInvalidGrant, truncate(desc, 200))
	case "invalid_client":
		return fmt.Errorf("token endpoint: status %d, error %q: %q", status, code, truncate(desc, 200))
	case "temporarily_unavailable", "server_error":
		return fmt.Errorf("%w: token endpoint: status %d, error %q", errProviderUnavailable, status, code)
	default:
		return fmt.Errorf("token endpoint: %w: status %d, error %q: %q", errTokenRefused, status, truncate(code, 64), truncate(desc, 200))
	}
	if dc, _ := doc["errorCode"].(string); dc != "" && status != http.StatusOK { // Descope's error envelope
		dd, _ := doc["errorDescription"].(string)
		return fmt.Errorf("token endpoint: %w: status %d, Descope error %q: %q", errTokenRefused, status, truncate(dc, 32), truncate(dd, 200))
	}
	if status >= 400 {
		return fmt.Errorf("token endpoint: %w: status %d", errTokenRefused, status)
	}
	if status != http.StatusOK {
		return fmt.Errorf("token endpoint: status %d", status)
	}
	return nil
}

// refusedGrant: the provider refused the refresh token for good (errInvalidGrant or errTokenRefused).
func refusedGrant(err error) bool {
	return errors.Is(err, errInvalidGrant) || errors.Is(err, errTokenRefused)
}
