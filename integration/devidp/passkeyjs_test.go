package devidp

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestPasskeyMessages runs the login page's plainMessage (passkey.js) with node: a passkey sign-in on a device
// without a passkey (the browser's NotAllowedError) reads as a plain sentence, not the browser's WebAuthn message;
// the provider's own refusals are shown as they are.
func TestPasskeyMessages(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not installed (make deps installs it): %v", err)
	}
	_, rest, ok1 := strings.Cut(string(passkeyScript), "// plainMessage:begin")
	fn, _, ok2 := strings.Cut(rest, "// plainMessage:end")
	if !ok1 || !ok2 {
		t.Fatal("passkey.js: no plainMessage between its markers")
	}
	const raw = "The operation either timed out or was not allowed. See: https://www.w3.org/TR/webauthn-2/#sctn-privacy-considerations-client."
	cases := []struct {
		Name      string `json:"name"`
		Message   string `json:"message"`
		SigningUp bool   `json:"signingUp"`
		want      string
	}{
		{"NotAllowedError", raw, false, "No passkey was used: this browser or device has no passkey for this site"},
		{"NotAllowedError", raw, true, "No passkey was created"},
		{"InvalidStateError", "The authenticator was previously registered.", true, "already has a passkey"},
		{"SecurityError", "This is an invalid domain.", false, "open the page as http://localhost"},
		{"Error", "unknown passkey", false, "unknown passkey"}, // the provider's refusal
	}
	js, _ := json.Marshal(cases)
	script := fn + `
const cases = ` + string(js) + `;
for (const c of cases) console.log(JSON.stringify(plainMessage({name: c.name, message: c.message}, c.signingUp)));`
	out, err := exec.Command(node, "-e", script).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("node printed %d lines for %d cases:\n%s", len(lines), len(cases), out)
	}
	for i, c := range cases {
		var got string
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got, c.want) || (c.Name != "Error" && strings.Contains(got, c.Message)) {
			t.Errorf("%s (signing up %v): %q, want a sentence containing %q and not the browser's message", c.Name, c.SigningUp, got, c.want)
		}
	}
}
