package doctor

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/textx"
)

// VersionTimeout bounds an agent's --version: a CLI that does not answer
// this fast is not going to tell.
const VersionTimeout = 10 * time.Second

// versionCheck is the check of an entry's installed version against the
// range its kind was checked against (Kind.Checked). It never fails: a
// version outside the range, or one that cannot be told, is a warning.
// Entries run in a container are not asked (that would start one).
func versionCheck(a *config.Agent, kind agent.Kind, probes agent.Probes) (Check, bool) {
	r := kind.Checked
	if r.IsZero() {
		return Check{}, false
	}
	b, env := probes.Bench, probes.Env
	var p agent.VersionProbe
	if r.Probe != nil {
		p = r.Probe(a, probes)
	}
	switch {
	case p.Argv != nil || p.Known != "" || p.None != "":
	case a.Runtime == agent.RuntimeContainer:
		p.None = "runs in a container: not asked"
	default:
		exe := cmpOr(a.CLI, kind.DefaultCLI)
		if kind.Executable != nil {
			exe = kind.Executable(a, b)
		}
		if exe == "" || strings.Contains(exe, "{") || !(filepath.IsAbs(exe) || !strings.Contains(exe, "/")) {
			return Check{}, false
		}
		p.Argv = []string{exe, "--version"}
	}
	return Check{Name: "agent " + a.Name + ": version", Run: func(ctx context.Context) Result {
		return checkVersion(ctx, r, p, env)
	}}, true
}

func checkVersion(ctx context.Context, r agent.Versions, p agent.VersionProbe, env map[string]string) Result {
	checked := "checked: " + r.String()
	if r.Unpinned != "" {
		checked = "no checked range: " + r.Unpinned
	}
	if p.None != "" {
		return Result{OK: true, Detail: p.None + " (" + checked + ")"}
	}
	out := p.Known
	if len(p.Argv) > 0 {
		exe, err := lookPath(p.Argv[0], env)
		if err != nil {
			return Result{OK: true, Warn: true, Detail: fmt.Sprintf("version not known: %v (%s)", err, checked)}
		}
		ctx, cancel := context.WithTimeout(ctx, VersionTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, exe, p.Argv[1:]...)
		cmd.Env = []string{}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.WaitDelay = time.Second
		b, err := cmd.CombinedOutput()
		out = strings.TrimSpace(string(b))
		if err != nil {
			return Result{OK: true, Warn: true, Detail: fmt.Sprintf("%s: %v %s (%s)", strings.Join(p.Argv, " "), err, textx.Brief(textx.FirstLine(out), 120), checked)}
		}
	}
	v, ok := agent.ParseVersion(out)
	if !ok {
		return Result{OK: true, Warn: true, Detail: fmt.Sprintf("no version in %q (%s)", textx.Brief(textx.FirstLine(out), 120), checked)}
	}
	if !r.Contains(v) {
		return Result{OK: true, Warn: true, Detail: fmt.Sprintf("%s is outside the versions the adapter was checked against (%s; see docs/agents/compatibility.md): its flags or formats may have changed", v, r)}
	}
	return Result{OK: true, Detail: v + " (" + checked + ")"}
}
