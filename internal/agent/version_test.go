package agent

import "testing"

func TestParseVersion(t *testing.T) {
	for out, want := range map[string]string{
		// What each CLI's --version prints.
		"aider 0.86.1\n":                 "0.86.1",
		"codex-cli 0.46.0\n":             "0.46.0",
		"2.1.3 (Claude Code)\n":          "2.1.3",
		"cli, version 0.1.0\n":           "0.1.0",
		"trae-cli, version 0.1.0":        "0.1.0",
		"mini-swe-agent v2.4.1":          "2.4.1",
		"0.62.0-nikolaik":                "0.62.0",
		"\nwarning: x\nopenhands 0.54\n": "0.54",
		"codex-cli 0.0.0-standin":        "0.0.0",
	} {
		if got, ok := ParseVersion(out); !ok || got != want {
			t.Errorf("ParseVersion(%q) = %q, %v; want %q", out, got, ok, want)
		}
	}
	for _, out := range []string{"", "latest", "main", "error: unknown option"} {
		if got, ok := ParseVersion(out); ok {
			t.Errorf("ParseVersion(%q) = %q, want none", out, got)
		}
	}
}

func TestVersionsContains(t *testing.T) {
	aider := Versions{Min: "0.86.0", Max: "0.86"}
	oh := Versions{Min: "0.54.0", Max: "0.62.0"}
	for _, c := range []struct {
		r    Versions
		v    string
		want bool
	}{
		{aider, "0.86.0", true},
		{aider, "0.86.2", true},
		{aider, "0.85.9", false},
		{aider, "0.87.0", false},
		{aider, "1.0.0", false},
		{oh, "0.54", true},
		{oh, "0.58.1", true},
		{oh, "0.62.0", true},
		{oh, "0.62.1", false},
		{oh, "0.53.0", false},
		{Versions{Min: "2.1.0", Max: "2.1"}, "2.1.110", true},
		{Versions{Min: "2.1.0", Max: "2.1"}, "2.0.76", false},
		{aider, "x.y", false},
	} {
		if got := c.r.Contains(c.v); got != c.want {
			t.Errorf("%v contains %s = %v, want %v", c.r, c.v, got, c.want)
		}
	}
	if s := aider.String(); s != "0.86.0 to 0.86.x" {
		t.Errorf("String = %q", s)
	}
}
