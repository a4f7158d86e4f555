package descopeoidc

import (
	"net/http"
	"strings"
)

// ownCookies knows the names of the plugin's cookies (the session, its chunks, the logout cookie and its chunks,
// and the login-state cookies) and
// removes exactly those from raw Cookie header lines, keeping every other byte: upstream services get their own
// cookies as the browser sent them (quotes, JSON, UTF-8 and all), which rebuilding the header from Go's parser would
// not do. The filter slices with strings calls and never loops over bytes (under Yaegi a byte loop is slow, see
// YAEGI.md); it examines only the pairs around an occurrence of one of the names.
type ownCookies struct {
	name   string // the session cookie
	nameEq string // name + "=": a line holds only the session cookie when it starts with this and has no ';'
	chunk  string // name + "_": followed by digits, a session chunk
	state  string // prefix of the login-state cookies
	hint   string // the logout cookie; hint + "_" + digits are its chunks
	// alt is a second needle when state or hint does not contain name (a __Host- session name): their common
	// prefix, else "".
	alt   string
	extra []string // further exact names removed (descopeSessionCookie's DS and DSR: descopecookie.go)
}

func newOwnCookies(name, statePrefix, hint string) *ownCookies {
	o := &ownCookies{name: name, nameEq: name + "=", chunk: name + "_", state: statePrefix, hint: hint}
	if !strings.Contains(statePrefix, name) || !strings.Contains(hint, name) {
		n := 0 // names are short and this runs once, in New
		for n < len(statePrefix) && n < len(hint) && statePrefix[n] == hint[n] {
			n++
		}
		o.alt = statePrefix[:n]
	}
	return o
}

// isOwn reports whether a cookie name (as Go's parser reads it) is the plugin's.
func (o *ownCookies) isOwn(n string) bool {
	if n == o.name || strings.HasPrefix(n, o.state) {
		return true
	}
	for _, x := range o.extra {
		if n == x {
			return true
		}
	}
	if o.hint != "" && (n == o.hint || numbered(n, o.hint+"_")) {
		return true
	}
	return numbered(n, o.chunk)
}

// numbered reports whether n is prefix followed by digits.
func numbered(n, prefix string) bool {
	if !strings.HasPrefix(n, prefix) {
		return false
	}
	rest := n[len(prefix):]
	return rest != "" && strings.Trim(rest, "0123456789") == ""
}

// maxOwnPairs bounds the pairs that contain one of the plugin's names which filter examines in one line (each costs
// a few interpreted steps under Yaegi): a browser sends at most the session and its chunks (maxSessionChunks), a few
// login-state cookies and the logout cookie's chunks. A line with more is not a browser's: it is dropped whole, so
// that none of the plugin's cookies can reach upstream behind the cap.
const maxOwnPairs = 64

// filter returns line without the plugin's cookie pairs, or "" when nothing else is left. A line with none of them
// comes back unchanged (the same string). Linear in the line: each needle is one forward pass (see cut).
func (o *ownCookies) filter(line string) string {
	if strings.HasPrefix(line, o.nameEq) && strings.IndexByte(line, ';') < 0 {
		return "" // only the session cookie: the common case
	}
	budget := maxOwnPairs
	out := o.cut(line, o.name, &budget)
	if o.alt != "" {
		out = o.cut(out, o.alt, &budget)
	}
	for _, x := range o.extra {
		out = o.cut(out, x, &budget)
	}
	if budget < 0 {
		return "" // over the cap: see maxOwnPairs
	}
	if len(out) == len(line) {
		return line
	}
	if strings.Trim(out, " \t\r\n;") == "" {
		return ""
	}
	return strings.TrimLeft(out, " \t")
}

// cut removes every pair that contains needle and whose name is the plugin's, with one ';' next to it (the one
// after it, or for the last pair the one before). The pairs are split as Go's parser splits them: at ';', the name
// is what comes before the first '=', trimmed. One forward pass: what is kept is copied once into buf, never the
// rest of the line per removal (that was quadratic: a 1 MB header of own pairs cost seconds). Each pair containing
// needle spends one unit of budget; below zero the pass stops (the caller drops the line).
func (o *ownCookies) cut(line, needle string, budget *int) string {
	var buf []byte     // nil until the first removal: a line without own pairs is returned as is
	kept, from := 0, 0 // line[kept:] is not yet copied; the next search starts at from
	for from < len(line) {
		i := strings.Index(line[from:], needle)
		if i < 0 {
			break
		}
		if *budget--; *budget < 0 {
			return line
		}
		i += from
		start := strings.LastIndexByte(line[from:i], ';') + 1 + from // from is 0 or just after a ';'
		end := len(line)
		if j := strings.IndexByte(line[i:], ';'); j >= 0 {
			end = i + j
		}
		name := line[start:end]
		if k := strings.IndexByte(name, '='); k >= 0 {
			name = name[:k]
		}
		from = end + 1
		if !o.isOwn(strings.Trim(name, " \t\r\n")) {
			continue
		}
		buf = append(buf, line[kept:start]...)
		if end < len(line) {
			kept = end + 1
			continue
		}
		if len(buf) > 0 {
			buf = buf[:len(buf)-1] // the last pair takes the ';' before it
		}
		kept = len(line)
	}
	if buf == nil && kept == 0 {
		return line
	}
	return string(append(buf, line[kept:]...))
}

// stripCookies removes the plugin's cookies from the request's Cookie header lines (HTTP/1.1 clients may send
// several; HTTP/2 splits them too), and the header when nothing is left. Hot path: a function, not a method.
func stripCookies(m *Middleware, r *http.Request) {
	lines, ok := r.Header["Cookie"]
	if !ok {
		return
	}
	o := m.own
	if len(lines) == 1 {
		out := o.filter(lines[0])
		if out == "" {
			delete(r.Header, "Cookie")
		} else if len(out) != len(lines[0]) {
			r.Header["Cookie"] = []string{out}
		}
		return
	}
	kept := make([]string, 0, len(lines))
	for _, l := range lines {
		if out := o.filter(l); out != "" {
			kept = append(kept, out)
		}
	}
	if len(kept) == 0 {
		delete(r.Header, "Cookie")
		return
	}
	r.Header["Cookie"] = kept
}
