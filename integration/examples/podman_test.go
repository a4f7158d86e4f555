package examples

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// containersConf is podman's engine configuration for the tests (given through CONTAINERS_CONF, /etc untouched):
// runc with cgroupfs (crun fails on the hybrid cgroups of the CI kernel, and no systemd runs there) and fixed
// ulimits (a container may not raise them above the runner's).
const containersConf = `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
`

// composeProject is one podman-compose project: the files, the project name and the environment its ${...} read.
type composeProject struct {
	t       *testing.T
	name    string
	files   []string
	env     []string
	dir     string
	up      bool
	started time.Time
}

// newCompose writes the test's containers.conf and returns the project; nothing runs yet.
func newCompose(t *testing.T, name string, env []string, files ...string) *composeProject {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "containers.conf")
	if err := os.WriteFile(conf, []byte(containersConf), 0o644); err != nil {
		t.Fatal(err)
	}
	env = append([]string{"CONTAINERS_CONF=" + conf}, env...)
	return &composeProject{t: t, name: name, files: files, env: env, dir: filepath.Dir(files[0])}
}

func (p *composeProject) args(cmd ...string) []string {
	a := []string{"-p", p.name}
	for _, f := range p.files {
		a = append(a, "-f", f)
	}
	return append(a, cmd...)
}

// podman runs podman with the test's engine configuration.
func (p *composeProject) podman(timeout time.Duration, args ...string) cmdResult {
	return runCmd(timeout, p.env, p.dir, "podman", args...)
}

// Up runs `podman-compose ... up -d` and registers `down` (and the checks that nothing is left) at cleanup, also when
// the test fails. podman-compose exits 0 even when a container did not start: every service must be running.
func (p *composeProject) Up(services ...string) {
	p.t.Helper()
	p.leftovers("before up") // a previous run killed before its cleanup
	p.t.Cleanup(p.down)
	p.up, p.started = true, time.Now()
	r := mustRun(p.t, 3*time.Minute, p.env, p.dir, "podman-compose", p.args("up", "-d")...)
	timing(p.t, "compose up -d", r.dur)
	for _, svc := range services {
		name := p.container(svc)
		st := p.podman(30*time.Second, "inspect", "-f", "{{.State.Status}}", name)
		if strings.TrimSpace(st.out) != "running" {
			p.t.Fatalf("after podman-compose up: container %s is %q (%v), want running\n%s\nits log:\n%s",
				name, strings.TrimSpace(st.out), st.err, tail(r.out, 4000), p.Logs(svc))
		}
	}
}

// container is podman-compose's name for a service's container.
func (p *composeProject) container(service string) string { return p.name + "_" + service + "_1" }

// Logs is a service's container log.
func (p *composeProject) Logs(service string) string {
	return tail(p.podman(30*time.Second, "logs", p.container(service)).out, 20000)
}

// down stops and removes the project's containers and network; failing tests get every container's log first.
func (p *composeProject) down() {
	if !p.up {
		return
	}
	if p.t.Failed() {
		out := p.podman(30*time.Second, "ps", "-a", "--filter", "label=io.podman.compose.project="+p.name,
			"--format", "{{.Names}}").out
		for _, name := range strings.Fields(out) {
			p.t.Logf("log of %s:\n%s", name, tail(p.podman(30*time.Second, "logs", name).out, 8000))
		}
	}
	r := runCmd(2*time.Minute, p.env, p.dir, "podman-compose", p.args("down")...)
	if r.err != nil {
		p.t.Errorf("podman-compose down: %v\n%s", r.err, tail(r.out, 4000))
	}
	timing(p.t, "compose down", r.dur)
	p.leftovers("after down")
}

// leftovers removes (and reports, after down) containers and the network the project left behind.
func (p *composeProject) leftovers(when string) {
	ids := strings.Fields(p.podman(30*time.Second, "ps", "-aq", "--filter", "label=io.podman.compose.project="+p.name).out)
	if len(ids) > 0 {
		if when == "after down" {
			p.t.Errorf("%s: %d container(s) of project %s remain: %v", when, len(ids), p.name, ids)
		}
		p.podman(time.Minute, append([]string{"rm", "-f"}, ids...)...)
	}
	// podman-compose 1.0.3 (Debian 12) leaves the project network after down (docker compose removes it).
	network := p.name + "_default"
	if p.podman(30*time.Second, "network", "exists", network).err == nil {
		if r := p.podman(30*time.Second, "network", "rm", "-f", network); r.err != nil {
			p.t.Errorf("%s: podman network rm %s: %v %s", when, network, r.err, r.out)
		}
	}
}

// buildImages runs examples/compose/build-images.sh --offline and removes the images at cleanup.
func (p *composeProject) buildImages(tags ...string) {
	p.t.Helper()
	p.t.Cleanup(func() {
		r := p.podman(time.Minute, append([]string{"rmi", "-f"}, tags...)...)
		if r.err != nil {
			p.t.Errorf("podman rmi %v: %v\n%s", tags, r.err, r.out)
		}
	})
	env := append([]string{"ENGINE=podman"}, p.env...)
	r := mustRun(p.t, 10*time.Minute, env, p.dir, "./build-images.sh", "--offline")
	timing(p.t, "build-images.sh --offline (3 images)", r.dur)
	for _, tag := range tags {
		if p.podman(30*time.Second, "image", "exists", tag).err != nil {
			p.t.Fatalf("build-images.sh did not build %s:\n%s", tag, r.out)
		}
	}
}
