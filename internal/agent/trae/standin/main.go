// Command standin is a stand-in for TRAE Agent's CLI, for tests. Installed
// as trae-cli it accepts `trae-cli run ...`; installed as python (python3,
// ...) it accepts `python -m trae_agent.cli run ...`. It parses the run
// command's flags as TRAE's click CLI does (an unknown option is "Error: No
// such option", exit 2), then checks what perfbench must pass (exit 3 with
// "stand-in:" on a violation): --file is $BENCH_TASK_FILE, --working-dir is
// $BENCH_WORKSPACE and the working directory, --must-patch is set, the
// patch and trajectory paths are in $BENCH_OUT_DIR, the config file exists
// (exit 1 with TRAE's own message otherwise), and --max-steps / --model /
// --provider
// equal $TRAE_STANDIN_WANT_MAX_STEPS / $TRAE_STANDIN_WANT_MODEL /
// $TRAE_STANDIN_WANT_PROVIDER when set
// ("none": absent).
//
// It then behaves like TRAE: it rewrites the trajectory file (the format
// of trae_agent/utils/trajectory_recorder.py) after every LLM interaction
// and agent step, edits the workspace, prints TRAE's retry lines on API
// errors, and writes `git diff` to the patch path at the end. TRAE_STANDIN
// selects the scenario:
//
//	success (default)  TRAE_STANDIN_STEPS steps (default 3), the last calls task_done
//	maxsteps           never calls task_done; runs out of --max-steps
//	slow               a step every TRAE_STANDIN_SLEEP (default 100ms), up to 1000, with large usage
//	hang               two steps, then blocks until killed
//	auth               401 retry lines, then the step fails (exit 0, as TRAE does)
//	ratelimit          429 retry lines, then the step fails
//	ratelimit-once     ratelimit on the first run (marker in $TRAE_STANDIN_STATE), success after
//	notfound           404 model not found
//	crash              a traceback on stderr, exit 1, trajectory never finalized
//	leak               success, printing $ANTHROPIC_API_KEY and the config's api_key
//
// TRAE_STANDIN_PROVIDER (default anthropic, --provider wins) and
// TRAE_STANDIN_MODEL (default claude-sonnet-4-20250514, --model wins) name
// the LLM; the retry lines have retry_utils.py's current form, or the one
// before trae-agent 6fc646d with TRAE_STANDIN_RETRY_FORM=legacy;
// TRAE_STANDIN_USAGE is "input,output,cache_read,cache_creation" tokens per
// call (default 1000,200,3000,500; slow: 100000,10000,0,0).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func main() { os.Exit(run(os.Args)) }

type opts struct {
	file, workingDir, patchPath, trajectoryFile, configFile, model, provider string
	maxSteps                                                                 string
	mustPatch                                                                bool
	task                                                                     string
}

func fail(code int, format string, args ...any) int {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	return code
}

func run(argv []string) int {
	name := filepath.Base(argv[0])
	args := argv[1:]
	if regexp.MustCompile(`^python[0-9.]*$`).MatchString(name) {
		if len(args) > 0 && args[0] == "-c" {
			fmt.Println("3.12.0")
			return 0
		}
		if len(args) < 2 || args[0] != "-m" || args[1] != "trae_agent.cli" {
			return fail(1, "stand-in python: want -m trae_agent.cli, got %q", args)
		}
		args = args[2:]
	}
	if len(args) > 0 && args[0] == "--version" {
		fmt.Println("cli, version 0.1.0")
		return 0
	}
	if len(args) == 0 || args[0] != "run" {
		return fail(2, "Usage: trae-cli [OPTIONS] COMMAND [ARGS]...\nError: No such command %q.", strings.Join(args, " "))
	}
	o, code := parse(args[1:])
	if code != 0 {
		return code
	}
	if code := check(o); code != 0 {
		return code
	}
	return behave(o)
}

// parse reads the options of TRAE's run command (trae_agent/cli.py).
func parse(args []string) (*opts, int) {
	o := &opts{}
	values := map[string]*string{
		"--file": &o.file, "-f": &o.file,
		"--provider": &o.provider, "-p": &o.provider,
		"--model": &o.model, "-m": &o.model,
		"--model-base-url": new(string),
		"--api-key":        new(string), "-k": new(string),
		"--max-steps":   &o.maxSteps,
		"--working-dir": &o.workingDir, "-w": &o.workingDir,
		"--config-file":     &o.configFile,
		"--trajectory-file": &o.trajectoryFile, "-t": &o.trajectoryFile,
		"--patch-path": &o.patchPath, "-pp": &o.patchPath,
		"--docker-image": new(string), "--docker-container-id": new(string),
		"--dockerfile-path": new(string), "--docker-image-file": new(string),
		"--docker-keep":  new(string),
		"--console-type": new(string), "-ct": new(string),
		"--agent-type": new(string), "-at": new(string),
	}
	seen := map[string]bool{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--must-patch" || a == "-mp" {
			o.mustPatch = true
			continue
		}
		k, v, hasEq := strings.Cut(a, "=")
		if p, ok := values[k]; ok {
			if !hasEq {
				if i+1 >= len(args) {
					return nil, fail(2, "Error: Option '%s' requires an argument.", k)
				}
				i++
				v = args[i]
			}
			*p = v
			seen[k] = true
			continue
		}
		if strings.HasPrefix(a, "-") {
			return nil, fail(2, "Usage: trae-cli run [OPTIONS] [TASK]\nTry 'trae-cli run --help' for help.\n\nError: No such option: %s", k)
		}
		if o.task != "" {
			return nil, fail(2, "Error: Got unexpected extra argument (%s)", a)
		}
		o.task = a
	}
	if o.maxSteps != "" {
		if _, err := strconv.Atoi(o.maxSteps); err != nil {
			return nil, fail(2, "Error: Invalid value for '--max-steps': '%s' is not a valid integer.", o.maxSteps)
		}
	}
	return o, 0
}

// check enforces perfbench's side of the contract.
func check(o *opts) int {
	// TRAE's own checks first (resolve_config_file, the task).
	cfg := o.configFile
	if cfg == "" {
		cfg = os.Getenv("TRAE_CONFIG_FILE")
	}
	if cfg == "" {
		cfg = "trae_config.yaml"
	}
	if _, err := os.Stat(cfg); err != nil {
		fmt.Println("Error: Config file not found. Please specify a valid config file in the command line option --config-file")
		return 1
	}
	if o.file == "" {
		return fail(3, "stand-in: no --file")
	}
	if o.task != "" {
		fmt.Println("Error: Cannot use both a task string and the --file argument.")
		return 1
	}
	if _, err := os.ReadFile(o.file); err != nil {
		fmt.Printf("Error: File not found: %s\n", o.file)
		return 1
	}
	env := func(k string) string { return os.Getenv(k) }
	wd, _ := os.Getwd()
	out := env("BENCH_OUT_DIR")
	for _, c := range []struct {
		ok   bool
		what string
	}{
		{o.file == env("BENCH_TASK_FILE"), "--file " + o.file + " is not $BENCH_TASK_FILE " + env("BENCH_TASK_FILE")},
		{o.workingDir == env("BENCH_WORKSPACE"), "--working-dir " + o.workingDir + " is not $BENCH_WORKSPACE " + env("BENCH_WORKSPACE")},
		{filepath.IsAbs(o.workingDir), "--working-dir is not absolute"},
		{wd == env("BENCH_WORKSPACE"), "working directory " + wd + " is not the workspace"},
		{o.mustPatch, "no --must-patch"},
		{out != "" && o.patchPath == filepath.Join(out, "trae.patch"), "--patch-path " + o.patchPath + " is not $BENCH_OUT_DIR/trae.patch"},
		{out != "" && o.trajectoryFile == filepath.Join(out, "trajectory.json"), "--trajectory-file " + o.trajectoryFile + " is not $BENCH_OUT_DIR/trajectory.json"},
		{want("TRAE_STANDIN_WANT_MAX_STEPS", o.maxSteps), "--max-steps " + o.maxSteps + ", want " + env("TRAE_STANDIN_WANT_MAX_STEPS")},
		{want("TRAE_STANDIN_WANT_MODEL", o.model), "--model " + o.model + ", want " + env("TRAE_STANDIN_WANT_MODEL")},
		{want("TRAE_STANDIN_WANT_PROVIDER", o.provider), "--provider " + o.provider + ", want " + env("TRAE_STANDIN_WANT_PROVIDER")},
		{want("TRAE_STANDIN_WANT_CONFIG", o.configFile), "--config-file " + o.configFile + ", want " + env("TRAE_STANDIN_WANT_CONFIG")},
		{env("PYTHONUNBUFFERED") == "1", "PYTHONUNBUFFERED is not 1"},
	} {
		if !c.ok {
			return fail(3, "stand-in: %s", c.what)
		}
	}
	return 0
}

// want compares a flag value with an expectation from the environment
// (unset: anything goes; "none": the flag must be absent).
func want(k, got string) bool {
	w, ok := os.LookupEnv(k)
	if !ok {
		return true
	}
	if w == "none" {
		return got == ""
	}
	return got == w
}

// recorder writes the trajectory as TRAE's TrajectoryRecorder does: the
// whole document, rewritten after every change.
type recorder struct {
	path string
	data map[string]any
}

func (r *recorder) save() {
	b, err := json.MarshalIndent(r.data, "", "  ")
	if err != nil {
		panic(err)
	}
	if err := os.MkdirAll(filepath.Dir(r.path), 0o755); err != nil {
		fmt.Printf("Warning: Failed to save trajectory to %s: %v\n", r.path, err)
		return
	}
	if err := os.WriteFile(r.path, b, 0o644); err != nil {
		fmt.Printf("Warning: Failed to save trajectory to %s: %v\n", r.path, err)
	}
}

func (r *recorder) append(key string, v any) {
	r.data[key] = append(r.data[key].([]any), v)
	r.save()
}

type usage struct{ in, out, cacheRead, cacheCreation int64 }

func parseUsage(s string, def usage) usage {
	if s == "" {
		return def
	}
	var n [4]int64
	for i, f := range strings.Split(s, ",") {
		if i < 4 {
			n[i], _ = strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		}
	}
	return usage{n[0], n[1], n[2], n[3]}
}

type sim struct {
	o        *opts
	rec      *recorder
	provider string
	model    string
	u        usage
	step     int
}

func (s *sim) interaction(content string, tool string) map[string]any {
	var cacheCreation, cacheRead any = s.u.cacheCreation, s.u.cacheRead
	var reasoning any
	if s.provider != "anthropic" {
		cacheCreation = nil
		reasoning = 0
	}
	resp := map[string]any{
		"content":       content,
		"model":         s.model,
		"finish_reason": "tool_use",
		"usage": map[string]any{
			"input_tokens":                s.u.in,
			"output_tokens":               s.u.out,
			"cache_creation_input_tokens": cacheCreation,
			"cache_read_input_tokens":     cacheRead,
			"reasoning_tokens":            reasoning,
		},
		"tool_calls": []any{map[string]any{"call_id": fmt.Sprintf("toolu_%02d", s.step), "name": tool, "arguments": map[string]any{}, "id": nil}},
	}
	s.rec.append("llm_interactions", map[string]any{
		"timestamp":       time.Now().Format("2006-01-02T15:04:05.000000"),
		"provider":        s.provider,
		"model":           s.model,
		"input_messages":  []any{map[string]any{"role": "user", "content": "step " + strconv.Itoa(s.step)}},
		"response":        resp,
		"tools_available": []any{"bash", "str_replace_based_edit_tool", "sequentialthinking", "task_done"},
	})
	return resp
}

func (s *sim) agentStep(resp map[string]any, errMsg string) {
	var llmResp any
	if resp != nil {
		u := resp["usage"].(map[string]any)
		llmResp = map[string]any{
			"content": resp["content"], "model": resp["model"], "finish_reason": resp["finish_reason"],
			"usage":      map[string]any{"input_tokens": u["input_tokens"], "output_tokens": u["output_tokens"]},
			"tool_calls": resp["tool_calls"],
		}
	}
	var e any
	if errMsg != "" {
		e = errMsg
	}
	s.rec.append("agent_steps", map[string]any{
		"step_number":  s.step,
		"timestamp":    time.Now().Format("2006-01-02T15:04:05.000000"),
		"state":        "completed",
		"llm_messages": nil,
		"llm_response": llmResp,
		"tool_calls":   nil,
		"tool_results": nil,
		"reflection":   nil,
		"error":        e,
	})
	fmt.Printf("Step %d: completed\n", s.step)
}

func (s *sim) finalize(success bool, result any) {
	s.rec.data["end_time"] = time.Now().Format("2006-01-02T15:04:05.000000")
	s.rec.data["success"] = success
	s.rec.data["final_result"] = result
	s.rec.data["execution_time"] = 1.25
	s.rec.save()
}

// edit changes the workspace so that a patch exists.
func edit(ws string) {
	target := os.Getenv("TRAE_STANDIN_EDIT")
	if target == "" {
		target = "src/slow.sh"
		if _, err := os.Stat(filepath.Join(ws, target)); err != nil {
			target = "trae_standin.txt"
		}
	}
	f, err := os.OpenFile(filepath.Join(ws, target), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Fprintln(f, "# trae was here")
	f.Close()
}

func writePatch(o *opts) {
	out, err := exec.Command("git", "-C", o.workingDir, "--no-pager", "diff").Output()
	if err != nil {
		out = nil
	}
	if err := os.WriteFile(o.patchPath, out, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

func sleepEnv(def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv("TRAE_STANDIN_SLEEP")); err == nil {
		return d
	}
	return def
}

// traceback is what retry_utils.py prints after its retry line.
const traceback = `Traceback (most recent call last):
  File "/app/trae_agent/utils/llm_clients/retry_utils.py", line 34, in wrapper
    return func(*args, **kwargs)
anthropic.APIStatusError: see above
`

// apiError prints TRAE's retry lines for err, then records the failed
// step (TRAE's step loop catches the exception) and ends like TRAE: the
// trajectory finalized without success, exit status 0.
func (s *sim) apiError(err string) int {
	service := "Anthropic"
	if s.provider != "anthropic" {
		service = "OpenAI"
	}
	s.step++
	for i := 0; i < 2; i++ {
		if os.Getenv("TRAE_STANDIN_RETRY_FORM") == "legacy" {
			// Before trae-agent 6fc646d.
			fmt.Printf("%s API call failed: %s will sleep for %d seconds and will retry.\n", service, err, 3+i)
		} else {
			// retry_utils.py now: a period, "Will", then the traceback.
			fmt.Printf("%s API call failed: %s. Will sleep for %d seconds and will retry.\n%s", service, err, 3+i, traceback)
		}
		time.Sleep(sleepEnv(50 * time.Millisecond))
	}
	s.agentStep(nil, err)
	s.finalize(false, nil)
	fmt.Printf("\nTrajectory saved to: %s\n", s.o.trajectoryFile)
	return 0
}

func behave(o *opts) int {
	provider := o.provider
	if provider == "" {
		provider = envOr("TRAE_STANDIN_PROVIDER", "anthropic")
	}
	model := o.model
	if model == "" {
		model = envOr("TRAE_STANDIN_MODEL", "claude-sonnet-4-20250514")
	}
	maxSteps := 200
	if o.maxSteps != "" {
		maxSteps, _ = strconv.Atoi(o.maxSteps)
	}
	scenario := os.Getenv("TRAE_STANDIN")
	if scenario == "ratelimit-once" {
		marker := filepath.Join(os.Getenv("TRAE_STANDIN_STATE"), "ratelimited-once")
		if _, err := os.Stat(marker); err == nil {
			scenario = "success"
		} else {
			os.MkdirAll(filepath.Dir(marker), 0o755)
			os.WriteFile(marker, nil, 0o644)
			scenario = "ratelimit"
		}
	}
	def := usage{1000, 200, 3000, 500}
	if scenario == "slow" {
		def = usage{100000, 10000, 0, 0}
	}
	task, _ := os.ReadFile(o.file)
	s := &sim{o: o, provider: provider, model: model, u: parseUsage(os.Getenv("TRAE_STANDIN_USAGE"), def)}
	s.rec = &recorder{path: o.trajectoryFile, data: map[string]any{
		"task": string(task), "start_time": time.Now().Format("2006-01-02T15:04:05.000000"), "end_time": "",
		"provider": provider, "model": model, "max_steps": maxSteps,
		"llm_interactions": []any{}, "agent_steps": []any{},
		"success": false, "final_result": nil, "execution_time": 0.0,
	}}
	fmt.Printf("Changed working directory to: %s\n", o.workingDir)
	s.rec.save()

	switch scenario {
	case "auth":
		return s.apiError("Error code: 401 - {'type': 'error', 'error': {'type': 'authentication_error', 'message': 'invalid x-api-key'}}")
	case "ratelimit":
		return s.apiError("Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error', 'message': 'Number of request tokens has exceeded your per-minute rate limit'}}")
	case "notfound":
		return s.apiError("Error code: 404 - {'type': 'error', 'error': {'type': 'not_found_error', 'message': 'model: " + model + "'}}")
	case "crash":
		s.step++
		s.agentStep(s.interaction("Looking around.", "bash"), "")
		fmt.Fprintln(os.Stderr, "Traceback (most recent call last):\n  File \"trae_agent/cli.py\", line 1, in run\nRuntimeError: stand-in crash")
		return 1
	}

	steps := 3
	if n, err := strconv.Atoi(os.Getenv("TRAE_STANDIN_STEPS")); err == nil {
		steps = n
	}
	switch scenario {
	case "maxsteps":
		steps = maxSteps + 1
	case "slow":
		steps = 1000
	}
	for s.step < maxSteps {
		s.step++
		if scenario == "hang" && s.step == 3 {
			fmt.Println("Step 3: thinking")
			for {
				time.Sleep(time.Hour)
			}
		}
		if s.step == steps {
			if s.step == 1 || scenario == "leak" {
				edit(o.workingDir)
			}
			content := "The change is in place."
			if scenario == "leak" {
				content += " key=" + os.Getenv("ANTHROPIC_API_KEY") + " config=" + configKey(o.configFile)
				fmt.Println("leaking", os.Getenv("ANTHROPIC_API_KEY"), configKey(o.configFile))
			}
			s.agentStep(s.interaction(content, "task_done"), "")
			s.finalize(true, content)
			writePatch(o)
			fmt.Printf("\nTrajectory saved to: %s\n", o.trajectoryFile)
			return 0
		}
		if s.step == 2 {
			edit(o.workingDir)
		}
		s.agentStep(s.interaction("Working on it.", "bash"), "")
		if scenario == "slow" {
			time.Sleep(sleepEnv(100 * time.Millisecond))
		}
	}
	s.finalize(false, "Task execution exceeded maximum steps without completion.")
	writePatch(o)
	fmt.Printf("\nTrajectory saved to: %s\n", o.trajectoryFile)
	return 0
}

var configKeyRE = regexp.MustCompile(`api_key:\s*"?([^"\s]+)`)

func configKey(path string) string {
	data, _ := os.ReadFile(path)
	if m := configKeyRE.FindSubmatch(data); m != nil {
		return string(m[1])
	}
	return ""
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
