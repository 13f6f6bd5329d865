package agent

import (
	"regexp"
	"strings"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/records"
)

// SetDetail sets one of the outcome's agent-specific details.
func (o *Outcome) SetDetail(k string, v any) {
	if o.Details == nil {
		o.Details = map[string]any{}
	}
	o.Details[k] = v
}

// SetEnvDefault sets name=value in env (replacing any value it has there)
// unless the entry's env: sets name.
func SetEnvDefault(env []string, entry map[string]string, name, value string) []string {
	if _, ok := entry[name]; ok {
		return env
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return append(out, name+"="+value)
}

// PriceMissingCost fills in u's cost from bench.yaml's prices: (PriceUsage)
// when the agent reported tokens but no cost (a model without known
// prices), and says so in u.Source.
func PriceMissingCost(b *config.Bench, model string, u records.Usage) records.Usage {
	if u.CostUSD == 0 && (u.InputTokens > 0 || u.OutputTokens > 0) {
		if c, ok := PriceUsage(b, model, u); ok {
			u.CostUSD = c
			u.Source += " priced with prices:"
		}
	}
	return u
}

// ansiRE matches terminal escape sequences: CSI (colours, cursor
// movement) and OSC (window titles, hyperlinks).
var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07`)

// CleanLine is a line of terminal output as text: without escape
// sequences, carriage returns and surrounding space.
func CleanLine(b []byte) string {
	s := string(b)
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = ansiRE.ReplaceAllString(s, "")
	}
	return strings.TrimSpace(strings.ReplaceAll(s, "\r", ""))
}

// SplitModel splits a LiteLLM-style model name ("anthropic/claude-x") at
// its first slash into the provider and the provider's own model name;
// provider is "" for a name without a slash.
func SplitModel(model string) (provider, name string) {
	if p, n, ok := strings.Cut(model, "/"); ok && p != "" && n != "" {
		return p, n
	}
	return "", model
}

// HasFlag reports whether args (before a "--") carry one of flags, alone
// or as "--flag=value".
func HasFlag(args []string, flags ...string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		f, _, _ := strings.Cut(a, "=")
		for _, want := range flags {
			if f == want {
				return true
			}
		}
	}
	return false
}
