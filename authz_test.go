package descopeoidc

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

// claimsJSON decodes claims the way verify does (numbers become float64, lists []any).
func claimsJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAuthzRolesAndPermissions(t *testing.T) {
	user := `{"roles":["viewer","editor"],"permissions":["read","write"]}`
	cases := []struct {
		name        string
		roles       []string
		permissions []string
		match       string
		claims      string
		want        string // substring of the denial; empty = allowed
	}{
		{"no rules", nil, nil, "", `{}`, ""},
		{"all roles held", []string{"viewer", "editor"}, nil, "all", user, ""},
		{"all roles, one missing", []string{"viewer", "admin"}, nil, "", user, "required roles [viewer admin] (all of) not held"},
		{"any role, one held", []string{"admin", "editor"}, nil, "any", user, ""},
		{"any role, none held", []string{"admin", "owner"}, nil, "ANY", user, "(any of) not held"},
		{"all permissions", nil, []string{"read", "write"}, "all", user, ""},
		{"all permissions, one missing", nil, []string{"read", "delete"}, "all", user, "required permissions"},
		{"any permission", nil, []string{"delete", "write"}, "any", user, ""},
		{"roles and permissions both needed", []string{"viewer"}, []string{"delete"}, "any", user, "required permissions"},
		{"no roles claim", []string{"viewer"}, nil, "", `{"permissions":["read"]}`, "required roles"},
		{"roles as a single string", []string{"viewer"}, nil, "", `{"roles":"viewer"}`, ""},
		{"roles claim of wrong type", []string{"viewer"}, nil, "", `{"roles":{"viewer":true}}`, "required roles"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := newAuthzRules(&Config{RequiredRoles: tc.roles, RequiredPermissions: tc.permissions, RequiredMatch: tc.match})
			if err != nil {
				t.Fatal(err)
			}
			checkDecision(t, a.check(claimsJSON(t, tc.claims)), tc.want)
		})
	}
}

func checkDecision(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("denied: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("allowed, want denial containing %q", want)
	}
	mustContain(t, "denial", err.Error(), want)
}

func TestAuthzTenant(t *testing.T) {
	claims := `{
		"roles": ["admin"],
		"dct": "T2",
		"tenants": {
			"T1": {"roles": ["viewer"], "permissions": ["read"]},
			"T2": {"roles": ["admin"], "permissions": ["read", "write"]}
		}
	}`
	cases := []struct {
		name   string
		tenant string
		roles  []string
		perms  []string
		claims string
		want   string
	}{
		{"member of tenant, no roles required", "T1", nil, nil, claims, ""},
		{"role in tenant", "T1", []string{"viewer"}, nil, claims, ""},
		{"top-level role does not count for the tenant", "T1", []string{"admin"}, nil, claims, "required roles"},
		{"permission in tenant", "T2", nil, []string{"write"}, claims, ""},
		{"not a member", "T9", nil, nil, claims, `not a member of tenant "T9"`},
		{"current tenant via dct", "dct", []string{"admin"}, []string{"write"}, claims, ""},
		{"current tenant lacks the role", "dct", []string{"viewer"}, nil, claims, "required roles"},
		{"dct missing", "dct", nil, nil, `{"tenants":{"T1":{}}}`, "no current tenant"},
		{"dct names a tenant the user is not in", "dct", nil, nil, `{"dct":"T7","tenants":{"T1":{}}}`, `tenant "T7"`},
		{"no tenants claim", "T1", nil, nil, `{"roles":["viewer"]}`, "not a member"},
		{"tenant entry not an object", "T1", nil, nil, `{"tenants":{"T1":["viewer"]}}`, "not a member"},
		// Descope's tenantOnly JWT schema (issue 19 item 4): no tenants claim, the current tenant's roles and
		// permissions at the root; read them as go-sdk does when the tenant asked for is the current one.
		{"tenantOnly: dct, root roles", "dct", []string{"admin"}, []string{"write"}, `{"dct":"T2","roles":["admin"],"permissions":["write"]}`, ""},
		{"tenantOnly: tenant ID = dct", "T2", []string{"admin"}, nil, `{"dct":"T2","roles":["admin"]}`, ""},
		{"tenantOnly: root lacks the role", "dct", []string{"owner"}, nil, `{"dct":"T2","roles":["admin"]}`, "required roles"},
		{"tenantOnly: another tenant", "T1", nil, nil, `{"dct":"T2","roles":["admin"]}`, `not a member of tenant "T1"`},
		{"tenants present: root roles stay the project's", "dct", []string{"admin"}, nil, `{"dct":"T2","roles":["admin"],"tenants":{"T2":{"roles":[]}}}`, "required roles"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := newAuthzRules(&Config{Tenant: tc.tenant, RequiredRoles: tc.roles, RequiredPermissions: tc.perms})
			if err != nil {
				t.Fatal(err)
			}
			checkDecision(t, a.check(claimsJSON(t, tc.claims)), tc.want)
		})
	}
}

func TestAuthzClaimRules(t *testing.T) {
	claims := `{
		"email_verified": true,
		"age": 42,
		"org": {"id": "acme", "plan": {"tier": "gold"}},
		"groups": ["eng", "ops"],
		"tenants": {"T1": {"roles": ["admin", "billing"]}},
		"amr": "pwd"
	}`
	cases := []struct {
		name string
		rule ClaimRule
		want string
	}{
		{"equals bool", ClaimRule{Claim: "email_verified", Equals: []string{"true"}}, ""},
		{"equals bool, false wanted", ClaimRule{Claim: "email_verified", Equals: []string{"false"}}, "does not equal"},
		{"equals number", ClaimRule{Claim: "age", Equals: []string{"41", "42"}}, ""},
		{"equals dotted path", ClaimRule{Claim: "org.id", Equals: []string{"acme"}}, ""},
		{"equals deep dotted path", ClaimRule{Claim: "org.plan.tier", Equals: []string{"silver", "gold"}}, ""},
		{"equals wrong value", ClaimRule{Claim: "org.id", Equals: []string{"globex"}}, `claim "org.id" does not equal`},
		{"equals on a list never matches", ClaimRule{Claim: "groups", Equals: []string{"eng"}}, "does not equal"},
		{"equals on an object never matches", ClaimRule{Claim: "org", Equals: []string{"acme"}}, "does not equal"},
		{"contains in list", ClaimRule{Claim: "groups", Contains: []string{"qa", "ops"}}, ""},
		{"contains missing", ClaimRule{Claim: "groups", Contains: []string{"qa"}}, `claim "groups" does not contain`},
		{"contains dotted path", ClaimRule{Claim: "tenants.T1.roles", Contains: []string{"billing"}}, ""},
		{"contains on a string claim", ClaimRule{Claim: "amr", Contains: []string{"pwd"}}, ""},
		{"missing claim", ClaimRule{Claim: "department", Equals: []string{"x"}}, `claim "department" missing`},
		{"missing nested claim", ClaimRule{Claim: "org.missing.x", Equals: []string{"x"}}, "missing"},
		{"path through a scalar", ClaimRule{Claim: "amr.x", Equals: []string{"x"}}, "missing"},
		{"equals and contains both hold", ClaimRule{Claim: "amr", Equals: []string{"pwd"}, Contains: []string{"pwd"}}, ""},
		{"equals holds, contains does not", ClaimRule{Claim: "amr", Equals: []string{"pwd"}, Contains: []string{"otp"}}, "does not contain"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := newAuthzRules(&Config{ClaimRules: []ClaimRule{tc.rule}})
			if err != nil {
				t.Fatal(err)
			}
			checkDecision(t, a.check(claimsJSON(t, claims)), tc.want)
		})
	}
	// Several rules must all hold.
	a, _ := newAuthzRules(&Config{ClaimRules: []ClaimRule{
		{Claim: "org.id", Equals: []string{"acme"}}, {Claim: "groups", Contains: []string{"hr"}},
	}})
	checkDecision(t, a.check(claimsJSON(t, claims)), `claim "groups"`)
}

func TestAuthzClaimNamesKeptInSession(t *testing.T) {
	a, err := newAuthzRules(&Config{
		RequiredRoles: []string{"r"}, Tenant: "dct",
		ClaimRules: []ClaimRule{{Claim: "org.id", Equals: []string{"x"}}, {Claim: "groups", Contains: []string{"g"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	names := a.claimNames()
	sort.Strings(names)
	if got := strings.Join(names, ","); got != "dct,groups,org,permissions,roles,tenants" {
		t.Errorf("claimNames = %s", got)
	}
	// And the middleware keeps exactly those (plus sub and header claims) in the cookie.
	m := sessionMW(t, func(c *Config) {
		c.RequiredRoles = []string{"r"}
		c.ForwardHeaders = map[string]string{"X-Email": "email"}
		c.ClaimsFrom = []string{"idToken"} // no provider to ask here
	})
	kept, err := m.collectClaims(context.Background(), map[string]any{"sub": "u", "email": "e", "roles": []any{"r"}, "name": "N", "picture": "p"}, "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range kept {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if got := strings.Join(keys, ","); got != "email,roles,sub" {
		t.Errorf("kept claims %s", got)
	}
}

func TestHeaderValue(t *testing.T) {
	cases := []struct {
		name  string
		claim string
		want  string
	}{
		{"string", `"alice@example.com"`, "alice@example.com"},
		{"bool", `true`, "true"},
		{"integer", `42`, "42"},
		{"fraction", `1.5`, "1.5"},
		{"large integer without exponent", `1700000000`, "1700000000"},
		{"list of strings", `["admin","dev"]`, "admin,dev"},
		{"list of scalars", `["a",1,true]`, "a,1,true"},
		{"empty list", `[]`, ""},
		{"object", `{"T1":{"roles":["admin"]}}`, `{"T1":{"roles":["admin"]}}`},
		{"list with an object", `["a",{"b":1}]`, `["a",{"b":1}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tc.claim), &v); err != nil {
				t.Fatal(err)
			}
			got, ok := headerValue(v)
			if !ok || got != tc.want {
				t.Errorf("headerValue(%s) = %q, %v; want %q", tc.claim, got, ok, tc.want)
			}
		})
	}
}

func TestRenderHeadersDropsInjection(t *testing.T) {
	m := sessionMW(t, func(c *Config) {
		c.ForwardHeaders = map[string]string{"X-User": "sub", "X-Name": "name", "X-Roles": "roles", "X-Org": "org.id", "X-Missing": "nope"}
		c.LogLevel = "error"
	})
	h := m.renderHeaders(claimsJSON(t, `{"sub":"u1","name":"Eve\r\nX-Admin: 1","roles":["a","b"],"org":{"id":"acme"}}`))
	got := map[string]string{}
	for i := 0; i+1 < len(h); i += 2 {
		got[h[i]] = h[i+1]
	}
	want := map[string]string{"X-User": "u1", "X-Roles": "a,b", "X-Org": "acme"}
	if len(got) != len(want) {
		t.Errorf("headers %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["X-Name"]; ok {
		t.Error("a value with CR/LF was forwarded")
	}
}
