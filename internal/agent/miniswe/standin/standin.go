// Package standin is a stand-in for mini-SWE-agent's `mini` executable,
// for tests: the test binaries register Main as the "mini" command
// (testscript.Main), so that bench runs it from PATH. It checks the argv
// and environment perfbench gives mini (failing loudly, as mini's
// command-line parser does, on an option it does not know or a missing
// one), runs a scripted agent loop that edits the workspace, prints mini's
// step lines ("mini-swe-agent (step N, $X.XX):") and writes the
// trajectory after every step, as mini 2 does, with its limits
// (-l, -c agent.step_limit=N) applied the way mini applies them.
//
// STANDIN_MODE selects the scenario:
//
//	ok (default)   three steps, the last one submits
//	slow           up to 300 steps of $0.01, 100 ms apart
//	hang           one step ($0.05), then sleeps until killed
//	auth           the first query fails with litellm's AuthenticationError
//	ratelimit      the first query fails with RateLimitError after retries
//	ratelimit-once ratelimit on the first run (STANDIN_STATE names the
//	               marker file), ok afterwards
//	notfound       the first query fails with NotFoundError
//	leak           as ok, printing $ANTHROPIC_API_KEY and writing it into
//	               the trajectory
//	v1             as ok, but the trajectory in mini 1's format, written at
//	               the end
//
// STANDIN_LIMITS_PROMPT=1 imitates older versions, which ask for new
// limits on the terminal when one is exceeded (and fail at end of input);
// STANDIN_IGNORE_COST_LIMIT=1 ignores -l (so that the harness must stop
// the agent). STANDIN_MODEL is the expected -m ("-" for none);
// STANDIN_CONFIG the expected -c specs joined by "|" ("-" for none).
// A relative config spec is read from the working directory first, as
// mini's config.get_config_path does; mini.yaml not found there is the
// builtin config.
package standin

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

type run struct {
	stdout, stderr io.Writer

	task, model, output string
	costLimit           float64
	stepLimit           int
	specs               []string
	seen                map[string]bool

	cost     float64
	calls    int
	messages []map[string]any
	v1       bool
}

// Main runs the stand-in with mini's arguments and returns the exit code.
func Main(args []string) int {
	r := &run{stdout: os.Stdout, stderr: os.Stderr, seen: map[string]bool{}}
	return r.main(args)
}

func (r *run) fail(format string, a ...any) int {
	fmt.Fprintf(r.stderr, "Error: "+format+"\n", a...)
	return 2
}

var aliases = map[string]string{
	"-t": "--task", "-y": "--yolo", "-m": "--model", "-l": "--cost-limit",
	"-c": "--config", "-o": "--output", "-v": "--visual",
}

var takesValue = map[string]bool{"--task": true, "--model": true, "--cost-limit": true, "--config": true, "--output": true, "--model-class": true}

func (r *run) main(args []string) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(a, "=")
		if !strings.HasPrefix(a, "--") {
			name, hasValue = a, false
		}
		if long, ok := aliases[name]; ok {
			name = long
		}
		switch name {
		case "--yolo", "--exit-immediately":
			r.seen[name] = true
			continue
		case "--visual":
			return r.fail("stand-in: -v starts the full-screen interface, which needs a terminal")
		}
		if !takesValue[name] {
			return r.fail("No such option: %s", a)
		}
		if !hasValue {
			if i+1 >= len(args) {
				return r.fail("Option '%s' requires an argument.", a)
			}
			i++
			value = args[i]
		}
		if name != "--config" && r.seen[name] {
			return r.fail("stand-in: %s given twice", name)
		}
		r.seen[name] = true
		switch name {
		case "--task":
			r.task = value
		case "--model":
			r.model = value
		case "--output":
			r.output = value
		case "--cost-limit":
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return r.fail("Invalid value for '-l' / '--cost-limit': '%s' is not a valid float.", value)
			}
			r.costLimit = v
		case "--config":
			r.specs = append(r.specs, value)
		}
	}
	for _, f := range []string{"--task", "--yolo", "--exit-immediately", "--cost-limit", "--output"} {
		if !r.seen[f] {
			return r.fail("stand-in: perfbench did not pass %s (argv: %q)", f, args)
		}
	}
	if os.Getenv("MSWEA_CONFIGURED") == "" {
		return r.fail("stand-in: MSWEA_CONFIGURED is not set: mini would start its setup wizard")
	}
	if v := os.Getenv("MSWEA_VISUAL_MODE_DEFAULT"); v != "false" {
		return r.fail("stand-in: MSWEA_VISUAL_MODE_DEFAULT=%q", v)
	}
	if os.Getenv("COLUMNS") != "4096" {
		return r.fail("stand-in: COLUMNS=%q", os.Getenv("COLUMNS"))
	}
	want, err := os.ReadFile(os.Getenv("BENCH_TASK_FILE"))
	if err != nil || string(want) != r.task {
		return r.fail("stand-in: the task is not the task file's content (%v)", err)
	}
	if out := os.Getenv("BENCH_OUT_DIR"); out == "" || filepath.Dir(r.output) != out {
		return r.fail("stand-in: -o %s is not in $BENCH_OUT_DIR", r.output)
	}
	if wd, _ := os.Getwd(); wd != os.Getenv("BENCH_WORKSPACE") {
		return r.fail("stand-in: working directory %s is not $BENCH_WORKSPACE", wd)
	}
	if want, ok := os.LookupEnv("STANDIN_MODEL"); ok {
		if want == "-" && r.seen["--model"] || want != "-" && r.model != want {
			return r.fail("stand-in: -m %q, want %q", r.model, want)
		}
	}
	if want, ok := os.LookupEnv("STANDIN_CONFIG"); ok {
		got := strings.Join(r.specs, "|")
		if want == "-" {
			want = ""
		}
		if got != want {
			return r.fail("stand-in: -c %q, want %q", got, want)
		}
	}
	stepRE := regexp.MustCompile(`(?m)^\s*step_limit:\s*(\d+)`)
	for _, s := range r.specs {
		if k, v, ok := strings.Cut(s, "="); ok {
			if k == "agent.step_limit" {
				n, err := strconv.Atoi(v)
				if err != nil {
					return r.fail("stand-in: %s", s)
				}
				r.stepLimit = n
			}
			continue
		}
		// config.get_config_path: a relative spec is looked up in the
		// working directory first, then in the builtin config folder.
		data, err := os.ReadFile(s)
		if err != nil && s == "mini.yaml" {
			continue
		}
		if err != nil {
			fmt.Fprintf(r.stderr, "FileNotFoundError: Could not find config file for %s\n", s)
			return 1
		}
		if m := stepRE.FindSubmatch(data); m != nil {
			r.stepLimit, _ = strconv.Atoi(string(m[1]))
		}
	}
	return r.scenario()
}

func pyFloat(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

func (r *run) banner() {
	home, _ := os.UserHomeDir()
	specs := make([]string, len(r.specs))
	for i, s := range r.specs {
		specs[i] = "'" + s + "'"
	}
	if len(specs) == 0 {
		specs = []string{"'/usr/lib/python3/site-packages/minisweagent/config/mini.yaml'"}
	}
	fmt.Fprintf(r.stdout, "👋 This is mini-swe-agent version 2.2.0.\nCheck the v2 migration guide at https://klieret.short.gy/mini-v2-migration\nLoading global config from '%s/.config/mini-swe-agent/.env'\nBuilding agent config from specs: [%s]\n", home, strings.Join(specs, ", "))
	r.messages = []map[string]any{
		{"role": "system", "content": "You are a helpful assistant that can interact with a computer."},
		{"role": "user", "content": "Please solve this issue: " + r.task},
	}
}

func (r *run) save(exit map[string]any) {
	if r.v1 {
		return
	}
	r.write(exit, "mini-swe-agent-1.1", "2.2.0")
}

func (r *run) write(exit map[string]any, format, version string) {
	status, submission := "", ""
	if exit != nil {
		status, _ = exit["exit_status"].(string)
		submission, _ = exit["submission"].(string)
	}
	data := map[string]any{
		"info": map[string]any{
			"model_stats": map[string]any{"instance_cost": r.cost, "api_calls": r.calls},
			"config": map[string]any{
				"agent": map[string]any{
					"system_template": "You are a helpful assistant that can interact with a computer.",
					"step_limit":      r.stepLimit, "cost_limit": r.costLimit,
					"mode": "yolo", "confirm_exit": false, "output_path": r.output,
				},
				"agent_type": "minisweagent.agents.interactive.InteractiveAgent",
				"model":      map[string]any{"model_name": r.model, "model_kwargs": map[string]any{"drop_params": true}},
				"model_type": "minisweagent.models.litellm_model.LitellmModel",
			},
			"mini_version": version,
			"exit_status":  status,
			"submission":   submission,
		},
		"messages":          r.messages,
		"trajectory_format": format,
	}
	if r.v1 {
		for _, m := range r.messages {
			delete(m, "extra")
		}
	}
	b, _ := json.MarshalIndent(data, "", "  ")
	os.WriteFile(r.output, b, 0o644)
}

// exit ends the run the way DefaultAgent.run does: an exit message, the
// trajectory saved.
func (r *run) exit(status, submission string, exception string) {
	extra := map[string]any{"exit_status": status, "submission": submission}
	if exception != "" {
		extra["exception_str"] = exception
		extra["traceback"] = "Traceback (most recent call last):\n  File \"minisweagent/agents/default.py\", line 84, in run\n" + exception
	}
	r.messages = append(r.messages, map[string]any{"role": "exit", "content": status, "extra": extra})
	r.save(extra)
	if r.v1 {
		r.write(extra, "mini-swe-agent-1", "1.17.3")
	}
}

type step struct {
	command             string
	prompt, completion  int
	cached              int
	cost                float64
	observation, submit string
	delay               time.Duration
}

// limits is DefaultAgent.query's check; true when the run must stop.
func (r *run) limits() (stop bool, code int) {
	costLimit := r.costLimit
	if os.Getenv("STANDIN_IGNORE_COST_LIMIT") != "" {
		costLimit = 0
	}
	if !(0 < r.stepLimit && r.stepLimit <= r.calls || 0 < costLimit && costLimit <= r.cost) {
		return false, 0
	}
	if os.Getenv("STANDIN_LIMITS_PROMPT") != "" {
		fmt.Fprintf(r.stdout, "Limits exceeded. Limits: %d steps, $%s.\nCurrent spend: %d steps, $%.2f.\nNew step limit: ", r.stepLimit, pyFloat(r.costLimit), r.calls, r.cost)
		r.exit("EOFError", "", "EOF when reading a line")
		fmt.Fprintln(r.stderr, "Traceback (most recent call last):\n  File \"minisweagent/agents/interactive.py\", line 64, in query\nEOFError: EOF when reading a line")
		return true, 1
	}
	r.exit("LimitsExceeded", "", "")
	return true, 0
}

func (r *run) do(s step) {
	r.calls++
	r.cost = math.Round((r.cost+s.cost)*1e6) / 1e6
	content := "THOUGHT: Let me look.\n\n```mswea_bash_command\n" + s.command + "\n```"
	fmt.Fprintf(r.stdout, "────────────────────────────────────────\n\nmini-swe-agent (step %d, $%.2f):\n%s\n", r.calls, r.cost, content)
	r.messages = append(r.messages, map[string]any{
		"role": "assistant", "content": content,
		"extra": map[string]any{
			"actions": []map[string]any{{"command": s.command}},
			"response": map[string]any{
				"id": fmt.Sprintf("chatcmpl-%d", r.calls), "model": r.model, "object": "chat.completion",
				"usage": map[string]any{
					"prompt_tokens": s.prompt, "completion_tokens": s.completion, "total_tokens": s.prompt + s.completion,
					"prompt_tokens_details": map[string]any{"cached_tokens": s.cached},
				},
			},
			"cost": s.cost, "timestamp": float64(time.Now().UnixNano()) / 1e9,
		},
	})
	if s.submit != "" {
		return
	}
	// The action runs between the step line and the save, as in mini.
	time.Sleep(s.delay)
	obs := "<returncode>0</returncode>\n<output>\n" + s.observation + "</output>"
	fmt.Fprintf(r.stdout, "\nUser:\n%s\n", obs)
	r.messages = append(r.messages, map[string]any{
		"role": "user", "content": obs,
		"extra": map[string]any{"raw_output": s.observation, "returncode": 0, "timestamp": float64(time.Now().UnixNano()) / 1e9},
	})
	r.save(nil)
}

func appendFile(path, s string) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	f.WriteString(s)
	f.Close()
}

func (r *run) edit() {
	name := "src/slow.sh"
	if _, err := os.Stat(name); err != nil {
		name = "MINI.md"
	}
	appendFile(name, "# mini was here\n")
}

var okSteps = []step{
	{command: "ls src", prompt: 1000, completion: 100, cost: 0.0123, observation: "slow.sh\n"},
	{command: "printf '# mini was here\\n' >> src/slow.sh", prompt: 1500, completion: 150, cached: 800, cost: 0.015},
	{command: "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT", prompt: 2000, completion: 200, cached: 1200, cost: 0.0183, submit: "yes"},
}

const (
	authErr = `litellm.AuthenticationError: AnthropicException - {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}} You can permanently set your API key with ` + "`mini-extra config set KEY VALUE`."
	rateErr = `litellm.RateLimitError: AnthropicException - {"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization."}}`
	nfErr   = `litellm.NotFoundError: AnthropicException - {"type":"error","error":{"type":"not_found_error","message":"model: claude-nope"}}`
)

// raise ends the run on an exception from the first query, as mini does:
// exit message and trajectory, traceback on stderr, exit status 1.
func (r *run) raise(name, msg string) int {
	r.exit(name, "", msg)
	fmt.Fprintf(r.stderr, "Traceback (most recent call last):\n  File \"minisweagent/models/litellm_model.py\", line 60, in _query\n%s\n", msg)
	return 1
}

func (r *run) steps(steps []step) int {
	for _, s := range steps {
		if stop, code := r.limits(); stop {
			return code
		}
		if strings.Contains(s.command, ">>") {
			r.edit()
		}
		r.do(s)
		if s.submit != "" {
			r.exit("Submitted", "", "")
			fmt.Fprintf(r.stdout, "Saved trajectory to '%s'\n", r.output)
			return 0
		}
	}
	return 0
}

func (r *run) scenario() int {
	mode := os.Getenv("STANDIN_MODE")
	if mode == "ratelimit-once" {
		state := os.Getenv("STANDIN_STATE")
		if state == "" {
			return r.fail("stand-in: ratelimit-once needs STANDIN_STATE")
		}
		if _, err := os.Stat(state); err == nil {
			mode = "ok"
		} else {
			os.WriteFile(state, []byte("seen\n"), 0o644)
			mode = "ratelimit"
		}
	}
	r.banner()
	switch mode {
	case "", "ok":
		return r.steps(okSteps)
	case "v1":
		r.v1 = true
		return r.steps(okSteps)
	case "leak":
		key := os.Getenv("ANTHROPIC_API_KEY")
		fmt.Fprintf(r.stdout, "leak ANTHROPIC_API_KEY=%s\n", key)
		r.messages = append(r.messages, map[string]any{"role": "user", "content": "env: ANTHROPIC_API_KEY=" + key})
		return r.steps(okSteps)
	case "slow":
		var steps []step
		steps = append(steps, step{command: "printf '# mini was here\\n' >> src/slow.sh", prompt: 1000, completion: 100, cost: 0.01})
		for i := 0; i < 300; i++ {
			steps = append(steps, step{command: "sleep 0.1", prompt: 1000, completion: 100, cost: 0.01, delay: 100 * time.Millisecond})
		}
		return r.steps(steps)
	case "hang":
		r.edit()
		r.do(step{command: "printf '# mini was here\\n' >> src/slow.sh", prompt: 1500, completion: 120, cost: 0.05})
		time.Sleep(time.Hour)
		return 0
	case "auth":
		return r.raise("AuthenticationError", authErr)
	case "ratelimit":
		for _, d := range []string{"4.0", "8.0"} {
			fmt.Fprintf(r.stderr, "WARNING:litellm_model:Retrying minisweagent.models.litellm_model.LitellmModel._query in %s seconds as it raised RateLimitError: %s.\n", d, rateErr)
		}
		return r.raise("RateLimitError", rateErr)
	case "notfound":
		return r.raise("NotFoundError", nfErr)
	}
	return r.fail("stand-in: unknown STANDIN_MODE %q", mode)
}
