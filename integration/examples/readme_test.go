package examples

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleREADMEsListDescopeSteps: whoever follows only one example's README with a real Descope project is led
// to the one place with the Descope steps, and reads the three that break sign-in when missed (the redirect URL,
// the access key, the azp JWT template), with that example's callback URL.
func TestExampleREADMEsListDescopeSteps(t *testing.T) {
	main, err := os.ReadFile(repoFile("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(main), "\n## Set up your Descope project\n") {
		t.Fatal("README.md has no section 'Set up your Descope project'")
	}
	readmes, err := filepath.Glob(repoFile("examples", "*", "README.md"))
	if err != nil || len(readmes) < 3 {
		t.Fatalf("example READMEs: %v %v", readmes, err)
	}
	for _, f := range readmes {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.Join(strings.Fields(string(b)), " ") // line breaks do not matter
		for _, want := range []string{"../../README.md#set-up-your-descope-project", "**approved redirect URL**",
			"/oauth2/callback`", "**access key**", "**`azp` JWT template**", "`azp claim missing`"} {
			if !strings.Contains(s, want) {
				t.Errorf("%s does not say %q", f, want)
			}
		}
	}
}
