package descopeoidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// authzRules decide, after authentication, whether a user may pass. They are evaluated once per session (the
// result is cached with it), never per request.
type authzRules struct {
	roles, permissions []string
	all                bool   // all of the required roles/permissions, not any
	tenant             string // tenant ID whose roles/permissions count; "dct" = the user's current tenant
	claims             []claimRule
}

type claimRule struct {
	name     string
	path     []string
	equals   []string
	contains []string
}

func newAuthzRules(c *Config) (*authzRules, error) {
	a := &authzRules{roles: nonEmpty(c.RequiredRoles), permissions: nonEmpty(c.RequiredPermissions), tenant: c.Tenant}
	switch strings.ToLower(c.RequiredMatch) {
	case "", "all":
		a.all = true
	case "any":
	default:
		return nil, fmt.Errorf("requiredMatch: %q is not one of any, all", c.RequiredMatch)
	}
	for i, r := range c.ClaimRules {
		claim := strings.TrimSpace(r.Claim)
		if claim == "" {
			return nil, fmt.Errorf("claimRules[%d].claim: required", i)
		}
		if len(r.Equals) == 0 && len(r.Contains) == 0 {
			return nil, fmt.Errorf("claimRules[%d]: set equals or contains for claim %q", i, claim)
		}
		path, err := parseClaimPath(fmt.Sprintf("claimRules[%d].claim", i), claim)
		if err != nil {
			return nil, err
		}
		a.claims = append(a.claims, claimRule{name: claim, path: path, equals: r.Equals, contains: r.Contains})
	}
	return a, nil
}

// claimNames are the top-level claims the rules read; the session keeps them.
func (a *authzRules) claimNames() []string {
	var names []string
	if len(a.roles) > 0 || len(a.permissions) > 0 {
		names = append(names, "roles", "permissions")
	}
	if a.tenant != "" {
		names = append(names, "tenants", "dct")
	}
	for _, r := range a.claims {
		names = append(names, r.path[0])
	}
	return names
}

func (a *authzRules) empty() bool {
	return len(a.roles) == 0 && len(a.permissions) == 0 && a.tenant == "" && len(a.claims) == 0
}

// check returns nil when the claims satisfy every rule, or the first rule that fails.
func (a *authzRules) check(c map[string]any) error {
	if a.empty() {
		return nil
	}
	scope := c
	if a.tenant != "" {
		tid := a.tenant
		if tid == "dct" {
			tid, _ = c["dct"].(string)
			if tid == "" {
				return errors.New("no current tenant (dct claim) in the token")
			}
		}
		scope = tenantScope(c, tid)
		if scope == nil {
			return fmt.Errorf("user is not a member of tenant %q", tid)
		}
	}
	if !a.match(stringList(scope["roles"]), a.roles) {
		return fmt.Errorf("required roles %v (%s) not held", a.roles, a.mode())
	}
	if !a.match(stringList(scope["permissions"]), a.permissions) {
		return fmt.Errorf("required permissions %v (%s) not held", a.permissions, a.mode())
	}
	for _, r := range a.claims {
		if err := r.check(c); err != nil {
			return err
		}
	}
	return nil
}

// tenantScope is where tenant tid's roles and permissions are: tenants.<tid>, or, in Descope's "tenantOnly" JWT
// schema (no tenants claim, the current tenant's roles and permissions at the root), the root when tid is the
// current tenant (dct). As Descope's go-sdk does: descope/internal/auth/auth.go (the "dct" claim without the
// "tenants" claim) and descope/types.go IsPermittedPerTenant. Nil when the user is not a member.
func tenantScope(c map[string]any, tid string) map[string]any {
	if _, has := c["tenants"]; !has {
		if dct, _ := c["dct"].(string); dct != "" && dct == tid {
			return c
		}
		return nil
	}
	t, _ := lookup(c, []string{"tenants", tid})
	scope, _ := t.(map[string]any)
	return scope
}

func (a *authzRules) mode() string {
	if a.all {
		return "all of"
	}
	return "any of"
}

func (a *authzRules) match(have, want []string) bool {
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		held := contains(have, w)
		if held && !a.all {
			return true
		}
		if !held && a.all {
			return false
		}
	}
	return a.all
}

func (r claimRule) check(c map[string]any) error {
	v, ok := lookup(c, r.path)
	if !ok {
		return fmt.Errorf("claim %q missing", r.name)
	}
	if len(r.equals) > 0 {
		s, isScalar := scalarString(v)
		if !isScalar || !contains(r.equals, s) {
			return fmt.Errorf("claim %q does not equal one of %v", r.name, r.equals)
		}
	}
	if len(r.contains) > 0 && !anyIn(r.contains, stringList(v)) {
		return fmt.Errorf("claim %q does not contain one of %v", r.name, r.contains)
	}
	return nil
}

// lookup follows a dotted claim path through nested objects.
func lookup(c map[string]any, path []string) (any, bool) {
	var cur any = c
	for _, p := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func stringList(v any) []string {
	switch x := v.(type) {
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := scalarString(e); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		return []string{x}
	}
	return nil
}

func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

// headerValue renders a claim for an upstream header: scalars as text, lists joined with commas, objects as JSON.
func headerValue(v any) (string, bool) {
	if s, ok := scalarString(v); ok {
		return s, true
	}
	if list, ok := v.([]any); ok {
		parts := stringList(list)
		if len(parts) == len(list) {
			return strings.Join(parts, ","), true
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(b), true
}
