package benchmarks

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
)

// yaegiOpsSrc holds single operations of the plugin's hot path, each in its own interpreted function, to see what
// each costs under Yaegi (BenchmarkYaegiOps). What it showed shaped the hot path (descopeoidc.go, handlers.go):
//   - every call allocates a frame with all the callee's locals, even those of branches not taken (Locals*);
//   - a method call costs several times a plain function call (Method vs Func, NextViaMethod vs NextViaFunc);
//   - each call into compiled code (strings.IndexByte, r.Cookies, sha256.Sum256, RLock) goes through reflect:
//     about a microsecond each, so a loop that makes one per header (Underscore) is expensive.
const yaegiOpsSrc = `package ops

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type cache struct {
	mu sync.RWMutex
	m  map[string]*int
}

var (
	smap    sync.Map
	amap    atomic.Value // map[string]*int
	shared  = [][]string{{"u1"}, {"n1"}}
	hnames  = []string{"X-Forwarded-User", "X-Forwarded-Name"}
)

type mw struct {
	c       *cache
	names   []string
	now     func() time.Time
	prefix  string
	name    string
	headers []string
	next    http.Handler
}

var M = &mw{c: &cache{m: map[string]*int{}}, names: []string{"X-Forwarded-User", "X-Forwarded-Name"}, now: time.Now,
	prefix: "_descopeoidc_", name: "_descopeoidc", headers: []string{"X-Forwarded-User", "u1", "X-Forwarded-Name", "n1"}}

var CookieVal string

func Setup(next http.Handler, cookie string) { M.next, CookieVal = next, cookie }

// --- called as func(*http.Request) ---

func Empty(r *http.Request) {}

func (m *mw) nop() {}

func Method(r *http.Request) { M.nop() }

func fn(r *http.Request) {}

func Func(r *http.Request) { fn(r) }

func Cookie(r *http.Request) { _, _ = r.Cookie("_descopeoidc") }

func Cookies(r *http.Request) { _ = r.Cookies() }

func CookieLoop(r *http.Request) {
	cookies := r.Cookies()
	name := M.name
	for _, c := range cookies {
		if c.Name == name {
			return
		}
	}
}

func Sum(r *http.Request) {
	sum := sha256.Sum256([]byte(CookieVal))
	_ = string(sum[:])
}

func SumConvOnly(r *http.Request) { _ = []byte(CookieVal) }

func Now(r *http.Request) { _ = M.now().Unix() }

func NowDirect(r *http.Request) { _ = time.Now().Unix() }

var (
	epoch = time.Unix(0, 0)
	since = time.Since
)

func SinceDirect(r *http.Request) { _ = time.Since(epoch) }

func SinceField(r *http.Request) { _ = since(epoch) }

var clock atomic.Int64

func NowAtomic(r *http.Request) { _ = clock.Load() }

type ent struct {
	next                       *ent
	refreshAt, endAt, seenAt   int64
	hitUntil                   int64
	denied                     string
}

var E = &ent{refreshAt: 1 << 40, endAt: 1 << 40, seenAt: 1 << 40, hitUntil: 1 << 40}

func CondFull(r *http.Request) {
	e, now := E, int64(5)
	if e.next == nil && now < e.refreshAt && now < e.endAt && now < e.seenAt && e.denied == "" {
		return
	}
}

func CondOne(r *http.Request) {
	e, now := E, int64(5)
	if now < e.hitUntil {
		return
	}
}

func Lookup(r *http.Request) {
	c := M.c
	c.mu.RLock()
	_ = c.m["k"]
	c.mu.RUnlock()
}

// LookupRaw is Lookup keyed by the cookie value itself: no SHA-256, the map hashes the string.
func LookupRaw(r *http.Request) {
	c := M.c
	c.mu.RLock()
	_ = c.m[CookieVal]
	c.mu.RUnlock()
}

func SyncMapLoad(r *http.Request) {
	v, _ := smap.Load(CookieVal)
	_ = v
}

func AtomicMapLoad(r *http.Request) {
	m, _ := amap.Load().(map[string]*int)
	_ = m[CookieVal]
}

func SetHeadersShared(r *http.Request) {
	h := r.Header
	for i, v := range shared {
		h[hnames[i]] = v
	}
}

func Strip(r *http.Request) {
	for _, h := range M.names {
		delete(r.Header, h)
	}
}

func SetHeaders(r *http.Request) {
	hs := M.headers
	for i := 0; i+1 < len(hs); i += 2 {
		r.Header[hs[i]] = []string{hs[i+1]}
	}
}

func StripCookies(r *http.Request) {
	cookies := r.Cookies()
	name, prefix := M.name, M.prefix
	var kept []string
	for _, c := range cookies {
		if c.Name != name && !strings.HasPrefix(c.Name, prefix) {
			kept = append(kept, c.Name+"="+c.Value)
		}
	}
	if len(kept) == 0 {
		delete(r.Header, "Cookie")
		return
	}
	r.Header["Cookie"] = []string{strings.Join(kept, "; ")}
}

func HeaderGet(r *http.Request) { _ = r.Header.Get("Authorization") }

func HeaderIndex(r *http.Request) { _ = r.Header["Authorization"] }

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func RangeOnly(r *http.Request) {
	for name := range r.Header {
		_ = name
	}
}

func Underscore(r *http.Request) {
	for name := range r.Header {
		if strings.IndexByte(name, '_') >= 0 && contains(M.names, http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))) {
			delete(r.Header, name)
		}
	}
}

var stripLens = []bool{16: true, 17: false}

func UnderscoreLen(r *http.Request) {
	for name := range r.Header {
		if n := len(name); n < len(stripLens) && stripLens[n] && strings.IndexByte(name, '_') >= 0 && contains(M.names, http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))) {
			delete(r.Header, name)
		}
	}
}

var variants = []string{"X_forwarded-User", "X-Forwarded_user", "X_forwarded_user", "X_forwarded-Name", "X-Forwarded_name", "X_forwarded_name"}

func DeleteVariants(r *http.Request) {
	for _, v := range variants {
		delete(r.Header, v)
	}
}

// --- called as func(http.ResponseWriter, *http.Request), ending with next.ServeHTTP like the middleware ---

func (m *mw) serve(w http.ResponseWriter, r *http.Request) { m.next.ServeHTTP(w, r) }

func serve(m *mw, w http.ResponseWriter, r *http.Request) { m.next.ServeHTTP(w, r) }

func NextTop(w http.ResponseWriter, r *http.Request) { M.next.ServeHTTP(w, r) }

func NextViaMethod(w http.ResponseWriter, r *http.Request) { M.serve(w, r) }

func NextViaFunc(w http.ResponseWriter, r *http.Request) { serve(M, w, r) }

func locals5(w http.ResponseWriter, r *http.Request) {
	a := 1
	b := "x"
	c := M
	d := []string{}
	e := r.Header
	if a == 2 {
		_, _, _, _ = b, c, d, e
	}
	M.next.ServeHTTP(w, r)
}

func locals5Untaken(w http.ResponseWriter, r *http.Request) {
	if r == nil {
		a := 1
		b := "x"
		c := M
		d := []string{}
		e := r.Header
		_, _, _, _, _ = a, b, c, d, e
	}
	M.next.ServeHTTP(w, r)
}

func Locals5(w http.ResponseWriter, r *http.Request) { locals5(w, r) }

func Locals5Untaken(w http.ResponseWriter, r *http.Request) { locals5Untaken(w, r) }
`

// BenchmarkYaegiOps times single hot-path operations under Yaegi (the interpreter set up as Traefik does: stdlib
// symbols), called from compiled code as Traefik calls ServeHTTP. Empty (and NextTop for the second group) is the
// cost of the call and of the loop itself: subtract it.
func BenchmarkYaegiOps(b *testing.B) {
	i := interp.New(interp.Options{})
	if err := i.Use(stdlib.Symbols); err != nil {
		b.Fatal(err)
	}
	if _, err := i.Eval(yaegiOpsSrc); err != nil {
		b.Fatal(err)
	}
	setup, err := i.Eval("ops.Setup")
	if err != nil {
		b.Fatal(err)
	}
	cookieVal := strings.Repeat("a", 3300)
	setup.Interface().(func(http.Handler, string))(noop, cookieVal)

	hdr := http.Header{}
	hdr.Set("Cookie", "other=1; _descopeoidc="+cookieVal+"; theme=dark")
	hdr.Set("Authorization", "Bearer x")
	for _, h := range []string{"User-Agent", "Accept", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Proto", "X-Forwarded-Server", "X-Real-Ip"} {
		hdr.Set(h, "v") // what Traefik's entrypoint adds, as in the load benchmark
	}
	for _, name := range []string{"Empty", "Method", "Func", "Cookie", "Cookies", "CookieLoop", "Sum", "SumConvOnly", "Now", "NowDirect", "SinceDirect", "SinceField", "NowAtomic", "CondFull", "CondOne", "Lookup",
		"LookupRaw", "SyncMapLoad", "AtomicMapLoad", "SetHeadersShared", "Strip", "SetHeaders", "StripCookies", "HeaderGet", "HeaderIndex", "RangeOnly", "Underscore", "UnderscoreLen", "DeleteVariants"} {
		v, err := i.Eval("ops." + name)
		if err != nil {
			b.Fatal(err)
		}
		op := v.Interface().(func(*http.Request))
		b.Run(name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "http://app.example/app", nil)
			b.ReportAllocs()
			cpu := startCPU()
			for n := 0; n < b.N; n++ {
				r.Header = hdr.Clone() // the operations may change the headers
				op(r)
			}
			cpu.report(b)
		})
	}
	for _, name := range []string{"NextTop", "NextViaMethod", "NextViaFunc", "Locals5", "Locals5Untaken"} {
		v, err := i.Eval("ops." + name)
		if err != nil {
			b.Fatal(err)
		}
		op := v.Interface().(func(http.ResponseWriter, *http.Request))
		b.Run(name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "http://app.example/app", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			cpu := startCPU()
			for n := 0; n < b.N; n++ {
				op(w, r)
			}
			cpu.report(b)
		})
	}
}
