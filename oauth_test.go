package descopeoidc

import (
	"errors"
	"testing"
)

func TestParseTokenResponse(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		body        string
		invalidGrnt bool
		unavailable bool
		want        string // error substring; empty = ok
		expiresIn   int64
	}{
		{"ok", 200, `{"access_token":"a","token_type":"Bearer","expires_in":120,"refresh_token":"r","id_token":"i"}`, false, false, "", 120},
		{"expires_in as string", 200, `{"access_token":"a","expires_in":"3600"}`, false, false, "", 3600},
		{"lowercase bearer", 200, `{"access_token":"a","token_type":"bearer"}`, false, false, "", 0},
		{"DPoP token type", 200, `{"access_token":"a","token_type":"DPoP"}`, false, false, "", 0},
		{"unknown token type", 200, `{"access_token":"a","token_type":"mac"}`, false, false, "token_type", 0},
		{"error body with status 200", 200, `{"error":"access_denied","error_description":"nope"}`, false, false, `error "access_denied"`, 0},
		{"invalid_grant with status 200", 200, `{"error":"invalid_grant"}`, true, false, "invalid_grant", 0},
		{"invalid_grant with status 400", 400, `{"error":"invalid_grant","error_description":"expired"}`, true, false, "expired", 0},
		{"invalid_client", 401, `{"error":"invalid_client"}`, false, false, "invalid_client", 0},
		{"500", 500, `{"error":"server_error"}`, false, true, "status 500", 0},
		{"503 HTML", 503, `<html>maintenance</html>`, false, true, "status 503", 0},
		{"missing access_token", 200, `{"id_token":"i","token_type":"Bearer"}`, false, false, "no access_token", 0},
		{"not JSON", 200, `<html>`, false, false, "not JSON", 0},
		{"404 without error field", 404, `{}`, false, false, "status 404", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := parseTokenResponse(tc.status, []byte(tc.body))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tr.AccessToken != "a" || tr.ExpiresIn != tc.expiresIn {
					t.Errorf("%+v", tr)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want error containing %q", tc.want)
			}
			mustContain(t, "error", err.Error(), tc.want)
			if errors.Is(err, errInvalidGrant) != tc.invalidGrnt {
				t.Errorf("errors.Is(err, errInvalidGrant) = %v", !tc.invalidGrnt)
			}
			if errors.Is(err, errProviderUnavailable) != tc.unavailable {
				t.Errorf("errors.Is(err, errProviderUnavailable) = %v", !tc.unavailable)
			}
		})
	}
}
