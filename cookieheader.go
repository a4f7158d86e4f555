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

// filter returns line without the plugin's cookie pairs, or "" when nothing else is left. A line with none of them
// comes back unchanged (the same string).
func (o *ownCookies) filter(line string) string {
	if strings.HasPrefix(line, o.nameEq) && strings.IndexByte(line, ';') < 0 {
		return "" // only the session cookie: the common case
	}
	out := o.cut(line, o.name)
	if o.alt != "" {
		out = o.cut(out, o.alt)
	}
	for _, x := range o.extra {
		out = o.cut(out, x)
	}
	if len(out) == len(line) {
		return line
	}
	if strings.Trim(out, " \t\r\n;") == "" {
		return ""
	}
	return strings.TrimLeft(out, " \t")
}

// cut removes every pair that contains needle and whose name is the plugin's, with one ';' next to it. The pairs
// are split as Go's parser splits them: at ';', the name is what comes before the first '=', trimmed.
func (o *ownCookies) cut(line, needle string) string {
	from := 0
	for from < len(line) {
		i := strings.Index(line[from:], needle)
		if i < 0 {
			break
		}
		i += from
		start := strings.LastIndexByte(line[:i], ';') + 1
		end := len(line)
		if j := strings.IndexByte(line[i:], ';'); j >= 0 {
			end = i + j
		}
		name := line[start:end]
		if k := strings.IndexByte(name, '='); k >= 0 {
			name = name[:k]
		}
		if !o.isOwn(strings.Trim(name, " \t\r\n")) {
			from = end
			continue
		}
		switch {
		case end < len(line):
			line = line[:start] + line[end+1:]
			from = start
		case start > 0:
			line = line[:start-1]
			from = len(line)
		default:
			line = ""
		}
	}
	return line
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
