package descopeoidc

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestValidHeaderValueMatchesGoTransport sends every byte value inside a header value through Go's HTTP client and
// checks validHeaderValue agrees with what the transport accepts.
func TestValidHeaderValueMatchesGoTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	refused := 0
	for b := 0; b < 256; b++ {
		v := "a" + string([]byte{byte(b)}) + "b"
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header["X-Test"] = []string{v}
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		} else {
			refused++
		}
		if sent := err == nil; sent != validHeaderValue(v) {
			t.Errorf("byte %#02x: transport sent it %v, validHeaderValue says %v", b, sent, validHeaderValue(v))
		}
	}
	if refused != 32 { // 0x00-0x1f but tab, and DEL
		t.Errorf("transport refused %d byte values, want 32", refused)
	}
}

func TestRenderHeadersDropsControlCharacters(t *testing.T) {
	m := sessionMW(t, func(c *Config) {
		c.ForwardHeaders = map[string]string{"X-A": "a", "X-B": "b", "X-C": "c", "X-D": "d", "X-E": "e"}
		c.LogLevel = "warn"
	})
	claims := map[string]any{"a": "esc\x1b[31mred", "b": "del\x7f", "c": "tab\tok", "d": "héllo wörld ✓", "e": []any{"x", "y\x01"}}
	var h []string
	out := captureOutput(t, func() { h = m.renderHeaders(claims) })
	got := map[string]string{}
	for i := 0; i+1 < len(h); i += 2 {
		got[h[i]] = h[i+1]
	}
	if len(got) != 2 || got["X-C"] != "tab\tok" || got["X-D"] != "héllo wörld ✓" {
		t.Errorf("headers %q, want only X-C and X-D, unchanged", got)
	}
	for _, claim := range []string{`claim "a"`, `claim "b"`, `claim "e"`} {
		mustContain(t, "log", out, claim)
	}
}
