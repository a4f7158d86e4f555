package providers

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestParseForms(t *testing.T) {
	page := `<html><form method="post" action="/login?back=&amp;state=x1">
<input type="text" name="login" value=""><input type='password' name='password'>
<input type="hidden" name="req" value="a&amp;b"><input type="submit"></form>
<FORM id="op.logoutForm" ACTION="https://op/session/end/confirm"><input name="xsrf" value="t0k"/></FORM></html>`
	forms := parseForms(page)
	if len(forms) != 2 {
		t.Fatalf("expected 2 forms, got %d", len(forms))
	}
	f := forms[0]
	if f.Method != http.MethodPost || f.Action != "/login?back=&state=x1" || f.Fields.Get("req") != "a&b" {
		t.Errorf("first form: expected POST /login?back=&state=x1 with req=a&b, got %s %s %v", f.Method, f.Action, f.Fields)
	}
	if _, ok := f.Fields["password"]; !ok || len(f.Fields) != 3 {
		t.Errorf("first form fields: expected login, password, req; got %v", f.Fields)
	}
	if g := forms[1]; g.ID != "op.logoutForm" || g.Method != http.MethodGet || g.Fields.Get("xsrf") != "t0k" {
		t.Errorf("second form: expected op.logoutForm GET with xsrf, got %+v", g)
	}
	if formWith(forms, "xsrf", "") != &forms[1] || formWith(forms, "req", "other") != nil {
		t.Error("formWith: expected the form with xsrf, and none with req=other")
	}
}

func TestIsRedirectTo(t *testing.T) {
	const cb = "https://127.0.0.1:1/oauth2/callback"
	for u, want := range map[string]bool{
		cb: true, cb + "?code=x": true, cb + "#code=x": true, cb + "x": false, cb + "/x": false,
		"https://127.0.0.1:1/oauth2": false,
	} {
		if got := isRedirectTo(u, cb); got != want {
			t.Errorf("isRedirectTo(%q): expected %v, got %v", u, want, got)
		}
	}
}

// TestWalkToRedirect: redirects are followed, the chosen form is posted with its fields, cookies are kept, and
// the redirect to the target is returned without being requested.
func TestWalkToRedirect(t *testing.T) {
	const target = "https://127.0.0.1:1/cb"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/start":
			http.SetCookie(w, &http.Cookie{Name: "s", Value: "1", Path: "/"})
			http.Redirect(w, r, "/form", http.StatusFound)
		case r.URL.Path == "/form" && r.Method == http.MethodGet:
			_, _ = w.Write([]byte(`<form method="post"><input type="hidden" name="h" value="v"><input name="user"></form>`))
		case r.URL.Path == "/form" && r.PostFormValue("user") == "alice" && r.PostFormValue("h") == "v":
			if c, err := r.Cookie("s"); err != nil || c.Value != "1" {
				http.Error(w, "no cookie", http.StatusBadRequest)
				return
			}
			http.Redirect(w, r, target+"?code=c1", http.StatusSeeOther)
		default:
			http.Error(w, "unexpected", http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	fill := func(_ *url.URL, _ string, forms []htmlForm) (*htmlForm, error) {
		f := formWith(forms, "user", "")
		f.Fields.Set("user", "alice")
		return f, nil
	}
	got, err := walkToRedirect(newBrowser(), srv.URL+"/start", target, fill)
	if err != nil || got != target+"?code=c1" {
		t.Fatalf("expected %s?code=c1, got %q (%v)", target, got, err)
	}
	if _, err := walkToRedirect(newBrowser(), srv.URL+"/nowhere", target, fill); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("an error page: expected an error naming the status, got %v", err)
	}
}
