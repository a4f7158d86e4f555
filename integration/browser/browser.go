// Package browser drives Debian's headless Chromium (installed by .ci/deps.sh) through chromedp for the end-to-end
// tests of the examples: one tab, polling for the page a redirect chain ends on, screenshots of each step.
package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is Debian's chromium package.
const ChromiumPath = "/usr/bin/chromium"

// Options tune the browser.
type Options struct {
	// HostRules is Chromium's --host-resolver-rules (e.g. "MAP devidp 127.0.0.1"): names the test's containers use
	// among themselves, pointed at the loopback ports they are published on.
	HostRules string
	// IgnoreCertErrors accepts any server certificate (Traefik's default self-signed one).
	IgnoreCertErrors bool
	// Shots is the directory of the step screenshots (NN-name.png); none when empty. Old PNGs in it are removed.
	Shots string
	// Timeout bounds the whole session; default 2 minutes.
	Timeout time.Duration
	// Wait bounds each WaitFor; default 30 seconds.
	Wait time.Duration
}

// Tab is one browser tab with the test's helpers. Every failure ends the test.
type Tab struct {
	t     testing.TB
	ctx   context.Context
	shots string
	wait  time.Duration
	n     int
}

// Page is what the tab shows.
type Page struct {
	URL   string `json:"url"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// PageScript is the script Current evaluates into a Page.
const PageScript = `({
	url: location.href,
	title: document.title,
	text: document.body ? document.body.innerText : "",
})`

func (p Page) String() string {
	return fmt.Sprintf("at %q titled %q, text:\n%.2000s", p.URL, p.Title, p.Text)
}

// Start launches headless Chromium (stopped at cleanup) and opens a tab. A missing chromium fails the test: the
// project's own `make deps` installs it.
func Start(t testing.TB, o Options) *Tab {
	t.Helper()
	if _, err := exec.LookPath(ChromiumPath); err != nil {
		t.Fatalf("%s not found (%v): run `make deps` (apt-get install chromium)", ChromiumPath, err)
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Wait == 0 {
		o.Wait = 30 * time.Second
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-features", "HttpsUpgrades,HttpsFirstBalancedModeAutoEnable"),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1000, 800),
	}
	if o.HostRules != "" {
		opts = append(opts, chromedp.Flag("host-resolver-rules", o.HostRules))
	}
	if o.IgnoreCertErrors {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors", true))
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc) // stops the browser and waits for it
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(cancelCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, o.Timeout)
	t.Cleanup(cancelTimeout)
	if o.Shots != "" {
		if err := os.MkdirAll(o.Shots, 0o755); err != nil {
			t.Fatal(err)
		}
		old, _ := filepath.Glob(filepath.Join(o.Shots, "*.png"))
		for _, f := range old {
			_ = os.Remove(f)
		}
	}
	return &Tab{t: t, ctx: ctx, shots: o.Shots, wait: o.Wait}
}

// Context is the tab's chromedp context, for CDP calls of the test's own (cookies' attributes, WebAuthn).
func (b *Tab) Context() context.Context { return b.ctx }

// Run runs chromedp actions as one named step.
func (b *Tab) Run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("browser: %s: %v", step, err)
	}
}

// Current is what the tab shows now.
func (b *Tab) Current() (Page, error) {
	return chromedp.Run(b.ctx, chromedp.Evaluate[Page](PageScript))
}

// WaitFor polls the tab until cond holds (redirect chains end on their own time), for at most Options.Wait.
func (b *Tab) WaitFor(what string, cond func(Page) bool) Page {
	b.t.Helper()
	return WaitForScript(b, what, PageScript, cond)
}

// WaitForScript polls the value of script (an expression whose JSON value decodes into P) until cond holds, for at
// most Options.Wait; on timeout it takes a screenshot and fails the test with the last value (its String method
// when it has one).
func WaitForScript[P any](b *Tab, what, script string, cond func(P) bool) P {
	b.t.Helper()
	deadline := time.Now().Add(b.wait)
	var last P
	var err error
	for time.Now().Before(deadline) {
		if last, err = chromedp.Run(b.ctx, chromedp.Evaluate[P](script)); err == nil && cond(last) {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Screenshot("timeout")
	b.t.Fatalf("browser: waiting for %s: %v (err %v)", what, last, err)
	return last
}

// FetchJSON loads url in the tab (its cookies) and, from that page, fetches url again with Accept:
// application/json, as a script of the page would: a service that answers browsers with an HTML page answers JSON.
// The page's Content-Security-Policy (which may forbid scripts to connect) is bypassed for that page only.
func (b *Tab) FetchJSON(url string) (int, string) {
	b.t.Helper()
	bypass := func(on bool) {
		if _, err := chromedp.Call(b.ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: on}); err != nil {
			b.t.Fatalf("browser: Page.setBypassCSP: %v", err)
		}
	}
	bypass(true)
	defer bypass(false)
	b.Run("open "+url, chromedp.Navigate(url))
	type result struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	js := fmt.Sprintf(`fetch(%q, {headers: {Accept: "application/json"}, redirect: "manual"}).then(async r => ({status: r.status, body: await r.text()}))`, url)
	r, err := chromedp.Run(b.ctx, chromedp.Evaluate[result](js, chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("browser: fetch %s: %v", url, err)
	}
	return r.Status, r.Body
}

// Screenshot saves the viewport as NN-name.png in the screenshot directory (if any).
func (b *Tab) Screenshot(name string) {
	b.t.Helper()
	if b.shots == "" {
		return
	}
	b.n++
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
}

// Cookie is the tab's value of the named cookie for site ("" when none).
func (b *Tab) Cookie(site, name string) string {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{site + "/"}})
	if err != nil {
		b.t.Fatalf("browser cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
