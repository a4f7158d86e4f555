package descopeoidc

import (
	"net/http"
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
