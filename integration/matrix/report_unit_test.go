package matrix

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportMarkdown: a row per scenario, a column per provider and target (Yaegi first), notes numbered once per
// provider and text, failures marked with their first message, cells that did not run said so; and the README's
// marked section is the only part rewritten.
func TestReportMarkdown(t *testing.T) {
	r := newReport()
	r.record("p1", "compiled", "login", outcome{ok: true, note: "quirk A"})
	r.record("p1", "yaegi", "login", outcome{ok: true, note: "quirk A"})
	r.record("p1", "yaegi", "reuse", outcome{fail: "boom"})
	r.record("p1", "compiled", "reuse", outcome{ok: true})
	md := r.markdown()
	lines := strings.Split(md, "\n")
	if lines[0] != "| scenario | p1<br>yaegi | p1<br>compiled |" {
		t.Fatalf("header %q", lines[0])
	}
	login := findRow(t, lines, scenarioTitle(t, "login"))
	if login != "| "+scenarioTitle(t, "login")+" | pass [1] | pass [1] |" {
		t.Errorf("login row %q", login)
	}
	reuse := findRow(t, lines, scenarioTitle(t, "reuse"))
	if reuse != "| "+scenarioTitle(t, "reuse")+" | **fail** [2] | pass |" {
		t.Errorf("reuse row %q", reuse)
	}
	if refresh := findRow(t, lines, scenarioTitle(t, "refresh")); refresh != "| "+scenarioTitle(t, "refresh")+" | not run | not run |" {
		t.Errorf("refresh row %q", refresh)
	}
	if !strings.HasSuffix(md, "\n\n1. p1: quirk A\n2. p1: boom\n") {
		t.Errorf("notes:\n%s", md)
	}
	path := filepath.Join(t.TempDir(), "README.md")
	doc := "# x\n" + reportBegin + "\nold table\n" + reportEnd + "\ntail\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MATRIX_REPORT", path)
	r.write(t)
	got, _ := os.ReadFile(path)
	if want := "# x\n" + reportBegin + "\n" + md + reportEnd + "\ntail\n"; string(got) != want {
		t.Errorf("README rewritten as:\n%s\nwant:\n%s", got, want)
	}
}

func scenarioTitle(t *testing.T, name string) string {
	for _, sc := range scenarios {
		if sc.name == name {
			return sc.title
		}
	}
	t.Fatalf("no scenario %q", name)
	return ""
}

func findRow(t *testing.T, lines []string, title string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, "| "+title+" |") {
			return l
		}
	}
	t.Fatalf("no row for %q", title)
	return ""
}
