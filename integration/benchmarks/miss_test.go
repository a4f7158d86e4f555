package benchmarks

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/sessionseal"
)

// The miss paths: a credential the middleware has not seen yet. That is every request of a user past the cache's
// bound (cacheMemory), and the first request of every session after a restart (the login storm of a cold start).
// Each iteration sends a new valid credential, made outside the timer; the caches run at their bound (cacheMemory
// 1 MiB), so that what eviction costs is in the figure.

const missCacheMemory = "1" // MiB: full after ~1,000 sessions, then evicting a tenth at a time

// sessionValue is the session cookie's value in a Cookie header of the fixture.
func sessionValue(header string) string {
	for _, c := range strings.Split(header, "; ") {
		if v, ok := strings.CutPrefix(c, "_descopeoidc="); ok {
			return v
		}
	}
	return ""
}

// freshCredentials hands out credentials never sent before, making them in batches with the timer stopped (and
// their CPU time left out of cpu-ns/op: spent).
type freshCredentials struct {
	b     *testing.B
	make  func(n int) ([]string, []string, error) // values and their subjects
	vals  []string
	subs  []string
	batch int
	spent time.Duration
}

// fill makes the next batch.
func (p *freshCredentials) fill() {
	start := processCPU()
	vals, subs, err := p.make(p.batch)
	if err != nil {
		p.b.Fatal(err)
	}
	p.vals, p.subs = vals, subs
	p.spent += processCPU() - start
}

func (p *freshCredentials) next() (string, string) {
	if len(p.vals) == 0 {
		p.b.StopTimer()
		p.fill()
		p.b.StartTimer()
	}
	v, s := p.vals[0], p.subs[0]
	p.vals, p.subs = p.vals[1:], p.subs[1:]
	return v, s
}

// missLoop serves b.N requests, each with a fresh credential in header (prefix + value), checking that upstream
// gets the credential's own subject.
func missLoop(b *testing.B, h http.Handler, up *subjectCheck, header, prefix string, fresh *freshCredentials) {
	base, hdr := baseRequest(credential{header: header, value: "x"})
	fresh.fill() // the first batch, before the clocks start
	fresh.spent = 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		v, sub := fresh.next()
		r := request(base, hdr)
		r.Header[header] = []string{prefix + v}
		rec := httptest.NewRecorder()
		up.want = sub
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK || !up.ok {
			b.Fatalf("request %d: status %d, upstream saw the credential's subject: %v", i, rec.Code, up.ok)
		}
	}
	cpu.start += fresh.spent
	cpu.report(b)
}

// BenchmarkCookieMiss is a request with a valid session cookie not in the cache: decryption, JSON decoding, header
// rendering, the authorization decision, the chain's admission and (at the bound) eviction.
func BenchmarkCookieMiss(b *testing.B) {
	f := mustFixture(b)
	sealer := sessionseal.New(sessionSecret, "session", f.idp.Issuer(), f.idp.ClientID())
	login := sessionValue(f.cookies[0].value)
	for _, tg := range f.targets {
		b.Run(tg.Name(), func(b *testing.B) {
			up := &subjectCheck{}
			h, err := tg.Build(f.config(map[string]any{"cacheMemory": missCacheMemory}), up, "bench")
			if err != nil {
				b.Fatal(err)
			}
			fresh := &freshCredentials{b: b, batch: 4096, make: func(n int) ([]string, []string, error) {
				return sealer.Distinct(login, n)
			}}
			missLoop(b, h, up, "Cookie", "_descopeoidc=", fresh)
		})
	}
}

// BenchmarkBearerMiss is a request with a valid bearer JWT never seen before: parsing, the claim checks and the
// RS256 signature check (provider metadata and keys are cached), header rendering and (at the bound) eviction.
func BenchmarkBearerMiss(b *testing.B) {
	f := mustFixture(b)
	sub := f.tokens[0].subject
	for _, tg := range f.targets {
		b.Run(tg.Name(), func(b *testing.B) {
			up := &subjectCheck{}
			h, err := tg.Build(f.config(map[string]any{"allowBearerTokens": true, "cacheMemory": missCacheMemory}), up, "bench")
			if err != nil {
				b.Fatal(err)
			}
			made := 0
			fresh := &freshCredentials{b: b, batch: 512, make: func(n int) ([]string, []string, error) {
				vals, subs := make([]string, n), make([]string, n)
				for i := range vals {
					made++ // a lifetime a second longer each: a distinct exp, a distinct token
					tok, err := f.idp.SessionJWT(sub, 12*time.Hour+time.Duration(made)*time.Second, true)
					if err != nil {
						return nil, nil, err
					}
					vals[i], subs[i] = tok, sub
				}
				return vals, subs, nil
			}}
			missLoop(b, h, up, "Authorization", "Bearer ", fresh)
		})
	}
}

// subjectCheck is a next handler that records whether the request arrived as want, without the session cookie.
type subjectCheck struct {
	want string
	ok   bool
}

func (u *subjectCheck) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.ok = r.Header.Get("X-Forwarded-User") == u.want && !strings.Contains(r.Header.Get("Cookie"), "_descopeoidc")
}

// TestDistinctSessions: the sessions sessionseal makes from one login are valid sessions of their own, under both
// targets: each is served as its subject (what BenchmarkCookieMiss and make bench's many-user rows rely on), and one
// altered by a byte is refused.
func TestDistinctSessions(t *testing.T) {
	f := mustFixture(t)
	sealer := sessionseal.New(sessionSecret, "session", f.idp.Issuer(), f.idp.ClientID())
	vals, subs, err := sealer.Distinct(sessionValue(f.cookies[0].value), 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range f.targets {
		up := &subjectCheck{}
		h, err := tg.Build(f.config(nil), up, "distinct")
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			base, hdr := baseRequest(credential{header: "Cookie", value: "_descopeoidc=" + v})
			up.want = subs[i]
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, request(base, hdr))
			if rec.Code != http.StatusOK || !up.ok || subs[i] != fmt.Sprintf("%s-%d", f.cookies[0].subject, i) {
				t.Fatalf("%s: session %d: status %d, served as %s: %v", tg.Name(), i, rec.Code, subs[i], up.ok)
			}
		}
		bad := []byte(vals[0])
		bad[len(bad)/2] ^= 1
		base, hdr := baseRequest(credential{header: "Cookie", value: "_descopeoidc=" + string(bad)})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, request(base, hdr))
		if rec.Code == http.StatusOK {
			t.Errorf("%s: an altered session was served", tg.Name())
		}
	}
}
