package slurm

import (
	"slices"
	"strings"

	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/secrets"
)

// BaseVars are the variables bench and the tools it starts read in a job
// when the submitting environment has them: the user's basics, the
// container engine's client, git's configuration switches, and the model
// an agent entry may default to (the same value on every node, or the
// shards' agent configurations would differ). TMPDIR is left to the node,
// which sets its own local one: rollout_root defaults to it.
var BaseVars = []string{
	"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "NO_COLOR",
	"XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
	"DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "CONTAINER_HOST",
	"GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL",
	"LLM_MODEL",
}

// ExportNames are the names a job receives (--export=NONE,<names>): of
// BaseVars, every BENCH_* variable and needed (the names bench's
// configuration referred to), those set in env, without any that is a
// secret — by secrets' rule (LooksSecret), bench.yaml's secrets: list
// (extraSecret) or the web-search deny list. Secrets reach a job only
// through .env, read by bench on the node; Slurm saves the values of
// exported variables with the job. Sorted, each once.
func ExportNames(env []string, needed, extraSecret []string) []string {
	var want []string
	want = append(want, BaseVars...)
	for _, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "BENCH_") {
			want = append(want, name)
		}
	}
	want = append(want, needed...)
	var out []string
	for _, n := range want {
		if _, ok := proc.LookupEnv(env, n); !ok || !validName(n) || IsSecret(n, extraSecret) {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// IsSecret reports whether the variable name is never exported to a job.
func IsSecret(name string, extraSecret []string) bool {
	if secrets.LooksSecret(name) {
		return true
	}
	eq := func(n string) bool { return strings.EqualFold(n, name) }
	return slices.ContainsFunc(extraSecret, eq) || slices.ContainsFunc(secrets.SearchKeyDenyList, eq)
}

// validName is a shell variable name: what --export's comma list can
// carry.
func validName(n string) bool {
	if n == "" {
		return false
	}
	for i, r := range n {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
