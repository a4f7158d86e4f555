package descopeoidc

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// chunkedValueAt pairs the occ-th chunks: two chunked sessions (old host-only, new Domain) in one header.
func TestChunkedValueAt(t *testing.T) {
	names := []string{"s", "s_1", "s_2"}
	ck := func(pairs ...string) []*http.Cookie {
		var out []*http.Cookie
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, &http.Cookie{Name: pairs[i], Value: pairs[i+1]})
		}
		return out
	}
	cookies := ck("s", "2.OLD0", "s_1", "OLD1", "s", "3.NEW0", "s_1", "NEW1", "s_2", "NEW2")
	for occ, want := range []string{"OLD0OLD1", "NEW0NEW1NEW2"} {
		if got, err := chunkedValueAt(cookies, names, occ); err != nil || got != want {
			t.Errorf("occ %d: %q %v, want %q", occ, got, err, want)
		}
	}
	// a chunk that occurs once serves every candidate; a missing one fails that candidate
	if got, _ := chunkedValueAt(ck("s", "plain", "s", "2.A", "s_1", "B"), names, 1); got != "AB" {
		t.Errorf("second candidate with the only s_1: %q, want AB", got)
	}
	if _, err := chunkedValueAt(ck("s", "3.A", "s_1", "B"), names, 0); err != errBadCookie {
		t.Errorf("missing chunk: %v, want errBadCookie", err)
	}
	if _, err := chunkedValueAt(ck("s", "x"), names, 1); err != errNoCookie {
		t.Errorf("no second cookie: %v, want errNoCookie", err)
	}
}

// FuzzPickSession: any Cookie header, with any number of cookies named like the session and its chunks, gives one
// of the first maxSameNameSessions candidates (or an error), never a panic, and the plain sessionValue's answer when
// the name occurs once.
func FuzzPickSession(f *testing.F) {
	m := fzMiddleware(f)
	name := m.s.cookieName
	for _, s := range []string{
		name + "=a", name + "=a; " + name + "=b", name + "=2.a; " + name + "_1=b; " + name + "=3.c; " + name + "_1=d",
		name + "=9.x", name + "=2.; " + name + "=", "x=1; " + name + "_1=z; " + name + "=1.q", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", header)
		cookies := r.Cookies()
		raw, err := m.sm.pickSession(cookies)
		plain, plainErr := m.sm.sessionValue(cookies)
		n := 0
		for _, c := range cookies {
			if c.Name == name {
				n++
			}
		}
		if n <= 1 || err != nil {
			if n <= 1 && (raw != plain || err != plainErr) {
				t.Fatalf("one cookie of the name: %q %v, sessionValue %q %v", raw, err, plain, plainErr)
			}
			return
		}
		for i := 0; i < n && i < maxSameNameSessions; i++ {
			if v, e := chunkedValueAt(cookies, m.sm.chunkNames, i); e == nil && v == raw {
				return
			}
		}
		if raw != plain {
			t.Fatalf("picked %q: neither a candidate nor the first value", raw)
		}
	})
}
