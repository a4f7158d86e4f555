package descopeoidc

import "strings"

// headerCTLs are the bytes Go's HTTP transport refuses in a header field value
// (golang.org/x/net/http/httpguts.ValidHeaderFieldValue): every control character but horizontal tab, and DEL.
// Bytes from 0x80 on (UTF-8, obs-text) are allowed.
const headerCTLs = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0a\x0b\x0c\x0d\x0e\x0f" +
	"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"

// validHeaderValue tells whether s can be sent as a header value as it is. Values that cannot are dropped by
// renderHeaders with a log line, never forwarded or rewritten: a header injection, or an upstream hop that fails.
func validHeaderValue(s string) bool {
	return !strings.ContainsAny(s, headerCTLs)
}
