package adversarial

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/traefik-descope/descopeoidc/integration/badidp"
	"github.com/traefik-descope/descopeoidc/integration/harness"
)

// TestForgedIdentityHeaders: identity headers sent by the client never reach the upstream as sent.
func TestForgedIdentityHeaders(t *testing.T) {
	o := newOutcomes(t)
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		h, up := build(t, tg, baseConfig(idp, map[string]any{
			"forwardHeaders": map[string]any{
				"X-Forwarded-User":   "sub",
				"X-Forwarded-Email":  "email",
				"X-Forwarded-Groups": "groups", // no such claim: the header is only stripped
			},
			"excludedPaths": []string{"/public"},
		}))
		forged := http.Header{
			"X-Forwarded-User":   {"admin", "root"},
			"x-forwarded-email":  {"ceo@example.com"},
			"X-Forwarded-Groups": {"admins"},
		}
		withForged := func(base http.Header) http.Header {
			out := base.Clone()
			for k, v := range forged {
				out[k] = v
			}
			return out
		}
		api := http.Header{"Accept": {"application/json"}}
		// collapse header names the way CGI/WSGI-style upstreams do (case, '-' and '_' are the same)
		checkUpstream := func(t *testing.T, wantUser, wantEmail string) string {
			t.Helper()
			got := up.lastHeader()
			var seen []string
			for k, vs := range got {
				n := strings.ReplaceAll(strings.ToLower(k), "_", "-")
				if strings.HasPrefix(n, "x-forwarded-user") || strings.HasPrefix(n, "x-forwarded-email") || strings.HasPrefix(n, "x-forwarded-groups") {
					seen = append(seen, k+"="+strings.Join(vs, "|"))
					for _, v := range vs {
						if v == "admin" || v == "root" || v == "ceo@example.com" || v == "admins" {
							t.Errorf("forged header reached the upstream: %s: %q", k, vs)
						}
					}
				}
			}
			if u := got.Values("X-Forwarded-User"); wantUser != "" && (len(u) != 1 || u[0] != wantUser) {
				t.Errorf("X-Forwarded-User %q, want [%s]", u, wantUser)
			}
			if e := got.Values("X-Forwarded-Email"); wantEmail != "" && (len(e) != 1 || e[0] != wantEmail) {
				t.Errorf("X-Forwarded-Email %q, want [%s]", e, wantEmail)
			}
			sort.Strings(seen)
			return strings.Join(seen, ",")
		}
		b := newBrowser(t, h)
		t.Run("no session, browser", func(t *testing.T) {
			resp := b.send(appRequest(http.MethodGet, "/app", withForged(navigation())))
			if resp.Status != http.StatusFound || up.count() != 0 {
				t.Errorf("%s, upstream %d", resp, up.count())
			}
			o.record(tg.Name(), "forged, no session, browser", fmt.Sprintf("status=%d upstream=%d", resp.Status, up.count()))
		})
		t.Run("no session, API", func(t *testing.T) {
			resp := b.send(appRequest(http.MethodGet, "/app", withForged(api)))
			if resp.Status != http.StatusUnauthorized || up.count() != 0 {
				t.Errorf("%s, upstream %d", resp, up.count())
			}
			o.record(tg.Name(), "forged, no session, API", fmt.Sprintf("status=%d upstream=%d", resp.Status, up.count()))
		})
		t.Run("excluded path", func(t *testing.T) {
			resp := b.send(appRequest(http.MethodGet, "/public/x", withForged(api)))
			if resp.Status != http.StatusOK || up.count() != 1 {
				t.Fatalf("%s, upstream %d", resp, up.count())
			}
			seen := checkUpstream(t, "", "")
			if seen != "" {
				t.Errorf("identity headers on an excluded path: %s", seen)
			}
			o.record(tg.Name(), "forged, excluded path", "seen="+seen)
		})
		b.mustLogin(idp, "/app")
		t.Run("with session", func(t *testing.T) {
			before := up.count()
			resp := b.send(appRequest(http.MethodGet, "/app", withForged(navigation())))
			if resp.Status != http.StatusOK || up.count() != before+1 {
				t.Fatalf("%s", resp)
			}
			seen := checkUpstream(t, badidp.DefaultSub, badidp.DefaultSub+"@example.com")
			o.record(tg.Name(), "forged, with session", "seen="+seen)
		})
		t.Run("with session, underscore variants", func(t *testing.T) {
			before := up.count()
			hdr := navigation()
			hdr["X-Forwarded_User"] = []string{"admin"}
			hdr["X_Forwarded_Email"] = []string{"ceo@example.com"}
			resp := b.send(appRequest(http.MethodGet, "/app", hdr))
			if resp.Status != http.StatusOK || up.count() != before+1 {
				t.Fatalf("%s", resp)
			}
			seen := checkUpstream(t, badidp.DefaultSub, badidp.DefaultSub+"@example.com")
			o.record(tg.Name(), "forged, underscore variants", "seen="+seen)
		})
	})
}

// sessionCookies returns the session cookie and its chunks, in order, from b's jar.
func sessionCookies(b *browser) []string {
	byName := map[string]string{}
	for _, c := range b.jar.Cookies(&url.URL{Scheme: "https", Host: appHost, Path: "/"}) {
		byName[c.Name] = c.Value
	}
	var out []string
	for i := 0; ; i++ {
		name := cookieName
		if i > 0 {
			name += "_" + strconv.Itoa(i)
		}
		v, ok := byName[name]
		if !ok {
			return out
		}
		out = append(out, v)
	}
}

func chunkHeader(values []string) string {
	parts := make([]string, len(values))
	for i, v := range values {
		name := cookieName
		if i > 0 {
			name += "_" + strconv.Itoa(i)
		}
		parts[i] = name + "=" + v
	}
	return strings.Join(parts, "; ")
}

// TestSessionCookieChunkAttacks: a session large enough to be chunked, then tampered, truncated, re-ordered, mixed
// and foreign chunks: no session, no 500, nothing upstream.
func TestSessionCookieChunkAttacks(t *testing.T) {
	o := newOutcomes(t)
	big := strings.Repeat("0123456789abcdef", 6<<10/16) // 6 KB claim, forwarded: the session must be chunked
	forEachTarget(t, func(t *testing.T, tg harness.Target) {
		idp := newIdP(t)
		idp.SetExtraClaims(map[string]any{"big": big})
		extra := map[string]any{"forwardHeaders": map[string]any{"X-Forwarded-User": "sub", "X-Big": "big"}}
		h, up := build(t, tg, baseConfig(idp, extra))
		a := newBrowser(t, h)
		a.mustLogin(idp, "/app")
		chunks := sessionCookies(a)
		if len(chunks) < 3 {
			t.Fatalf("session has %d chunk(s); want >= 3 for this test", len(chunks))
		}
		userB := newBrowser(t, h)
		userB.hint = "user-2"
		userB.mustLogin(idp, "/app")
		chunksB := sessionCookies(userB)

		otherCfg := baseConfig(idp, extra)
		otherCfg["sessionSecret"] = otherSecret
		hOther, _ := build(t, tg, otherCfg)
		foreign := newBrowser(t, hOther)
		foreign.mustLogin(idp, "/app")
		chunksF := sessionCookies(foreign)

		stateB := newBrowser(t, h)
		cb := pendingLogin(t, stateB, idp)
		_, stateValue := stateCookie(t, stateB, cb)

		control := func(t *testing.T) {
			before := up.count()
			resp := serve(t, h, withCookie(navigation(), chunkHeader(chunks)))
			if resp.Status != http.StatusOK || up.count() != before+1 || up.lastHeader().Get("X-Big") != big {
				t.Fatalf("untampered chunks: %s (X-Big %d bytes)", resp, len(up.lastHeader().Get("X-Big")))
			}
		}
		t.Run("control", control)
		n := len(chunks)
		mod := func(f func(c []string) []string) string {
			c := append([]string(nil), chunks...)
			return chunkHeader(f(c))
		}
		count := func(c string) string { return c[strings.IndexByte(c, '.')+1:] }
		cases := []struct{ name, cookie string }{
			{"chunk 1 tampered", mod(func(c []string) []string { c[1] = flip(c[1], len(c[1])/2); return c })},
			{"chunk 0 tampered", mod(func(c []string) []string { c[0] = flip(c[0], len(c[0])-5); return c })},
			{"last chunk dropped", mod(func(c []string) []string { return c[:n-1] })},
			{"last chunk truncated", mod(func(c []string) []string { c[n-1] = c[n-1][:len(c[n-1])/2]; return c })},
			{"chunk 0 only", mod(func(c []string) []string { return c[:1] })},
			{"chunks 1 and 2 swapped", mod(func(c []string) []string { c[1], c[2] = c[2], c[1]; return c })},
			{"count raised to 8", mod(func(c []string) []string { c[0] = "8." + count(c[0]); return c })},
			{"count lowered to 2", mod(func(c []string) []string { c[0] = "2." + count(c[0]); return c })},
			{"count 1", mod(func(c []string) []string { c[0] = "1." + count(c[0]); return c })},
			{"count 0", mod(func(c []string) []string { c[0] = "0." + count(c[0]); return c })},
			{"count -3", mod(func(c []string) []string { c[0] = "-3." + count(c[0]); return c })},
			{"count 9", mod(func(c []string) []string { c[0] = "9." + count(c[0]); return c })},
			{"count huge", mod(func(c []string) []string { c[0] = "99999999999999999999." + count(c[0]); return c })},
			{"count not a number", mod(func(c []string) []string { c[0] = "x." + count(c[0]); return c })},
			{"extra junk chunk", mod(func(c []string) []string {
				c[0] = strconv.Itoa(n+1) + "." + count(c[0])
				return append(c, "AAAA")
			})},
			{"chunk 0 of user A with the rest of user B", mod(func(c []string) []string {
				if len(chunksB) != n {
					return c[:1]
				}
				return append(c[:1], chunksB[1:]...)
			})},
			{"chunks sealed with another secret", chunkHeader(chunksF)},
			{"login cookie presented as session", cookieName + "=" + stateValue},
		}
		for _, c := range cases {
			c := c
			t.Run(c.name, func(t *testing.T) {
				before := up.count()
				resp := serve(t, h, withCookie(navigation(), c.cookie))
				if resp.Status >= 500 || resp.Status == http.StatusOK || up.count() != before || resp.sessionSet() {
					t.Errorf("browser: %s, upstream +%d, session set %v", resp, up.count()-before, resp.sessionSet())
				}
				if !resp.sessionCleared() {
					t.Errorf("the bad session cookie was not cleared")
				}
				apiResp := serve(t, h, withCookie(http.Header{"Accept": {"application/json"}}, c.cookie))
				if apiResp.Status != http.StatusUnauthorized || up.count() != before {
					t.Errorf("API: %s", apiResp)
				}
				o.record(tg.Name(), "chunks: "+c.name, fmt.Sprintf("browser=%d api=%d cleared=%v", resp.Status, apiResp.Status, resp.sessionCleared()))
			})
		}
		t.Run("control after the attacks", control)
	})
}

func withCookie(h http.Header, cookie string) *http.Request {
	r := appRequest(http.MethodGet, "/app", h)
	r.Header.Set("Cookie", cookie)
	return r
}
