package descopeoidc

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func resetRepeats() {
	repeats.Lock()
	repeats.m = map[string]*repeatState{}
	repeats.Unlock()
}

// An issuer that differs from discovery's only by a trailing slash: a browser gets the plugin's 503 page (not JSON)
// with a way back, an API client JSON; the log names the key and the published value once, not per request.
func TestIssuerMismatchPageAndOneLogLine(t *testing.T) {
	resetRepeats()
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.mutateDisc = func(d map[string]any) { d["issuer"] = f.issuer + "/" } })
	cfg := f.config()
	cfg.LogLevel = "warn" // the default
	m, _ := newMW(t, f, cfg)
	b := newBrowser(t, m)
	var page *http.Response
	out := captureOutput(t, func() {
		for i := 0; i < 40; i++ { // a burst of navigations, across the fetch's backoff
			rec := b.get("/app/page?x=1")
			page = rec.Result()
			f.clock.Advance(500 * time.Millisecond)
		}
	})
	if page.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") ||
		page.Header.Get("Retry-After") == "" {
		t.Fatalf("browser: %d %q Retry-After %q, want 503 text/html with Retry-After", page.StatusCode, page.Header.Get("Content-Type"), page.Header.Get("Retry-After"))
	}
	body := readBody(t, page)
	mustContain(t, "page", body, "Sign-in service unavailable")
	mustContain(t, "page", body, `href="/app/page?x=1"`)
	if strings.Contains(body, f.issuer) {
		t.Errorf("the page shows configuration details: %s", body)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := fmt.Sprintf(`set issuer: %q`, f.issuer+"/")
	if len(lines) != 1 || !strings.Contains(lines[0], want) || !strings.Contains(lines[0], "level=warn") {
		t.Errorf("log over 20 s of requests: %d lines, want one warning saying %s:\n%q", len(lines), want, out)
	}
}

// With unauthenticated: redirect an API-style request starts a login too: it gets JSON, not the page.
func TestProviderUnavailableAPIGetsJSON(t *testing.T) {
	f := newFakeIdP(t)
	f.set(func(f *fakeIdP) { f.down = true })
	cfg := f.config()
	cfg.Unauthenticated = "redirect"
	m, _ := newMW(t, f, cfg)
	b := newBrowser(t, m)
	r := b.request(http.MethodGet, "/api")
	r.Header.Set("Accept", "application/json")
	r.Header.Del("Sec-Fetch-Mode")
	res := b.do(r).Result()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Content-Type") != "application/json" || res.Header.Get("Retry-After") == "" {
		t.Errorf("API request: %d %q, want 503 JSON with Retry-After", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

// The callback's code exchange during a token endpoint outage: the page, whose link starts the login again.
func TestCallbackOutageShowsPage(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	b := newBrowser(t, m)
	cb := b.authorize(b.get("/app/page").Header().Get("Location"))
	f.set(func(f *fakeIdP) {
		f.tokenHook = func(w http.ResponseWriter, _ *http.Request, _ url.Values) bool {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return true
		}
	})
	res := b.get(cb).Result()
	body := readBody(t, res)
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Sign-in service unavailable") ||
		!strings.Contains(body, `href="/app/page"`) {
		t.Errorf("callback during an outage: %d %s", res.StatusCode, body)
	}
}

func TestProviderUnavailableLinkStaysOnSite(t *testing.T) {
	f := newFakeIdP(t)
	m, _ := newMW(t, f, f.config())
	for _, back := range []string{"//evil.example/x", "https://evil.example/", ""} {
		w := httptest.NewRecorder()
		m.providerUnavailable(w, newBrowser(t, m).request(http.MethodGet, "/"), back)
		mustContain(t, back, w.Body.String(), `href="/"`)
	}
}

func TestAdmitRepeat(t *testing.T) {
	resetRepeats()
	t0 := time.Unix(1_700_000_000, 0)
	if ok, n := admitRepeat("a", t0); !ok || n != 0 {
		t.Fatalf("first: %v %d", ok, n)
	}
	for i := 1; i <= 5; i++ {
		if ok, _ := admitRepeat("a", t0.Add(time.Duration(i)*time.Second)); ok {
			t.Fatalf("repeat %d within the window written", i)
		}
	}
	if ok, _ := admitRepeat("b", t0.Add(time.Second)); !ok {
		t.Error("another message was suppressed")
	}
	if ok, n := admitRepeat("a", t0.Add(repeatWindow)); !ok || n != 5 {
		t.Errorf("after the window: %v, %d suppressed; want true, 5", ok, n)
	}
	for i := 0; i < 3*maxRepeatKeys; i++ { // a flood of distinct messages stays bounded
		admitRepeat(fmt.Sprint("k", i), t0.Add(2*repeatWindow))
	}
	repeats.Lock()
	n := len(repeats.m)
	repeats.Unlock()
	if n > maxRepeatKeys {
		t.Errorf("%d remembered messages, want at most %d", n, maxRepeatKeys)
	}
	resetRepeats()
}

// logf: identical warnings are written once per window, with the count of those suppressed; info lines are not
// limited.
func TestLogfRateLimitsIdenticalWarnings(t *testing.T) {
	resetRepeats()
	f := newFakeIdP(t)
	cfg := f.config()
	cfg.LogLevel = "info"
	m, _ := newMW(t, f, cfg)
	out := captureOutput(t, func() {
		for i := 0; i < 10; i++ {
			m.logf(levelWarn, "same warning")
			m.logf(levelInfo, "info line")
		}
	})
	if c := strings.Count(out, "same warning"); c != 1 {
		t.Errorf("identical warning written %d times, want 1:\n%s", c, out)
	}
	if c := strings.Count(out, "info line"); c != 10 {
		t.Errorf("info line written %d times, want 10", c)
	}
	repeats.Lock()
	for _, st := range repeats.m {
		st.until = time.Time{} // the window has passed
	}
	repeats.Unlock()
	out = captureOutput(t, func() { m.logf(levelWarn, "same warning") })
	mustContain(t, "after the window", out, "same warning (9 identical lines suppressed since the last one)")
	resetRepeats()
}

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
