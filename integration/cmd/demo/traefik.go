package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/traefik-descope/descopeoidc/integration/stack"
)

// minMajor.minMinor is the oldest Traefik the demo runs: the plugin is written and tested for v3.6.
const minMajor, minMinor = 3, 6

// traefikChoice is the binary the demo runs and why.
type traefikChoice struct {
	Bin     string
	Version string // as the binary reports it; "" for bin/traefik
	Source  string // "TRAEFIK", "PATH" or "bin/traefik"
	Note    string // printed before starting (a PATH traefik that was skipped, an unknown version)
}

// traefikEnv is what chooseTraefik looks at; tests replace its parts.
type traefikEnv struct {
	explicit string                           // $TRAEFIK
	lookPath func(string) (string, error)     // exec.LookPath
	version  func(bin string) (string, error) // the Version line of `bin version`
	bundled  string                           // bin/traefik
}

func defaultTraefikEnv() traefikEnv {
	return traefikEnv{explicit: os.Getenv("TRAEFIK"), lookPath: exec.LookPath, version: traefikVersion, bundled: stack.BinPath()}
}

// chooseTraefik picks TRAEFIK when set (refused when it does not run or reports a version before v3.6), else a
// traefik v3.6+ on PATH, else bin/traefik (the caller builds it when missing). A traefik on PATH that is older
// or does not say its version is skipped, with a note.
func chooseTraefik(env traefikEnv) (traefikChoice, error) {
	if env.explicit != "" {
		bin, err := env.lookPath(env.explicit)
		if err != nil {
			return traefikChoice{}, fmt.Errorf("TRAEFIK=%s: not an executable (%v); unset TRAEFIK to build bin/traefik", env.explicit, err)
		}
		v, err := env.version(bin)
		if err != nil {
			return traefikChoice{}, fmt.Errorf("TRAEFIK=%s: `%s version` failed: %v", env.explicit, bin, err)
		}
		c := traefikChoice{Bin: bin, Version: v, Source: "TRAEFIK"}
		switch ok, known := atLeast(v); {
		case known && !ok:
			return traefikChoice{}, fmt.Errorf("TRAEFIK=%s is Traefik %s: the demo needs v%d.%d or later (unset TRAEFIK to build v3.6.12 into bin/traefik)", env.explicit, v, minMajor, minMinor)
		case !known:
			c.Note = fmt.Sprintf("cannot tell which version %s is (it says %q): using it as TRAEFIK asks; the demo needs v%d.%d+", bin, v, minMajor, minMinor)
		}
		return c, nil
	}
	bundled := traefikChoice{Bin: env.bundled, Source: "bin/traefik"}
	bin, err := env.lookPath("traefik")
	if err != nil {
		return bundled, nil
	}
	v, err := env.version(bin)
	if ok, known := atLeast(v); err != nil || !ok || !known {
		if err != nil {
			v = "unknown (" + err.Error() + ")"
		}
		bundled.Note = fmt.Sprintf("not using %s from PATH: version %s, the demo needs v%d.%d+ (set TRAEFIK=/path/to/traefik to choose one)", bin, v, minMajor, minMinor)
		return bundled, nil
	}
	return traefikChoice{Bin: bin, Version: v, Source: "PATH"}, nil
}

var versionNumber = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$`)

// atLeast compares a reported version ("3.6.12", "v3.6.0-rc1") with v3.6; known is false when v is not a version
// number (a build without version stamp says "dev").
func atLeast(v string) (ok, known bool) {
	m := versionNumber.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return false, false
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return major > minMajor || (major == minMajor && minor >= minMinor), true
}

// traefikVersion runs `bin version` and returns its Version line's value.
func traefikVersion(bin string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "Version" {
			return strings.TrimSpace(v), nil
		}
	}
	return "", errors.New("no Version line in its output")
}

// describe is the line the demo prints about the binary it runs.
func (c traefikChoice) describe() string {
	switch c.Source {
	case "bin/traefik":
		return "bin/traefik (Traefik v3.6.12 built from integration/go.mod)"
	case "TRAEFIK":
		return fmt.Sprintf("%s (Traefik %s, from TRAEFIK)", c.Bin, c.Version)
	default:
		return fmt.Sprintf("%s (Traefik %s, found on PATH)", c.Bin, c.Version)
	}
}
