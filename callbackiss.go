package descopeoidc

import (
	"context"
	"errors"
	"fmt"
	"net/url"
)

// checkCallbackIssuer applies RFC 9207 to an authorization response (success or error): an iss parameter, when
// present, must equal the issuer exactly, and when discovery says authorization_response_iss_parameter_supported it
// must be present. It stops a mix-up attack (a response from another provider sent to our callback) before the code
// is redeemed. Without the discovery document (provider unreachable) only a present iss is checked; the exchange
// then fails on its own.
func (m *Middleware) checkCallbackIssuer(ctx context.Context, q url.Values) error {
	if iss, present := q["iss"]; present {
		if len(iss) != 1 || iss[0] != m.s.issuer {
			return fmt.Errorf("authorization response iss mismatch (RFC 9207): expected %q, got %q", m.s.issuer, iss)
		}
		return nil
	}
	md, err := m.p.metadata(ctx)
	if err == nil && md.IssParameter {
		return errors.New("authorization response without iss although the provider advertises " +
			"authorization_response_iss_parameter_supported (RFC 9207)")
	}
	return nil
}
