package providers

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// htmlForm is one <form> of a provider's page, as a browser would submit it.
type htmlForm struct {
	ID, Action, Method string
	Fields             url.Values // inputs with a name and their value (hidden ones included)
}

var (
	formRe  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRe = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	attrRe  = regexp.MustCompile(`(?is)([a-z][a-z0-9_.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')`)
)

// parseForms finds the forms of an HTML page. It is enough for the providers' own simple pages (login, consent,
// approval, logout confirmation), not a general HTML parser.
func parseForms(page string) []htmlForm {
	var forms []htmlForm
	for _, m := range formRe.FindAllStringSubmatch(page, -1) {
		a := attrs(m[1])
		f := htmlForm{ID: a["id"], Action: a["action"], Method: strings.ToUpper(a["method"]), Fields: url.Values{}}
		if f.Method == "" {
			f.Method = http.MethodGet
		}
		for _, in := range inputRe.FindAllStringSubmatch(m[2], -1) {
			ia := attrs(in[1])
			if ia["name"] != "" {
				f.Fields.Add(ia["name"], ia["value"])
			}
		}
		forms = append(forms, f)
	}
	return forms
}

func attrs(s string) map[string]string {
	out := map[string]string{}
	for _, m := range attrRe.FindAllStringSubmatch(s, -1) {
		v := m[2]
		if v == "" {
			v = m[3]
		}
		out[strings.ToLower(m[1])] = html.UnescapeString(v)
	}
	return out
}

// pageFiller chooses what to submit on a provider's page: a form with its fields filled in, or an error when the
// page is not one it knows.
type pageFiller func(pageURL *url.URL, body string, forms []htmlForm) (*htmlForm, error)

// maxSteps bounds a login: redirects plus form submissions.
const maxSteps = 25

// walkToRedirect plays a browser from start: it follows redirects and submits the forms fill chooses (with
// client's cookie jar) until the provider redirects to redirectURI, and returns that URL without requesting it.
func walkToRedirect(client *http.Client, start, redirectURI string, fill pageFiller) (string, error) {
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequest(http.MethodGet, start, nil)
	if err != nil {
		return "", err
	}
	for step := 0; step < maxSteps; step++ {
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode/100 == 3 {
			next, err := req.URL.Parse(loc)
			if err != nil {
				return "", fmt.Errorf("bad redirect %q: %w", loc, err)
			}
			if isRedirectTo(next.String(), redirectURI) {
				return next.String(), nil
			}
			if req, err = http.NewRequest(http.MethodGet, next.String(), nil); err != nil {
				return "", err
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("%s %s: expected a redirect or a page, got %s: %.300s", req.Method, req.URL, resp.Status, body)
		}
		if req, err = submit(req.URL, string(body), fill); err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("no redirect to %s after %d steps", redirectURI, maxSteps)
}

// submit builds the request a browser sends for the form fill chose on the page at pageURL.
func submit(pageURL *url.URL, body string, fill pageFiller) (*http.Request, error) {
	f, err := fill(pageURL, body, parseForms(body))
	if err != nil {
		return nil, fmt.Errorf("page %s: %w", pageURL, err)
	}
	action, err := pageURL.Parse(f.Action)
	if err != nil {
		return nil, err
	}
	return formRequest(f, action.String())
}

// formRequest is f submitted to action (an absolute URL).
func formRequest(f *htmlForm, action string) (*http.Request, error) {
	if f.Method == http.MethodGet {
		u, err := url.Parse(action)
		if err != nil {
			return nil, err
		}
		u.RawQuery = f.Fields.Encode()
		return http.NewRequest(http.MethodGet, u.String(), nil)
	}
	req, err := http.NewRequest(http.MethodPost, action, strings.NewReader(f.Fields.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// isRedirectTo reports whether u is target with a query or fragment (or exactly target).
func isRedirectTo(u, target string) bool {
	if !strings.HasPrefix(u, target) {
		return false
	}
	rest := u[len(target):]
	return rest == "" || rest[0] == '?' || rest[0] == '#'
}

// formWith returns the first form that has a field named name (with value, when value is not ""), or nil.
func formWith(forms []htmlForm, name, value string) *htmlForm {
	for i := range forms {
		if vs, ok := forms[i].Fields[name]; ok && (value == "" || (len(vs) > 0 && vs[0] == value)) {
			return &forms[i]
		}
	}
	return nil
}
