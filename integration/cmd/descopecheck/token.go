package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// shownClaims are printed with their values; every other claim only by name (profile data, custom claims).
var shownClaims = []string{"iss", "aud", "azp", "client_id", "drn", "dct", "amr", "acr", "su", "typ", "auth_time", "iat", "exp"}

// explainToken decodes raw (never printing its signature), checks its signature against the project's keys and
// says which plugin keys it needs.
func explainToken(out io.Writer, raw string, d derived, docs *docs) error {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return errors.New("stdin: not a JWT (expected three dot-separated parts)")
	}
	hdr, claims := map[string]any{}, map[string]any{}
	if err := decodePart(parts[0], &hdr); err != nil {
		return fmt.Errorf("token header: %v", err)
	}
	if err := decodePart(parts[1], &claims); err != nil {
		return fmt.Errorf("token payload: %v", err)
	}
	fmt.Fprintln(out, "\n== The token (signature not shown)")
	fmt.Fprintf(out, "header:          alg %v, kid %v, typ %v\n", hdr["alg"], hdr["kid"], hdr["typ"])
	printClaims(out, claims)
	fmt.Fprintf(out, "signature:       %s\n", verifyWith(raw, docs))
	fmt.Fprintln(out, "\n== What to set, and why")
	for _, line := range advice(claims, d) {
		fmt.Fprintln(out, "- "+line)
	}
	return nil
}

func decodePart(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return errors.New("not base64url")
	}
	return json.Unmarshal(b, v)
}

func printClaims(out io.Writer, c map[string]any) {
	for _, k := range shownClaims {
		v, ok := c[k]
		if !ok {
			continue
		}
		if f, isNum := v.(float64); isNum && (k == "iat" || k == "exp" || k == "auth_time") {
			v = time.Unix(int64(f), 0).UTC().Format(time.RFC3339)
		}
		b, _ := json.Marshal(v)
		fmt.Fprintf(out, "%-16s %s\n", k+":", b)
	}
	if t, ok := c["tenants"].(map[string]any); ok {
		ids := make([]string, 0, len(t))
		for id := range t {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		fmt.Fprintf(out, "%-16s %s\n", "tenants:", strings.Join(ids, " "))
	}
	var others []string
	for k := range c {
		if !contains(shownClaims, k) && k != "tenants" {
			others = append(others, k)
		}
	}
	sort.Strings(others)
	fmt.Fprintf(out, "%-16s %s  (values not shown)\n", "other claims:", strings.Join(others, " "))
	if exp, iat := num(c["exp"]), num(c["iat"]); exp > 0 && iat > 0 {
		fmt.Fprintf(out, "%-16s %s\n", "lifetime:", time.Duration(exp-iat)*time.Second)
	}
}

// verifyWith says whether the project's JWKS verifies raw.
func verifyWith(raw string, docs *docs) string {
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256,
		jose.ES256, jose.ES384, jose.ES512, jose.EdDSA})
	if err != nil {
		return "cannot parse: " + err.Error()
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := docs.jwks.Key(kid)
	if len(keys) == 0 {
		return "no key with kid " + kid + " in the project's JWKS: not this project's token (or the key was rotated away)"
	}
	if _, err := jws.Verify(keys[0]); err != nil {
		return "does NOT verify with the project's key " + kid
	}
	return "verifies with the project's key " + kid
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
