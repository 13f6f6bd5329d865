package k8s

import (
	"slices"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
	"github.com/perfbench/perfbench/internal/shard"
)

// setupAllowance is a rollout's time besides the agent's own: its
// workspace, task file and patch capture.
const setupAllowance = 5 * time.Minute

// deadlineMargin covers the pods' start (image pull, scheduling: a
// Job's deadline counts from its start, not its pods').
const deadlineMargin = 15 * time.Minute

// PrepareDeadline is the prepare Job's activeDeadlineSeconds: the
// largest shard's rollouts (its items, by the shards' own partition, ×
// samples) each at the agent's timeout, kill grace and setupAllowance,
// twice over (a shard retried once redoes what its first pod left), plus
// deadlineMargin. The deadline is the whole Job's: when it passes, every
// shard still running is stopped.
func PrepareDeadline(itemIDs []string, samples, shards int, l records.Limits) time.Duration {
	most := shard.Largest(itemIDs, shards)
	per := l.Timeout.D() + l.KillGrace.D() + setupAllowance
	return time.Duration(most*max(samples, 1)*(1+BackoffLimitPerIndex))*per + deadlineMargin
}

// SecretInput is where the names of the variables the pods take from
// the Secret come from. Only names are read: the values stay where they
// are, and no manifest carries one.
type SecretInput struct {
	// Credentials are the variables the LLM credentials check reads for
	// the entry's model (doctor.CredentialNames): the agent's keys.
	Credentials []string
	// DotEnv is .env: every name, since the Secret is made from it
	// (kubectl create secret generic --from-env-file=.env).
	DotEnv map[string]string
	// Files are bench.yaml's and the task file's text: every ${VAR} they
	// reference, since the pods load them again.
	Files [][]byte
	// Secrets is bench.yaml's secrets: (names scrubbed like keys).
	Secrets []string
	// Extra are names asked for by flag.
	Extra []string
}

// notFromSecret are names a pod must not take from the Secret: the
// pod's own (TMPDIR is the node-local rollout root, the index is the
// shard's), the image's, the harness's settings, and web-search keys,
// which must never reach an agent.
var notFromSecret = []string{"PATH", "HOME", "TMPDIR", "PWD", "OLDPWD", "HOSTNAME", IndexEnv}

// SecretEnv is the sorted names the pods take from the Secret.
func SecretEnv(in SecretInput) []string {
	set := map[string]bool{}
	for _, n := range in.Credentials {
		set[n] = true
	}
	for n := range in.DotEnv {
		set[n] = true
	}
	for _, f := range in.Files {
		for _, n := range References(f) {
			set[n] = true
		}
	}
	for _, n := range in.Secrets {
		set[n] = true
	}
	for _, n := range in.Extra {
		set[n] = true
	}
	var out []string
	for n := range set {
		if n == "" || slices.Contains(notFromSecret, n) || strings.HasPrefix(n, "BENCH_") ||
			len(secrets.FilterEnv([]string{n + "="}, secrets.SearchKeyDenyList)) == 0 {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// References are the names of src's ${VAR} references (config's
// expansion syntax, defaults included: ${A:-${B}} names A and B), in
// order, each once; "$${" is a literal. Comments are not told apart: a
// name there only adds an optional reference.
func References(src []byte) []string {
	var out []string
	s := string(src)
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		if strings.HasPrefix(s[i:], "$${") {
			i += 2
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			continue
		}
		j := i + 2
		for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || j > i+2 && s[j] >= '0' && s[j] <= '9') {
			j++
		}
		if n := s[i+2 : j]; n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
		i = j - 1
	}
	return out
}
