package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
)

func TestBenchPath(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	b := &config.Bench{Dir: "/proj"}
	for _, tc := range []struct {
		b    *config.Bench
		p    string
		want string
	}{
		{b, "", ""},
		{b, "/etc/c.yaml", "/etc/c.yaml"},
		{b, "c.yaml", "/proj/c.yaml"},
		{b, "../conf/c.yaml", "/conf/c.yaml"},
		{&config.Bench{}, "c.yaml", filepath.Join(wd, "c.yaml")},
		{nil, "sub/c.yaml", filepath.Join(wd, "sub", "c.yaml")},
		{nil, "", ""},
	} {
		if got := BenchPath(tc.b, tc.p); got != tc.want {
			t.Errorf("BenchPath(%+v, %q) = %q, want %q", tc.b, tc.p, got, tc.want)
		}
	}
}

func TestCopyFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("content\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "dst")
	if err := CopyFile(src, dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(dst); err != nil || string(data) != "content\n" {
		t.Errorf("copy: %q %v", data, err)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("mode: %v %v", fi.Mode(), err)
	}
	// An existing file is truncated.
	if err := os.WriteFile(src, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CopyFile(src, dst, 0o644); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(dst); string(data) != "x" {
		t.Errorf("not truncated: %q", data)
	}
	if err := CopyFile(filepath.Join(dir, "none"), filepath.Join(dir, "other"), 0o644); !os.IsNotExist(err) {
		t.Errorf("missing source: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "other")); !os.IsNotExist(err) {
		t.Errorf("destination created for a missing source: %v", err)
	}
	if err := CopyFile(src, filepath.Join(dir, "no", "dir"), 0o644); err == nil {
		t.Error("copy into a missing directory succeeded")
	}
}

func TestCopyConfigFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "conf.yml"), []byte("model: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Rollout{Bench: &config.Bench{Dir: dir}, Secrets: secrets.FromEnv([]string{"ANTHROPIC_API_KEY=sk-ant-test-secret-123456"}, nil)}
	dst := filepath.Join(dir, "copy.yml")
	argv := []string{"agent", "--key", "sk-ant-test-secret-123456"}
	if out := CopyConfigFile(r, &config.Agent{Name: "a"}, dst, argv); out != nil {
		t.Errorf("without config_file: %+v", out)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Errorf("copied without config_file: %v", err)
	}
	if out := CopyConfigFile(r, &config.Agent{Name: "a", Options: &ConfigFileOption{ConfigFile: "conf.yml"}}, dst, argv); out != nil {
		t.Errorf("copy: %+v", out)
	}
	if data, err := os.ReadFile(dst); err != nil || string(data) != "model: x\n" {
		t.Errorf("copy: %q %v", data, err)
	}
	out := CopyConfigFile(r, &config.Agent{Name: "a", Options: &ConfigFileOption{ConfigFile: "none.yml"}}, dst, argv)
	if out == nil || !out.Failed || !strings.HasPrefix(out.Reason, "agent a: config_file: open "+filepath.Join(dir, "none.yml")) || out.Process != nil {
		t.Fatalf("missing config_file: %+v", out)
	}
	if strings.Contains(strings.Join(out.Command, " "), "sk-ant-test") || out.Command[0] != "agent" {
		t.Errorf("command not redacted: %q", out.Command)
	}
}

func TestSetDetail(t *testing.T) {
	var out Outcome
	out.SetDetail("a", 1)
	out.SetDetail("b", "x")
	out.SetDetail("a", 2)
	if !reflect.DeepEqual(out.Details, map[string]any{"a": 2, "b": "x"}) {
		t.Errorf("details %v", out.Details)
	}
}

func TestSetEnvDefault(t *testing.T) {
	env := []string{"PATH=/bin", "COLUMNS=80", "HOME=/h"}
	got := SetEnvDefault(env, nil, "COLUMNS", "4096")
	if want := []string{"PATH=/bin", "HOME=/h", "COLUMNS=4096"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if env[1] != "COLUMNS=80" {
		t.Errorf("env modified: %q", env)
	}
	if got := SetEnvDefault(env, map[string]string{"COLUMNS": "80"}, "COLUMNS", "4096"); !reflect.DeepEqual(got, env) {
		t.Errorf("entry's value overridden: %q", got)
	}
	if got := SetEnvDefault(nil, nil, "X", "1"); !reflect.DeepEqual(got, []string{"X=1"}) {
		t.Errorf("empty env: %q", got)
	}
	// Only the exact name is replaced.
	if got := SetEnvDefault([]string{"XY=2"}, nil, "X", "1"); !reflect.DeepEqual(got, []string{"XY=2", "X=1"}) {
		t.Errorf("prefix: %q", got)
	}
}

func TestPriceMissingCost(t *testing.T) {
	b := &config.Bench{Prices: map[string]config.Price{"m": {Input: 1, Output: 2}}}
	u := records.Usage{InputTokens: 1e6, OutputTokens: 1e6, Source: "stdout"}
	if got := PriceMissingCost(b, "openai/m", u); got.CostUSD != 3 || got.Source != "stdout priced with prices:" {
		t.Errorf("priced %+v", got)
	}
	if got := PriceMissingCost(nil, "m", u); got != u {
		t.Errorf("without prices %+v", got)
	}
	if got := PriceMissingCost(b, "other", u); got != u {
		t.Errorf("unknown model %+v", got)
	}
	// A reported cost, or no tokens, is kept.
	for _, u := range []records.Usage{{CostUSD: 0.5, InputTokens: 10, Source: "s"}, {Turns: 2, Source: "s"}} {
		if got := PriceMissingCost(b, "m", u); got != u {
			t.Errorf("%+v repriced: %+v", u, got)
		}
	}
}

func TestCleanLine(t *testing.T) {
	for in, want := range map[string]string{
		"  plain  ":                           "plain",
		"\x1b[1;32mgreen\x1b[0m text\r":       "green text",
		"\x1b]0;title\x07after":               "after",
		"progress\rdone":                      "progressdone",
		"\x1b[?25lhidden cursor\x1b[?25h\r\n": "hidden cursor",
		"":                                    "",
	} {
		if got := CleanLine([]byte(in)); got != want {
			t.Errorf("CleanLine(%q) = %q, want %q", in, got, want)
		}
	}
}
