package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAtLeast(t *testing.T) {
	for _, c := range []struct {
		v         string
		ok, known bool
	}{
		{"3.6.12", true, true}, {"v3.6.0", true, true}, {"3.6", true, true}, {"v3.6.0-rc1", true, true},
		{"3.7.1", true, true}, {"4.0.0", true, true}, {"3.5.9", false, true}, {"v2.11.0", false, true},
		{"dev", false, false}, {"", false, false}, {"3", false, false}, {"3.x", false, false},
	} {
		if ok, known := atLeast(c.v); ok != c.ok || known != c.known {
			t.Errorf("atLeast(%q) = %v, %v; want %v, %v", c.v, ok, known, c.ok, c.known)
		}
	}
}

// fakeTraefik writes an executable that answers `version` like Traefik with the given version.
func fakeTraefik(t *testing.T, dir, version string) string {
	t.Helper()
	bin := filepath.Join(dir, "traefik")
	script := "#!/bin/sh\n[ \"$1\" = version ] || exit 2\nprintf 'Version:      " + version + "\\nCodename:     x\\nGo version:   go1.26\\n'\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestTraefikVersion(t *testing.T) {
	v, err := traefikVersion(fakeTraefik(t, t.TempDir(), "3.6.12"))
	if err != nil || v != "3.6.12" {
		t.Errorf("traefikVersion = %q, %v; want 3.6.12", v, err)
	}
	broken := filepath.Join(t.TempDir(), "traefik")
	_ = os.WriteFile(broken, []byte("#!/bin/sh\necho nope\n"), 0o755)
	if v, err := traefikVersion(broken); err == nil {
		t.Errorf("traefikVersion of a binary without Version line = %q, want an error", v)
	}
}

func TestChooseTraefik(t *testing.T) {
	dir := t.TempDir()
	newer, older, dev := fakeTraefik(t, mkdir(t, dir, "new"), "3.6.12"),
		fakeTraefik(t, mkdir(t, dir, "old"), "2.11.0"), fakeTraefik(t, mkdir(t, dir, "dev"), "dev")
	onPath := func(bin string) func(string) (string, error) {
		return func(name string) (string, error) {
			switch {
			case name != "traefik":
				return name, nil // TRAEFIK=/path: used as given
			case bin == "":
				return "", errors.New("not found")
			}
			return bin, nil
		}
	}
	env := func(explicit, path string) traefikEnv {
		return traefikEnv{explicit: explicit, lookPath: onPath(path), version: traefikVersion, bundled: "/repo/bin/traefik"}
	}
	for _, c := range []struct {
		name           string
		env            traefikEnv
		bin, source    string
		note, errorHas string
	}{
		{"nothing on PATH", env("", ""), "/repo/bin/traefik", "bin/traefik", "", ""},
		{"v3.6 on PATH", env("", newer), newer, "PATH", "", ""},
		{"old on PATH is skipped", env("", older), "/repo/bin/traefik", "bin/traefik", "version 2.11.0, the demo needs v3.6+", ""},
		{"dev on PATH is skipped", env("", dev), "/repo/bin/traefik", "bin/traefik", "version dev", ""},
		{"TRAEFIK wins over PATH", env(newer, older), newer, "TRAEFIK", "", ""},
		{"TRAEFIK too old", env(older, newer), "", "", "", "is Traefik 2.11.0: the demo needs v3.6 or later"},
		{"TRAEFIK dev is used with a note", env(dev, ""), dev, "TRAEFIK", "cannot tell which version", ""},
		{"TRAEFIK missing", traefikEnv{explicit: "/nope/traefik", lookPath: func(string) (string, error) { return "", os.ErrNotExist }}, "", "", "", "not an executable"},
		{"TRAEFIK does not run", env(filepath.Join(dir, "absent"), ""), "", "", "", "version` failed"},
	} {
		got, err := chooseTraefik(c.env)
		if c.errorHas != "" {
			if err == nil || !strings.Contains(err.Error(), c.errorHas) {
				t.Errorf("%s: error %v, want one containing %q", c.name, err, c.errorHas)
			}
			continue
		}
		if err != nil || got.Bin != c.bin || got.Source != c.source || !strings.Contains(got.Note, c.note) || (c.note == "") != (got.Note == "") {
			t.Errorf("%s: got %+v, %v; want bin %s from %s, note containing %q", c.name, got, err, c.bin, c.source, c.note)
		}
	}
}

func mkdir(t *testing.T, parent, name string) string {
	t.Helper()
	d := filepath.Join(parent, name)
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}
