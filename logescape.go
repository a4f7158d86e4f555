package descopeoidc

import (
	"fmt"
	"strings"
)

// logEscaper makes one log message one line whatever it quotes: C0 control characters, DEL and the Unicode line
// breaks (NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR) are written as Go escapes. logf applies it to every message,
// so an untrusted value (a claim, an error description from the provider) cannot forge a log line even where it is
// not quoted; values are also printed with %q where they appear.
var logEscaper = newLogEscaper()

func newLogEscaper() *strings.Replacer {
	pairs := []string{"\n", `\n`, "\r", `\r`, "\t", `\t`}
	for b := 0; b < 0x20; b++ {
		if b != '\n' && b != '\r' && b != '\t' {
			pairs = append(pairs, string(rune(b)), fmt.Sprintf(`\x%02x`, b))
		}
	}
	pairs = append(pairs, "\x7f", `\x7f`, "\u0085", `\u0085`, "\u2028", `\u2028`, "\u2029", `\u2029`)
	return strings.NewReplacer(pairs...)
}
