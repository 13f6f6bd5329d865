package miniswe

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
)

func TestCommand(t *testing.T) {
	r := &agent.Rollout{TaskFile: "/r/task.txt", OutDir: "/r/out", Prompt: "Make bench.sh faster.\n"}
	ad, _ := New(&config.Agent{Name: "m", Type: Kind.Type, Model: "anthropic/claude-sonnet-4-5"})
	got, _ := ad.Command(r)
	want := []string{"mini", "-t", "Make bench.sh faster.\n", "-y", "--exit-immediately",
		"-m", "anthropic/claude-sonnet-4-5", "-l", "0", "-o", "/r/out/trajectory.json", "-c", BuiltinPlaceholder}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("argv\n got %q\nwant %q", got, want)
	}

	// Limits: -l, and the step limit as a config override after the
	// default config, always a path (mini looks for a bare name in the
	// working directory first); extra_args last.
	r.Limits = records.Limits{MaxIterations: 40, MaxBudgetUSD: 2.5}
	ad, _ = New(&config.Agent{Name: "m", Type: Kind.Type, CLI: "/opt/mini", ExtraArgs: []string{"--model-class", "anthropic"}})
	got, _ = ad.Command(r)
	want = []string{"/opt/mini", "-t", "Make bench.sh faster.\n", "-y", "--exit-immediately",
		"-l", "2.5", "-o", "/r/out/trajectory.json", "-c", BuiltinPlaceholder, "-c", "agent.step_limit=40", "--model-class", "anthropic"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("argv\n got %q\nwant %q", got, want)
	}

	// $MSWEA_MINI_CONFIG_PATH is the default config.
	r.Env = []string{"MSWEA_MINI_CONFIG_PATH=/etc/mini/custom.yaml"}
	got, _ = ad.Command(r)
	if s := strings.Join(got, " "); !strings.Contains(s, "-c /etc/mini/custom.yaml -c agent.step_limit=40") {
		t.Errorf("argv %q", got)
	}

	// config_file: its copy in the output folder is the base config, with
	// or without a step limit.
	ad, _ = New(&config.Agent{Name: "m", Type: Kind.Type, Options: &agent.ConfigFileOption{ConfigFile: "mine.yaml"}})
	got, _ = ad.Command(r)
	if s := strings.Join(got, " "); !strings.HasSuffix(s, "-c /r/out/mini_swe_agent_config.yaml -c agent.step_limit=40") {
		t.Errorf("argv %q", got)
	}
	r.Limits = records.Limits{}
	got, _ = ad.Command(r)
	if s := strings.Join(got, " "); !strings.HasSuffix(s, "-l 0 -o /r/out/trajectory.json -c /r/out/mini_swe_agent_config.yaml") {
		t.Errorf("argv %q", got)
	}

	// --dry-run has no prompt.
	r.Prompt = ""
	got, _ = ad.Command(r)
	if got[2] != "<contents of /r/task.txt>" {
		t.Errorf("dry-run task %q", got[2])
	}
}

// TestBuiltinConfig finds the builtin mini.yaml through the #! line of a
// pip-installed mini script (directly and through env), as mini.py's
// DEFAULT_CONFIG_FILE names it, and says why when it cannot.
func TestBuiltinConfig(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site-packages", "minisweagent")
	os.MkdirAll(filepath.Join(site, "config"), 0o755)
	os.WriteFile(filepath.Join(site, "config", "mini.yaml"), []byte("agent: {}\n"), 0o644)
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	// The fake Python answers the package lookup (after a banner line, as
	// an import would print) and nothing else.
	os.WriteFile(filepath.Join(bin, "python3.12"), []byte("#!/bin/sh\n[ \"$1\" = -c ] || exit 9\ncase \"$2\" in *find_spec*) echo banner; echo "+site+";; *) exit 8;; esac\n"), 0o755)
	os.WriteFile(filepath.Join(bin, "mini"), []byte("#!"+filepath.Join(bin, "python3.12")+"\nimport sys\n"), 0o755)
	os.WriteFile(filepath.Join(bin, "mini-env"), []byte("#!/usr/bin/env python3.12\n"), 0o755)
	os.WriteFile(filepath.Join(bin, "mini-bin"), []byte("\x7fELF"), 0o755)
	os.WriteFile(filepath.Join(bin, "mini-sh"), []byte("#!/bin/sh\n"), 0o755)
	env := []string{"PATH=" + bin + ":/usr/bin:/bin"}
	want := filepath.Join(site, "config", "mini.yaml")
	for _, cli := range []string{"mini", "mini-env"} {
		if got, err := BuiltinConfig(context.Background(), cli, env); err != nil || got != want {
			t.Errorf("%s: %q, %v; want %s", cli, got, err, want)
		}
	}
	for cli, why := range map[string]string{"mini-bin": "not a script", "mini-sh": "not a Python", "mini-none": "not on PATH"} {
		if got, err := BuiltinConfig(context.Background(), cli, env); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %q, %v; want an error saying %q", cli, got, err, why)
		}
	}
}

func TestEnv(t *testing.T) {
	ad, _ := New(&config.Agent{Name: "m", Type: Kind.Type, Env: map[string]string{"MSWEA_VISUAL_MODE_DEFAULT": "false"}})
	r := &agent.Rollout{Env: []string{"A=1", "MSWEA_CONFIGURED=", "MSWEA_VISUAL_MODE_DEFAULT=false"}}
	got := ad.env(r)
	want := []string{"A=1", "MSWEA_VISUAL_MODE_DEFAULT=false", "MSWEA_CONFIGURED=true", "COLUMNS=4096"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("env\n got %q\nwant %q", got, want)
	}
}

func readTraj(t *testing.T, name string) *Trajectory {
	t.Helper()
	tr, err := ReadTrajectory(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTrajectory(t *testing.T) {
	tests := []struct {
		file   string
		usage  records.Usage
		status string
		exc    string
	}{
		{"traj_submitted.json", records.Usage{CostUSD: 0.0248, InputTokens: 10420, OutputTokens: 482, CacheReadTokens: 6200, CacheWriteTokens: 3600, Turns: 3, Source: SourceTrajectory}, "Submitted", ""},
		{"traj_steplimit.json", records.Usage{CostUSD: 0.0206, InputTokens: 6620, OutputTokens: 392, CacheReadTokens: 2900, CacheWriteTokens: 3300, Turns: 2, Source: SourceTrajectory}, "LimitsExceeded", ""},
		{"traj_auth.json", records.Usage{Turns: 1, Source: SourceTrajectory}, "AuthenticationError", "litellm.AuthenticationError: AnthropicException"},
		{"traj_v1.json", records.Usage{CostUSD: 0.0312, Turns: 4, Source: SourceTrajectory}, "Submitted", ""},
		{"traj_v1_ratelimit.json", records.Usage{CostUSD: 0.002, Turns: 1, Source: SourceTrajectory}, "RateLimitError", "litellm.RateLimitError: RateLimitError"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			tr := readTraj(t, tt.file)
			if u := tr.Usage(); u != tt.usage {
				t.Errorf("usage\n got %+v\nwant %+v", u, tt.usage)
			}
			if s := tr.ExitStatus(); s != tt.status {
				t.Errorf("exit status %q", s)
			}
			if e := tr.Exception(); !strings.HasPrefix(e, tt.exc) || (tt.exc == "") != (e == "") {
				t.Errorf("exception %q", e)
			}
		})
	}
	if _, err := ReadTrajectory(filepath.Join("testdata", "traj_truncated.json")); err == nil {
		t.Error("a half-written trajectory parsed")
	}
}

func TestTrajectoryTolerant(t *testing.T) {
	// Odd types do not fail the parse; they count as nothing.
	tr, err := ParseTrajectory([]byte(`{"info": {"model_stats": {"instance_cost": "0.5", "api_calls": null}, "exit_status": 3,
		"config": {"agent": {"step_limit": "x"}}}, "messages": [1, {"role": "assistant", "extra": "no"},
		{"role": "assistant", "extra": {"response": {"usage": {"prompt_tokens": -5, "completion_tokens": 1e400}}}},
		{"role": "assistant", "extra": {"response": {"usage": {"prompt_tokens": 7, "completion_tokens": 2}}, "cost": 0.1}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := records.Usage{CostUSD: 0.5, InputTokens: 7, OutputTokens: 2, Turns: 2, Source: SourceTrajectory}
	if u := tr.Usage(); u != want {
		t.Errorf("usage %+v", u)
	}
	if tr.ExitStatus() != "" {
		t.Errorf("status %q", tr.ExitStatus())
	}
}

func feed(t *testing.T, fixture string) (Summary, []records.Usage) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	var reports []records.Usage
	st := NewStream(nil, func(u records.Usage) { reports = append(reports, u) })
	lw := &agent.LineWriter{W: &bytes.Buffer{}, Fn: st.Line}
	for len(data) > 0 {
		n := min(5, len(data))
		lw.Write(data[:n])
		data = data[n:]
	}
	lw.Close()
	return st.Summary(), reports
}

func TestStream(t *testing.T) {
	sum, reports := feed(t, "stdout_steps.txt")
	want := records.Usage{CostUSD: 0.02, Turns: 2, Source: SourceStdout}
	if sum.Usage != want {
		t.Errorf("usage %+v", sum.Usage)
	}
	// The step line inside the command output (step 1 again) is ignored.
	// Live reports have a lower bound of the cost ($0.02 is at least
	// $0.015).
	if len(reports) != 2 || reports[0].Turns != 1 || reports[1].Turns != 2 || reports[1].CostUSD < 0.0149 || reports[1].CostUSD > 0.015 {
		t.Errorf("reports %+v", reports)
	}
	if sum.Version != "2.2.0" || !sum.LimitsPrompt || sum.LimitSteps != 2 || sum.LimitCost != 0 {
		t.Errorf("summary %+v", sum)
	}
}

func TestLimitsHit(t *testing.T) {
	steplimit := readTraj(t, "traj_steplimit.json")
	submitted := readTraj(t, "traj_submitted.json")
	eof, _ := ParseTrajectory([]byte(`{"info": {"model_stats": {"instance_cost": 0.31, "api_calls": 4}, "exit_status": "EOFError",
		"config": {"agent": {"step_limit": 0, "cost_limit": 0.3}}}}`))
	costStop, _ := ParseTrajectory([]byte(`{"info": {"model_stats": {"instance_cost": 0.52, "api_calls": 9}, "exit_status": "LimitsExceeded"}}`))
	tests := []struct {
		name string
		f    Facts
		l    records.Limits
		want []string
	}{
		{"step limit from the trajectory", Facts{Trajectory: steplimit}, records.Limits{}, []string{"max_iterations"}},
		{"submitted", Facts{Trajectory: submitted}, records.Limits{MaxIterations: 3}, nil},
		{"older versions: prompt, then EOFError", Facts{Trajectory: eof, Stream: Summary{LimitsPrompt: true, LimitCost: 0.3}}, records.Limits{}, []string{"max_budget_usd"}},
		{"EOFError without the prompt", Facts{Trajectory: eof}, records.Limits{}, nil},
		{"prompt, no trajectory", Facts{Stream: Summary{LimitsPrompt: true, LimitSteps: 2, Usage: records.Usage{Turns: 2, CostUSD: 0.01}}}, records.Limits{}, []string{"max_iterations"}},
		{"no limits in the trajectory: the configured ones", Facts{Trajectory: costStop}, records.Limits{MaxBudgetUSD: 0.5, MaxIterations: 20}, []string{"max_budget_usd"}},
	}
	for _, tt := range tests {
		if got := tt.f.LimitsHit(tt.l); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestInfra(t *testing.T) {
	tests := []struct {
		json string
		kind agent.InfraKind
	}{
		{`{"info": {"exit_status": "AuthenticationError"}, "messages": [{"role": "exit", "extra": {"exit_status": "AuthenticationError", "exception_str": "litellm.AuthenticationError: invalid x-api-key"}}]}`, agent.InfraAuth},
		{`{"info": {"exit_status": "RateLimitError", "submission": "litellm.RateLimitError: slow down"}}`, agent.InfraRateLimit},
		{`{"info": {"exit_status": "NotFoundError"}}`, agent.InfraModelNotFound},
		{`{"info": {"exit_status": "InternalServerError", "submission": "litellm.InternalServerError: AnthropicException - Overloaded"}}`, agent.InfraProviderUnavailable},
		{`{"info": {"exit_status": "InternalServerError", "submission": "litellm.InternalServerError: OpenAIException - The server had an error while processing your request."}}`, agent.InfraProviderUnavailable},
		{`{"info": {"exit_status": "APIConnectionError", "submission": "litellm.APIConnectionError: Connection error."}}`, agent.InfraOther},
		{`{"info": {"exit_status": "BadRequestError", "submission": "litellm.BadRequestError: LLM Provider NOT provided. You passed model=nope"}}`, agent.InfraModelNotFound},
		{`{"info": {"exit_status": "BadRequestError", "submission": "litellm.BadRequestError: prompt is too long"}}`, ""},
		{`{"info": {"exit_status": "Submitted"}}`, ""},
		{`{"info": {"exit_status": "RuntimeError", "submission": "Error calculating cost for model x"}}`, ""},
	}
	for _, tt := range tests {
		tr, err := ParseTrajectory([]byte(tt.json))
		if err != nil {
			t.Fatal(err)
		}
		ie := Facts{Trajectory: tr}.Infra()
		var got agent.InfraKind
		if ie != nil {
			got = ie.Kind
			if !strings.Contains(ie.Msg, tr.ExitStatus()) {
				t.Errorf("%s: message %q does not name the exception", tt.json, ie.Msg)
			}
		}
		if got != tt.kind {
			t.Errorf("%s: %q, want %q", tt.json, got, tt.kind)
		}
	}
	if (Facts{}).Infra() != nil {
		t.Error("infra without a trajectory")
	}
}

func rollout(t *testing.T) *agent.Rollout {
	t.Helper()
	root := t.TempDir()
	r := &agent.Rollout{
		Workspace: filepath.Join(root, "workspace"),
		TaskFile:  filepath.Join(root, "task.txt"),
		OutDir:    filepath.Join(root, "out"),
		Home:      filepath.Join(root, "home"),
		Prompt:    "make it fast\n",
		Stdout:    &bytes.Buffer{},
		Stderr:    &bytes.Buffer{},
		Secrets:   secrets.FromEnv([]string{"ANTHROPIC_API_KEY=sk-ant-test-secret-123456"}, nil),
	}
	for _, d := range []string{r.Workspace, r.OutDir, r.Home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + r.Home}
	return r
}

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mini")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRun(t *testing.T) {
	fix, _ := filepath.Abs("testdata")
	r := rollout(t)
	var live []records.Usage
	r.Observe = func(u records.Usage) { live = append(live, u) }
	r.Limits.MaxIterations = 2
	cli := script(t, `
[ "$MSWEA_CONFIGURED" = true ] && [ "$MSWEA_VISUAL_MODE_DEFAULT" = false ] || exit 9
while [ $# -gt 0 ]; do [ "$1" = -o ] && cp `+fix+`/traj_steplimit.json "$2"; shift; done
cat `+fix+`/stdout_steps.txt
`)
	ad, _ := New(&config.Agent{Name: "m", Type: Kind.Type, CLI: cli})
	out, err := ad.Run(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if out.Process == nil || out.Process.ExitCode != 0 {
		t.Fatalf("process %+v: %s", out.Process, r.Stderr)
	}
	want := records.Usage{CostUSD: 0.0206, InputTokens: 6620, OutputTokens: 392, CacheReadTokens: 2900, CacheWriteTokens: 3300, Turns: 2, Source: SourceTrajectory}
	if out.Usage != want {
		t.Errorf("usage\n got %+v\nwant %+v", out.Usage, want)
	}
	if len(live) != 2 || live[1].CostUSD > out.Usage.CostUSD || live[1].CostUSD < 0.0149 {
		t.Errorf("live %+v", live)
	}
	if !reflect.DeepEqual(out.LimitsHit, []string{"max_iterations"}) {
		t.Errorf("limits hit %q", out.LimitsHit)
	}
	if out.Details["exit_status"] != "LimitsExceeded" || out.Details["step_limit"] != 2 || out.Details["mini_version"] != "2.2.0" {
		t.Errorf("details %v", out.Details)
	}

	// An authentication failure, with the key in the message.
	r = rollout(t)
	cli = script(t, `
while [ $# -gt 0 ]; do [ "$1" = -o ] && sed 's/invalid x-api-key/invalid key sk-ant-test-secret-123456/' `+fix+`/traj_auth.json > "$2"; shift; done
echo 'Traceback (most recent call last):' >&2
exit 1
`)
	ad, _ = New(&config.Agent{Name: "m", Type: Kind.Type, CLI: cli})
	out, err = ad.Run(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	ie, ok := out.Infra.(*agent.InfraError)
	if !ok || ie.Kind != agent.InfraAuth || strings.Contains(ie.Msg, "sk-ant-test") || !strings.Contains(ie.Msg, "REDACTED") {
		t.Errorf("infra %#v", out.Infra)
	}
	if e, _ := out.Details["exception"].(string); strings.Contains(e, "sk-ant-test") {
		t.Errorf("exception detail not scrubbed: %q", e)
	}

	// No trajectory: the step lines are the usage; a missing config_file
	// fails the rollout before mini starts.
	r = rollout(t)
	cli = script(t, `cat `+fix+`/stdout_steps.txt; exit 1`)
	ad, _ = New(&config.Agent{Name: "m", Type: Kind.Type, CLI: cli})
	out, _ = ad.Run(context.Background(), r)
	if out.Usage != (records.Usage{CostUSD: 0.02, Turns: 2, Source: SourceStdout}) || out.Details["trajectory"] != "none" {
		t.Errorf("usage %+v details %v", out.Usage, out.Details)
	}
	r.Prompt = strings.Repeat("x", MaxTaskBytes)
	out, _ = ad.Run(context.Background(), r)
	if !out.Failed || !strings.Contains(out.Reason, "Linux limits to 131071 bytes") || out.Process != nil {
		t.Errorf("outcome: failed %v, reason %q", out.Failed, out.Reason)
	}
	r.Prompt = "short"
	ad, _ = New(&config.Agent{Name: "m", Type: Kind.Type, CLI: cli, Options: &agent.ConfigFileOption{ConfigFile: "/nonexistent/mini.yaml"}})
	out, _ = ad.Run(context.Background(), r)
	if !out.Failed || !strings.Contains(out.Reason, "config_file") || out.Process != nil {
		t.Errorf("outcome %+v", out)
	}
}

func FuzzStreamLine(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "stdout_steps.txt"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("mini-swe-agent (step 99999999999999999999, $1e308):\nLimits exceeded. Limits: -1 steps, $NaN.\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st := NewStream(nil, func(u records.Usage) {
			if u.CostUSD < 0 || u.Turns < 0 {
				t.Fatalf("usage %+v", u)
			}
		})
		lw := &agent.LineWriter{W: &bytes.Buffer{}, Fn: st.Line}
		lw.Write(data)
		lw.Close()
		_ = Facts{Stream: st.Summary()}.LimitsHit(records.Limits{MaxIterations: 1})
	})
}

func FuzzTrajectory(f *testing.F) {
	for _, name := range []string{"traj_submitted.json", "traj_auth.json", "traj_v1.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseTrajectory(data)
		if err != nil {
			return
		}
		u := tr.Usage()
		if u.CostUSD < 0 || u.InputTokens < 0 || u.Turns < 0 {
			t.Fatalf("usage %+v", u)
		}
		fs := Facts{Trajectory: tr}
		fs.Infra()
		fs.LimitsHit(records.Limits{MaxIterations: 2, MaxBudgetUSD: 1})
		fs.Details(func(s string) string { return s })
	})
}
