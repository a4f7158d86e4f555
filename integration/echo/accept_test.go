package echo

import "testing"

func TestWantsHTML(t *testing.T) {
	cases := []struct {
		accept []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"*/*"}, false},                  // curl
		{[]string{"application/json"}, false},     // API clients
		{[]string{"text/*"}, false},               // wildcards do not count
		{[]string{"text/html"}, true},             // explicit
		{[]string{"application/xhtml+xml"}, true}, // explicit
		// Chromium's navigation Accept.
		{[]string{"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"}, true},
		{[]string{"application/json, TEXT/HTML ; q=0.5"}, true},
		{[]string{"text/html;q=0"}, false},
		{[]string{"text/html; q=0.000"}, false},
		{[]string{"text/html;q=abc"}, false},
		{[]string{"text/html;q=NaN"}, false},
		{[]string{"text/html;q=2"}, false},
		{[]string{"text/html;level=1;q=0.1"}, true},
		{[]string{"application/json", "text/html"}, true}, // several header lines
	}
	for _, c := range cases {
		if got := wantsHTML(c.accept); got != c.want {
			t.Errorf("wantsHTML(%q) = %v, want %v", c.accept, got, c.want)
		}
	}
}
