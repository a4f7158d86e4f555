package echo

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/a/b?x=1&y=2", strings.NewReader("hello"))
	req.Header.Set("X-Forwarded-User", "demo@example.com")
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	req.Host = "app.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	var got Request
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Method != "POST" || got.Path != "/a/b" || got.Query != "x=1&y=2" || got.Host != "app.localhost" || got.Body != "hello" {
		t.Errorf("got %+v", got)
	}
	if got.Headers["X-Forwarded-User"] != "demo@example.com" || got.Headers["X-Multi"] != "one, two" {
		t.Errorf("headers %v", got.Headers)
	}
	if _, ok := got.Headers["Cookie"]; ok {
		t.Errorf("unexpected Cookie header")
	}
}

func TestCookiesAreReported(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: "abc"})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got Request
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Headers["Cookie"] != "session=abc" || got.Path != "/" || got.Body != "" {
		t.Errorf("got %+v", got)
	}
}
