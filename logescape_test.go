package descopeoidc

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLogEscaper(t *testing.T) {
	cases := map[string]string{
		"plain":                     "plain",
		"a\nlevel=error forged":     `a\nlevel=error forged`,
		"cr\rlf\n":                  `cr\rlf\n`,
		"\x00\x1b[2J\x7f":           `\x00\x1b[2J\x7f`,
		"tab\there":                 `tab\there`,
		"nel\u0085ls\u2028ps\u2029": `nel\u0085ls\u2028ps\u2029`,
		"ünïcödé stays":             "ünïcödé stays",
	}
	for in, want := range cases {
		if got := logEscaper.Replace(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
	for b := 0; b < 0x20; b++ {
		if got := logEscaper.Replace(string(rune(b))); len(got) < 2 || got[0] != '\\' {
			t.Errorf("control %#02x not escaped: %q", b, got)
		}
	}
}

// TestClaimWithNewlineIsOneLogLine: an untrusted value with line breaks (here a bearer token's aud) in a log message
// gives one log line, whatever the message's format verb.
func TestClaimWithNewlineIsOneLogLine(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.AllowBearerTokens = true
	cfg.LogLevel = "info"
	m, _ := newMW(t, f, cfg)
	c := f.idClaims("")
	c["aud"] = []string{"x\ndescopeoidc[test] level=error forged\r\nmore"}
	tok := f.mint(c)
	out := captureOutput(t, func() {
		if rec := serve(m, bearerRequest(tok)); rec.Code != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", rec.Code)
		}
		m.logf(levelWarn, "unquoted %s and %v", "a\nb", []string{"c\r\nd"})
	})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2: %q", len(lines), out)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "descopeoidc[test] level=") || strings.ContainsAny(l, "\r\x00") {
			t.Errorf("log line %q", l)
		}
	}
	mustContain(t, "log", lines[0], `level=error forged`) // present, but escaped inside the one line
}

func TestTruncateKeepsUTF8(t *testing.T) {
	for n := 0; n < 12; n++ {
		got := truncate("ééé✓✓x", n)
		if !utf8.ValidString(got) || len(got) > n+len("…") {
			t.Errorf("truncate(%d) = %q: invalid UTF-8 or too long", n, got)
		}
	}
	if got := truncate("short", 10); got != "short" {
		t.Errorf("truncate kept %q", got)
	}
}
