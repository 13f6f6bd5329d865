// Command standin is a stand-in for Claude Code's print mode, for tests.
// Built as "claude" (statically, CGO_ENABLED=0, so that it also runs in a
// FROM scratch image), it accepts the headless invocation perfbench uses,
//
//	claude -p --output-format stream-json --verbose [--model M] [--max-turns N]
//	    --permission-mode bypassPermissions --disallowedTools WebFetch,WebSearch
//	    [--max-budget-usd X] [--append-system-prompt S]
//
// fails loudly (exit 9, like a real option error) on a missing, wrong or
// unknown flag or a positional prompt, refuses bypassPermissions to root
// without IS_SANDBOX=1 (as Claude Code does), reads the prompt from stdin, checks
// that it runs in the workspace with a fresh HOME, edits the workspace and
// writes Claude Code's stream-json events on stdout.
//
// Environment:
//
//	STANDIN_EXPECT_ARGS  the exact arguments expected (space-joined)
//	STANDIN_REQUIRE_ENV  comma-separated variables that must be set
//	STANDIN_MODE         the scenario:
//	  (empty)         success: init, 3 turns, result with cost and usage
//	  maxturns        one turn per --max-turns, then error_max_turns (exit 1)
//	  budget          turns costing $0.01 each until --max-budget-usd, then
//	                  error_max_budget_usd
//	  slow            an assistant message every STANDIN_INTERVAL (100ms),
//	                  usage rising, never ending
//	  hang            one priced assistant message, then blocks (ignores
//	                  SIGTERM with STANDIN_IGNORE_TERM=1)
//	  crash           two assistant messages, then exit 3 without a result
//	  noresult        exit 0 without a result event
//	  auth            API Error: 401 authentication_error (exit 1)
//	  ratelimit       API Error: 429 rate_limit_error (exit 1)
//	  overloaded      API Error: 529 overloaded_error (exit 1)
//	  badmodel        API Error: 404 not_found_error for the model (exit 1)
//	  ratelimit_once  ratelimit on the first run (STANDIN_STATE marks it),
//	                  success afterwards
//	  leak            success, printing every *KEY*/*TOKEN* variable's value
//	  garbage         success with non-JSON and malformed lines mixed in
//	  nochange        success without editing anything
//	  forensics       git log --all and git fetch $STANDIN_FETCH as Bash
//	                  calls, then a memoizing patch (forensicsRun)
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	sessionID     = "8f0c1a52-5d39-4c2e-9a51-5a1d0c0ffee0"
	version       = "2.0.76"
	defaultModel  = "claude-sonnet-4-5-20250929"
	markerComment = "# optimized by the claude stand-in"
)

type flags struct {
	print, verbose bool
	outputFormat   string
	model          string
	maxTurns       int
	permissionMode string
	disallowed     string
	maxBudget      float64
	hasBudget      bool
	appendPrompt   string
}

func die(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "claude stand-in: "+format+"\n", args...)
	os.Exit(code)
}

func parseArgs(args []string) flags {
	var f flags
	value := func(i *int, name string) string {
		if *i+1 >= len(args) {
			die(9, "error: option '%s' argument missing", name)
		}
		*i++
		return args[*i]
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "-p", "--print":
			f.print = true
		case "--verbose":
			f.verbose = true
		case "--output-format":
			f.outputFormat = value(&i, a)
		case "--model":
			f.model = value(&i, a)
		case "--max-turns":
			v := value(&i, a)
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				die(9, "error: --max-turns must be a positive integer, got %q", v)
			}
			f.maxTurns = n
		case "--permission-mode":
			f.permissionMode = value(&i, a)
		case "--disallowedTools", "--disallowed-tools":
			f.disallowed = value(&i, a)
		case "--max-budget-usd":
			v := value(&i, a)
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || x <= 0 {
				die(9, "error: --max-budget-usd must be a positive number, got %q", v)
			}
			f.maxBudget, f.hasBudget = x, true
		case "--append-system-prompt":
			f.appendPrompt = value(&i, a)
		default:
			if strings.HasPrefix(a, "-") {
				die(9, "error: unknown option '%s'", a)
			}
			die(9, "a positional prompt %q: perfbench must pass the prompt on stdin", a)
		}
	}
	switch {
	case !f.print:
		die(9, "missing -p (print mode)")
	case f.outputFormat != "stream-json":
		die(9, "--output-format is %q, want stream-json", f.outputFormat)
	case !f.verbose:
		die(9, "Error: When using --print, --output-format=stream-json requires --verbose")
	case f.permissionMode != "bypassPermissions":
		die(9, "--permission-mode is %q, want bypassPermissions", f.permissionMode)
	}
	denied := strings.FieldsFunc(f.disallowed, func(r rune) bool { return r == ',' || r == ' ' })
	if !slices.Contains(denied, "WebFetch") || !slices.Contains(denied, "WebSearch") {
		die(9, "--disallowedTools is %q: WebFetch and WebSearch must be denied", f.disallowed)
	}
	return f
}

var out = json.NewEncoder(os.Stdout)

func emit(v any) {
	if err := out.Encode(v); err != nil {
		die(2, "stdout: %v", err)
	}
}

type obj = map[string]any

func usage(in, cacheWrite, cacheRead, outTok int) obj {
	return obj{
		"input_tokens": in, "cache_creation_input_tokens": cacheWrite,
		"cache_read_input_tokens": cacheRead, "output_tokens": outTok,
		"service_tier": "standard",
	}
}

func assistant(id, model string, content []obj, u obj) obj {
	return obj{
		"type": "assistant",
		"message": obj{
			"id": id, "type": "message", "role": "assistant", "model": model,
			"content": content, "stop_reason": nil, "stop_sequence": nil, "usage": u,
		},
		"parent_tool_use_id": nil, "session_id": sessionID,
		"uuid": "a-" + id,
	}
}

func text(s string) obj { return obj{"type": "text", "text": s} }

func toolUse(id, name string, input obj) obj {
	return obj{"type": "tool_use", "id": id, "name": name, "input": input}
}

func toolResult(id, content string) obj {
	return obj{
		"type": "user",
		"message": obj{"role": "user", "content": []obj{{
			"type": "tool_result", "tool_use_id": id, "content": content,
		}}},
		"parent_tool_use_id": nil, "session_id": sessionID, "uuid": "u-" + id,
	}
}

func initEvent(cwd, model string) obj {
	src := "none"
	if os.Getenv("ANTHROPIC_API_KEY") != "" {
		src = "ANTHROPIC_API_KEY"
	}
	return obj{
		"type": "system", "subtype": "init", "cwd": cwd, "session_id": sessionID,
		"tools":          []string{"Task", "Bash", "Glob", "Grep", "Read", "Edit", "Write", "TodoWrite"},
		"mcp_servers":    []any{},
		"model":          model,
		"permissionMode": "bypassPermissions",
		"slash_commands": []string{"compact", "context", "cost", "init", "review"},
		"apiKeySource":   src, "claude_code_version": version, "output_style": "default",
		"agents": []string{"general-purpose", "Explore", "Plan"}, "skills": []any{}, "plugins": []any{},
		"uuid": "init-0001",
	}
}

// result is the final event; usage is cumulative.
func result(subtype string, isError bool, turns int, cost float64, in, cw, cr, o int, model, text string, extra obj) obj {
	r := obj{
		"type": "result", "subtype": subtype, "is_error": isError,
		"duration_ms": 4210, "duration_api_ms": 3980, "num_turns": turns,
		"session_id": sessionID, "total_cost_usd": cost,
		"usage": usage(in, cw, cr, o),
		"modelUsage": obj{model: obj{
			"inputTokens": in, "outputTokens": o, "cacheReadInputTokens": cr,
			"cacheCreationInputTokens": cw, "webSearchRequests": 0, "costUSD": cost,
			"contextWindow": 200000,
		}},
		"permission_denials": []any{},
		"uuid":               "result-0001",
	}
	if text != "" {
		r["result"] = text
	}
	for k, v := range extra {
		r[k] = v
	}
	return r
}

// sonnet prices Anthropic tokens like Claude Code does (USD per million:
// input 3, output 15, cache write 3.75, cache read 0.30).
func sonnet(in, cw, cr, o int) float64 {
	return (float64(in)*3 + float64(cw)*3.75 + float64(cr)*0.30 + float64(o)*15) / 1e6
}

// edit changes the workspace so that a patch exists.
func edit() {
	target := "src/slow.sh"
	if _, err := os.Stat(target); err != nil {
		target = "STANDIN.md"
	}
	f, err := os.OpenFile(target, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		die(2, "edit: %v", err)
	}
	fmt.Fprintln(f, markerComment)
	if err := f.Close(); err != nil {
		die(2, "edit: %v", err)
	}
}

// checkEnvironment verifies the process contract: cwd is the workspace (a
// git work tree), HOME is fresh and writable, the required variables are
// set and no web-search key is.
func checkEnvironment() string {
	cwd, err := os.Getwd()
	if err != nil {
		die(2, "getwd: %v", err)
	}
	if ws := os.Getenv("BENCH_WORKSPACE"); ws != "" && ws != cwd {
		die(8, "cwd %s is not BENCH_WORKSPACE %s", cwd, ws)
	}
	if _, err := os.Stat(".git"); err != nil {
		die(8, "cwd %s is not a git work tree", cwd)
	}
	home := os.Getenv("HOME")
	if home == "" {
		die(8, "HOME is not set")
	}
	marker := filepath.Join(home, ".claude", "standin-session")
	if _, err := os.Stat(marker); err == nil {
		die(8, "HOME %s is not fresh: %s was written by an earlier rollout", home, marker)
	}
	if err := os.MkdirAll(filepath.Dir(marker), 0o700); err != nil {
		die(8, "HOME is not writable: %v", err)
	}
	if err := os.WriteFile(marker, []byte(sessionID+"\n"), 0o600); err != nil {
		die(8, "HOME is not writable: %v", err)
	}
	for _, name := range strings.Split(os.Getenv("STANDIN_REQUIRE_ENV"), ",") {
		if name = strings.TrimSpace(name); name != "" && os.Getenv(name) == "" {
			die(8, "%s is not set", name)
		}
	}
	for _, name := range []string{"TAVILY_API_KEY", "SERPER_API_KEY", "SERPAPI_API_KEY", "BRAVE_API_KEY", "EXA_API_KEY"} {
		if _, ok := os.LookupEnv(name); ok {
			die(8, "web-search key %s reached the agent", name)
		}
	}
	return cwd
}

func main() {
	args := os.Args[1:]
	if len(args) == 1 && args[0] == "--version" {
		fmt.Println(version + " (Claude Code)")
		return
	}
	if want, ok := os.LookupEnv("STANDIN_EXPECT_ARGS"); ok && strings.Join(args, " ") != want {
		die(9, "argv mismatch\n have: %s\n want: %s", strings.Join(args, " "), want)
	}
	f := parseArgs(args)
	if os.Getuid() == 0 && f.permissionMode == "bypassPermissions" && os.Getenv("IS_SANDBOX") != "1" {
		// Claude Code's own guard, word for word.
		fmt.Fprintln(os.Stderr, "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons")
		os.Exit(1)
	}
	prompt, err := io.ReadAll(os.Stdin)
	if err != nil {
		die(2, "stdin: %v", err)
	}
	if len(strings.TrimSpace(string(prompt))) == 0 {
		die(9, "Error: Input must be provided either through stdin or as a prompt argument when using --print")
	}
	cwd := checkEnvironment()
	fmt.Fprintf(os.Stderr, "claude stand-in: argv ok: %s\n", strings.Join(args, " "))
	fmt.Fprintf(os.Stderr, "claude stand-in: uid=%d gid=%d prompt=%d bytes\n", os.Getuid(), os.Getgid(), len(prompt))

	model := f.model
	if model == "" {
		model = defaultModel
	}
	mode := os.Getenv("STANDIN_MODE")
	if mode == "ratelimit_once" {
		mode = ""
		if state := os.Getenv("STANDIN_STATE"); state != "" {
			if _, err := os.Stat(state); errors.Is(err, os.ErrNotExist) {
				if err := os.WriteFile(state, []byte("429\n"), 0o644); err != nil {
					die(2, "state: %v", err)
				}
				mode = "ratelimit"
			}
		}
	}
	emit(initEvent(cwd, model))
	switch mode {
	case "", "leak", "garbage", "nochange":
		success(model, mode)
	case "forensics":
		forensicsRun(model)
	case "maxturns":
		maxTurns(model, f)
	case "budget":
		budget(model, f)
	case "slow":
		slow(model)
	case "hang":
		hang(model)
	case "crash":
		edit()
		emit(assistant("msg_c1", model, []obj{text("Looking around.")}, usage(5, 2000, 0, 40)))
		emit(assistant("msg_c2", model, []obj{toolUse("toolu_c2", "Bash", obj{"command": "make"})}, usage(3, 100, 2000, 30)))
		fmt.Fprintln(os.Stderr, "claude stand-in: crashing mid-stream")
		os.Exit(3)
	case "noresult":
		edit()
		emit(assistant("msg_n1", model, []obj{text("Done.")}, usage(5, 100, 0, 10)))
	case "auth":
		apiError(model, 401, "authentication_failed",
			`API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_011CStandin401"} · Please run /login`)
	case "ratelimit":
		apiError(model, 429, "rate_limit",
			`API Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization of 30,000 input tokens per minute."},"request_id":"req_011CStandin429"}`)
	case "overloaded":
		apiError(model, 529, "server_error",
			`API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011CStandin529"}`)
	case "badmodel":
		apiError(model, 404, "invalid_request",
			`API Error: 404 {"type":"error","error":{"type":"not_found_error","message":"model: `+model+`"},"request_id":"req_011CStandin404"}`)
	default:
		die(2, "unknown STANDIN_MODE %q", mode)
	}
}

func success(model, mode string) {
	if mode == "garbage" {
		fmt.Println("Warning: this is not JSON")
		fmt.Println(`{"type":"assistant","message":{"id":"msg_bad","usage":{"input_tokens":"many"}`)
	}
	emit(assistant("msg_01", model, []obj{text("I'll look at the workload first.")}, usage(4, 5000, 12000, 3)))
	emit(assistant("msg_01", model, []obj{toolUse("toolu_01", "Bash", obj{"command": "sh bench.sh"})}, usage(4, 5000, 12000, 120)))
	emit(toolResult("toolu_01", "1000\n"))
	if mode != "nochange" {
		edit()
	}
	if mode == "garbage" {
		fmt.Println(`{"type":"user","message":{"content":42},"num_turns":"x"}`)
		fmt.Println("]]]")
	}
	emit(assistant("msg_02", model, []obj{toolUse("toolu_02", "Edit", obj{"file_path": "src/slow.sh"})}, usage(6, 300, 17000, 200)))
	emit(toolResult("toolu_02", "The file src/slow.sh has been updated."))
	final := "Done: the loop in src/slow.sh is replaced by its result."
	if mode == "leak" {
		var leaks []string
		for _, kv := range os.Environ() {
			name, val, _ := strings.Cut(kv, "=")
			if strings.Contains(name, "KEY") || strings.Contains(name, "TOKEN") {
				leaks = append(leaks, "leak "+name+"="+val)
				fmt.Fprintf(os.Stderr, "leak %s=%s\n", name, val)
			}
		}
		slices.Sort(leaks)
		final += "\n" + strings.Join(leaks, "\n")
	}
	emit(assistant("msg_03", model, []obj{text(final)}, usage(2, 100, 17300, 60)))
	in, cw, cr, o := 12, 5400, 46300, 380
	emit(result("success", false, 3, sonnet(in, cw, cr, o), in, cw, cr, o, model, final, nil))
}

func maxTurns(model string, f flags) {
	if f.maxTurns == 0 {
		die(9, "STANDIN_MODE=maxturns needs --max-turns")
	}
	edit()
	var in, cw, cr, o int
	for i := 1; i <= f.maxTurns; i++ {
		id := fmt.Sprintf("msg_t%d", i)
		emit(assistant(id, model, []obj{toolUse("toolu_t"+strconv.Itoa(i), "Bash", obj{"command": "true"})}, usage(2, 100, 1000*i, 50)))
		emit(toolResult("toolu_t"+strconv.Itoa(i), ""))
		in, cw, cr, o = in+2, cw+100, cr+1000*i, o+50
	}
	emit(result("error_max_turns", true, f.maxTurns+1, sonnet(in, cw, cr, o), in, cw, cr, o, model, "",
		obj{"errors": []string{fmt.Sprintf("Reached maximum number of turns (%d)", f.maxTurns)}, "terminal_reason": "max_turns"}))
	os.Exit(1)
}

func budget(model string, f flags) {
	if !f.hasBudget {
		die(9, "STANDIN_MODE=budget needs --max-budget-usd")
	}
	edit()
	turns, cost := 0, 0.0
	for cost < f.maxBudget {
		turns++
		cost += 0.01
		emit(assistant(fmt.Sprintf("msg_b%d", turns), model, []obj{text("working")}, usage(1000, 0, 0, 467)))
	}
	in, o := 1000*turns, 467*turns
	emit(result("error_max_budget_usd", false, turns, cost, in, 0, 0, o, model, "",
		obj{"errors": []string{fmt.Sprintf("Reached maximum budget ($%g)", f.maxBudget)}}))
}

func interval() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("STANDIN_INTERVAL")); err == nil && d > 0 {
		return d
	}
	return 100 * time.Millisecond
}

// slow never ends: every message adds 10,000 input and 1,000 output
// tokens ($0.045 at sonnet prices without cache).
func slow(model string) {
	edit()
	for i := 1; ; i++ {
		emit(assistant(fmt.Sprintf("msg_s%d", i), model, []obj{toolUse(fmt.Sprintf("toolu_s%d", i), "Bash", obj{"command": "make bench"})}, usage(10000, 0, 0, 1000)))
		emit(toolResult(fmt.Sprintf("toolu_s%d", i), "still slow"))
		time.Sleep(interval())
	}
}

func hang(model string) {
	if os.Getenv("STANDIN_IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
	}
	edit()
	emit(assistant("msg_h1", model, []obj{toolUse("toolu_h1", "Bash", obj{"command": "sleep 1000"})}, usage(20000, 0, 0, 2000)))
	fmt.Fprintln(os.Stderr, "claude stand-in: hanging")
	for {
		time.Sleep(time.Hour)
	}
}

// apiError writes what Claude Code writes when the API refuses a request
// for good (after its own retries): a synthetic assistant message with the
// error, then an is_error result carrying the same text.
func apiError(model string, status int, kind, msg string) {
	ev := assistant("synthetic-"+strconv.Itoa(status), "<synthetic>", []obj{text(msg)}, usage(0, 0, 0, 0))
	ev["error"] = kind
	ev["isApiErrorMessage"] = true
	ev["apiErrorStatus"] = status
	emit(ev)
	emit(result("success", true, 1, 0, 0, 0, 0, 0, model, msg, nil))
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(1)
}

// forensicsRun is STANDIN_MODE=forensics: an agent that mines the
// workspace's history (git log --all), fetches the upstream repository
// (STANDIN_FETCH) through Bash tool calls that it really runs, and writes
// a patch that memoizes the hot function: what the forensic scans must
// find in its trajectory, with each attempt's step.
func forensicsRun(model string) {
	emit(assistant("msg_f1", model, []obj{text("The history may hold the answer; the upstream repository too.")}, usage(4, 500, 1000, 20)))
	// The third hides git reflog in the middle of a command padded past
	// the trajectory's bound on a command (its middle is elided there).
	pad := ": " + strings.Repeat("x", 6000)
	steps := []string{"git log --all --oneline", "git fetch " + os.Getenv("STANDIN_FETCH"), pad + "; git reflog >/dev/null; " + pad}
	for i, cmd := range steps {
		id := "toolu_f" + string(rune('1'+i))
		emit(assistant("msg_f"+string(rune('2'+i)), model, []obj{toolUse(id, "Bash", obj{"command": cmd})}, usage(3, 100, 1500, 30)))
		out, _ := exec.Command("sh", "-c", cmd+" 2>&1").Output()
		emit(toolResult(id, string(out)))
	}
	memo := "import functools\n\n@functools.lru_cache(maxsize=None)\ndef slow(n):\n    return n\n"
	if err := os.WriteFile("src/memo.py", []byte(memo), 0o644); err != nil {
		die(2, "edit: %v", err)
	}
	emit(assistant("msg_f7", model, []obj{toolUse("toolu_f4", "Write", obj{"file_path": "src/memo.py", "content": memo})}, usage(3, 100, 1600, 60)))
	emit(toolResult("toolu_f4", "File created successfully at: src/memo.py"))
	final := "Done: slow() is memoized."
	emit(assistant("msg_f8", model, []obj{text(final)}, usage(2, 100, 1700, 10)))
	in, cw, cr, o := 12, 800, 5800, 120
	emit(result("success", false, 5, sonnet(in, cw, cr, o), in, cw, cr, o, model, final, nil))
}
