package config

import (
	"strings"
	"testing"
)

func lookupIn(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "a", "EMPTY": "", "N": "4", "B": "b"}
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"${A}", "a"},
		{"x${A}y${N}z", "xay4z"},
		{"${UNSET}", ""},
		{"${UNSET:-d}", "d"},
		{"${EMPTY:-d}", "d"},
		{"${EMPTY-d}", ""},
		{"${UNSET-d}", "d"},
		{"${A:-d}", "a"},
		{"${A:+alt}", "alt"},
		{"${EMPTY:+alt}", ""},
		{"${EMPTY+alt}", "alt"},
		{"${UNSET+alt}", ""},
		{"${UNSET:-${B:-x}}", "b"},
		{"${UNSET:-${ALSO_UNSET:-x}}", "x"},
		{"${UNSET:-}", ""},
		{"${UNSET:-a b:c-d}", "a b:c-d"},
		{"${A:?never used}", "a"},
		{"${A:-${BAD:?not evaluated}}", "a"},
		{"$${A}", "${A}"},
		{"$$${A}", "$${A}"},
		{"$$", "$$"},
		{"$", "$"},
		{"$5", "$5"},
		{"$NAME", "$NAME"},
		{"cost: 5$", "cost: 5$"},
		{"${UNSET:-$}", "$"},
		{"${UNSET:-$${x}", "${x"},
		{"{}", "{}"},
		{"${_x1}", ""},
	} {
		got, err := Expand(tc.in, lookupIn(vars))
		if err != nil || got != tc.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestExpandErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"${X", `unterminated variable reference "${X" (missing "}")`},
		{"a ${X:-b", `unterminated variable reference "${X:-b" (missing "}")`},
		{"${X:-${Y}", `unterminated variable reference "${X:-${Y}" (missing "}")`},
		{"${", `unterminated variable reference "${" (missing "}")`},
		{"${1X}", `invalid variable reference "${1X}" (a name is letters, digits and _, not starting with a digit)`},
		{"${A.B}", `invalid variable reference "${A.B}" (a name is letters, digits and _, not starting with a digit)`},
		{"${}", `empty variable name in "${}"`},
		{"${X:?}", `required variable X is not set or empty`},
		{"${X:?set X in .env}", `required variable X is not set or empty: set X in .env`},
		{"${EMPTY:?need it}", `required variable EMPTY is not set or empty: need it`},
		{"${X?need it}", `required variable X is not set: need it`},
		{"${X:-${Y:?inner}}", `required variable Y is not set or empty: inner`},
	} {
		got, err := Expand(tc.in, lookupIn(map[string]string{"EMPTY": ""}))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Expand(%q) = %q, %v; want error %s", tc.in, got, err, tc.want)
		}
	}
	if _, err := Expand("${EMPTY?x}", lookupIn(map[string]string{"EMPTY": ""})); err != nil {
		t.Errorf("${EMPTY?x} with EMPTY set to \"\": %v", err)
	}
}

func TestExpandNilLookup(t *testing.T) {
	if got, err := Expand("${A:-x}${B}", nil); err != nil || got != "x" {
		t.Errorf("Expand with nil lookup = %q, %v", got, err)
	}
}

func TestExpandNestingLimit(t *testing.T) {
	deep := strings.Repeat("${A:-", 100) + "x" + strings.Repeat("}", 100)
	if _, err := Expand(deep, nil); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("deep nesting: %v", err)
	}
}

// escapeDollarBraces makes s expand to itself: every "${" becomes "$${".
func escapeDollarBraces(s string) string { return strings.ReplaceAll(s, "${", "$${") }

func FuzzExpand(f *testing.F) {
	for _, seed := range []string{
		"", "plain", "${A}", "${A:-d}", "${B-d}", "${C:?m}", "${D?m}", "${A:+x}", "${A+x}",
		"${A:-${B:-x}}", "$${A}", "$$", "$", "$5", "$NAME", "${X", "${1X}", "${}", "${A:-{}}",
		"${A:-$}", "x${A}y${B}z", "${A:-${B:-${C:-${D}}}}", "${:-}", "${A:}", "$$$${",
	} {
		f.Add(seed, "value")
	}
	f.Fuzz(func(t *testing.T, s, value string) {
		lookup := lookupIn(map[string]string{"A": value, "B": "", "D": "d"})
		out, err := Expand(s, lookup)
		if err != nil {
			if out != "" {
				t.Errorf("Expand(%q) returned %q with error %v", s, out, err)
			}
			if err.Error() == "" {
				t.Errorf("Expand(%q): empty error message", s)
			}
			return
		}
		// No "$": nothing to expand.
		if !strings.Contains(s, "$") && out != s {
			t.Errorf("Expand(%q) = %q, want it unchanged", s, out)
		}
		// Escaping "${" makes any text literal.
		if lit, err := Expand(escapeDollarBraces(s), lookup); err != nil || lit != s {
			t.Errorf("Expand(escape(%q)) = %q, %v; want the text back", s, lit, err)
		}
		// A reference to a variable yields its value whatever it holds.
		if v, err := Expand("${A}", lookup); err != nil || v != value {
			t.Errorf("Expand(${A}) = %q, %v; want %q", v, err, value)
		}
		// A default that needs no escaping beyond "${" comes back intact
		// when the variable is unset.
		if !strings.Contains(s, "}") {
			if d, err := Expand("${UNSET:-"+escapeDollarBraces(s)+"}", lookup); err != nil || d != s {
				t.Errorf("default %q expanded to %q, %v", s, d, err)
			}
		}
		// Expanding is a function of the variables: twice gives the same.
		if again, err := Expand(s, lookup); err != nil || again != out {
			t.Errorf("Expand(%q) not deterministic: %q then %q, %v", s, out, again, err)
		}
	})
}
