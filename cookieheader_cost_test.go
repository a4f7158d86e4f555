package descopeoidc

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// filterCost runs stripCookies on one Cookie line and returns the bytes it allocated and the time it took.
func filterCost(m *Middleware, line string) (uint64, time.Duration) {
	r := &http.Request{Header: http.Header{"Cookie": {line}}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	stripCookies(m, r)
	d := time.Since(t0)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, d
}

// repeatTo repeats pair until the line is about n bytes.
func repeatTo(pair string, n int) string {
	return strings.Repeat(pair, n/len(pair)+1)
}

// TestCookieFilterLinear (issue 18 item 2): a Cookie header of 256 KiB of the plugin's chunk names (or of names that
// only contain them) costs at most a few copies of the line and well under a second. Before, each removed pair
// copied the rest of the line: gigabytes allocated for this header, 14 s of CPU for 1 MiB under Yaegi.
func TestCookieFilterLinear(t *testing.T) {
	m := &Middleware{own: newOwnCookies("sess", "__Secure-sess_state_", "__Secure-sess_logout")}
	const size = 256 << 10
	for _, line := range []string{
		repeatTo("sess_1=; ", size), "a=1; " + repeatTo("sess_1=x;", size) + " b=2",
		repeatTo("keep=1; sess_2=; ", size), repeatTo("x_sess=1;", size), repeatTo("sess", size),
		repeatTo("__Secure-sess_state_a=1;", size), strings.Repeat("k=v; ", 50) + repeatTo("sess_3=;", size),
	} {
		alloc, d := filterCost(m, line)
		if alloc > uint64(4*len(line)+64<<10) || d > 2*time.Second {
			t.Errorf("%q...: %d bytes allocated, %v, for a %d-byte line", line[:24], alloc, d, len(line))
		}
	}
}

// TestCookieFilterCap: a line with more than maxOwnPairs pairs named like the plugin's is dropped whole (no browser
// sends it); up to the cap every own pair goes and every other pair stays.
func TestCookieFilterCap(t *testing.T) {
	m := &Middleware{own: newOwnCookies("sess", "__Secure-sess_state_", "__Secure-sess_logout")}
	under := "a=1; " + strings.Repeat("sess_1=x; ", maxOwnPairs-1) + "b=2"
	if got := m.own.filter(under); got != "a=1; b=2" {
		t.Errorf("under the cap: %q, want %q", got, "a=1; b=2")
	}
	over := "a=1; " + strings.Repeat("sess_1=x; ", maxOwnPairs+1) + "b=2"
	if got := m.own.filter(over); got != "" {
		t.Errorf("over the cap: %q, want the line dropped", got)
	}
}

// FuzzCookieFilterCost: whatever pairs a header repeats up to 64 KiB (with the session cookie around them), the
// filter allocates at most a few copies of it and takes well under a second: linear, never per pair times line.
func FuzzCookieFilterCost(f *testing.F) {
	for _, s := range []string{"sess_1=;", "sess_1=x; ", "a=sess;", "sess", ";", "__Secure-sess_logout_1=h;", "x=1; sess=2;"} {
		f.Add(s)
	}
	m := &Middleware{own: newOwnCookies("sess", "__Secure-sess_state_", "__Secure-sess_logout")}
	f.Fuzz(func(t *testing.T, pair string) {
		if pair == "" || len(pair) > 256 {
			return
		}
		line := "sess=abc; " + repeatTo(pair, 64<<10) + "; sess_1=def"
		alloc, d := filterCost(m, line)
		if alloc > uint64(4*len(line)+64<<10) || d > time.Second {
			t.Fatalf("pair %q: %d bytes allocated, %v, for a %d-byte line", pair, alloc, d, len(line))
		}
	})
}

// BenchmarkCookieFilter: 1 MiB lines (Traefik's default header limit) of own pairs, of pairs only named like them,
// and a browser's usual line.
func BenchmarkCookieFilter(b *testing.B) {
	m := &Middleware{own: newOwnCookies("sess", "__Secure-sess_state_", "__Secure-sess_logout")}
	for name, line := range map[string]string{
		"own1MiB": repeatTo("sess_1=;", 1<<20), "lookalike1MiB": repeatTo("x_sess=1;", 1<<20),
		"others1MiB": repeatTo("k=v; ", 1<<20), "browser": "theme=dark; sess=2.abc; sess_1=def; _ga=GA1.2.3",
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r := &http.Request{Header: http.Header{"Cookie": {line}}}
				stripCookies(m, r)
			}
		})
	}
}
