package descopeoidc

import (
	"errors"
	"testing"
)

// How each answer of the token endpoint is classified (issue 18 item 7): refused for good, an outage, or neither
// (invalid_client: the client's own fault, retried like an outage but never ending sessions).
func TestTokenErrorClasses(t *testing.T) {
	const refused, outage, neither = "refused", "outage", "neither"
	cases := []struct {
		status int
		body   string
		want   string
	}{
		{400, `{"error":"invalid_grant"}`, refused},
		{200, `{"error":"invalid_grant"}`, refused},
		{400, `{"error":"invalid_request"}`, refused},
		{400, `{"error":"unauthorized_client"}`, refused},
		{400, `{"error":"unsupported_grant_type"}`, refused},
		{200, `{"error":"access_denied"}`, refused},
		{400, `{"errorCode":"E061103","errorDescription":"Refresh token expired","errorMessage":"x"}`, refused},
		{404, `{"errorCode":"E011004","errorDescription":"Not found","errorMessage":"x"}`, refused},
		{401, ``, refused},
		{403, `<html>Forbidden</html>`, refused},
		{404, `{}`, refused},
		{401, `{"error":"invalid_client"}`, neither},
		{400, `{"error":"invalid_client"}`, neither},
		{429, `{"errorCode":"E130429","errorDescription":"Too many requests"}`, outage},
		{408, ``, outage},
		{500, `{"errorCode":"E000001"}`, outage},
		{503, `{"error":"temporarily_unavailable"}`, outage},
		{400, `{"error":"temporarily_unavailable"}`, outage},
		{200, `{"error":"server_error"}`, outage},
	}
	for _, tc := range cases {
		_, err := parseTokenResponse(tc.status, []byte(tc.body))
		got := neither
		if refusedGrant(err) {
			got = refused
		}
		if errors.Is(err, errProviderUnavailable) {
			got = outage
		}
		if err == nil || got != tc.want {
			t.Errorf("%d %s: %v classified %s, want %s", tc.status, tc.body, err, got, tc.want)
		}
	}
}
