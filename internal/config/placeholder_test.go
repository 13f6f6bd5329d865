package config

import (
	"reflect"
	"testing"
)

func TestFindPlaceholders(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"python bench.py --seed {seed} --round {round} {workspace}", []string{"seed", "round", "workspace"}},
		// Shell and template syntax that is not a placeholder.
		{`echo ${HOME} ${X:-{y}} $${Z}`, nil},
		{`awk '{print $1}' f; find . -exec rm {} \; ; { true; }; echo {a,b}`, nil},
		{`docker ps --format '{{.ID}}'; echo {{name}}`, nil},
		{`echo {''x} {1x} {} {x-y}`, nil},
		{"python -c 'print(f\"{x}\")'", []string{"x"}},
		{"{seed}{round}", []string{"seed", "round"}},
		{"x{seed", nil},
	}
	for _, c := range cases {
		var got []string
		for _, p := range FindPlaceholders(c.in) {
			got = append(got, p.Name)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("FindPlaceholders(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestEvaluationPlaceholders(t *testing.T) {
	const base = "id: x\nrepo: {url: u}\n"
	ok := []string{
		base + "evaluation:\n  workload: sh run.sh {seed} {round} {workspace}\n  setup: ['gen {seed} > in.txt', 'echo ${HOME} | awk ''{print $1}''']\n  correctness: ['test -s {workspace}/in.txt']\n",
		base + "evaluation:\n  workload: \"echo $${PATH} {{.ID}} {''x}\"\n",
		// The agent-facing workload is not an evaluation command.
		base + "workload: python -c 'print(f\"{x}\")'\n",
		// Braces of the command's own language that are no near-miss of
		// a placeholder stay as they are.
		base + "evaluation:\n  correctness: [\"python -c 'x=1; print(f\\\"{x}\\\")'\"]\n",
	}
	for _, src := range ok {
		if _, err := parseTask("t.yaml", []byte(src), Vars{}); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
	bad := []struct{ src, want string }{
		{base + "evaluation:\n  workload: sh run.sh {sed}\n",
			`t.yaml:4:13: evaluation.workload: unknown placeholder {sed} (did you mean {seed}? known: {workspace}, {round}, {seed}); for a literal {sed} write {''sed}, which sh reads as {sed}`},
		{base + "evaluation:\n  setup:\n    - make\n    - gen {Round}\n",
			`t.yaml:6:7: evaluation.setup[1]: unknown placeholder {Round}`},
		{base + "evaluation:\n  correctness: [\"python -c 'print(f\\\"{seeds}\\\")'\"]\n",
			`t.yaml:4:17: evaluation.correctness[0]: unknown placeholder {seeds} (did you mean {seed}?`},
		{"id: x\nrepo:\n  url: u\n  pairs:\n    - human: abc\n      evaluation: {workload: 'run {sede}'}\n",
			`unknown placeholder {sede}`},
	}
	for _, c := range bad {
		_, err := parseTask("t.yaml", []byte(c.src), Vars{})
		if err == nil || !containsStr(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.src, err, c.want)
		}
		if b, ok := err.(interface{ BadInput() bool }); err != nil && (!ok || !b.BadInput()) {
			t.Errorf("%q: not bad input: %v", c.src, err)
		}
	}
}

func containsStr(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
