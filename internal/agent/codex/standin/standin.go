// Package standin is a stand-in for OpenAI's Codex CLI, for tests: Main
// behaves like `codex exec --json` as perfbench runs it. It parses the argv
// the way Codex's clap parser does (an unknown or repeated flag is an
// error, exit 2), fails loudly (exit 3) when perfbench's contract is not
// met (--json, --skip-git-repo-check, --cd = $BENCH_WORKSPACE = the working
// directory, a sandbox, the prompt "-" on stdin equal to the task file,
// CODEX_HOME = $HOME/.codex existing, and, with CODEX_STANDIN_ARGS, the
// exact argv), edits the workspace, prints the JSONL events of exec --json
// and writes a session log under $CODEX_HOME/sessions with a token_count
// event after every model response, as Codex does.
//
// Without credentials (OPENAI_API_KEY, CODEX_API_KEY or
// $CODEX_HOME/auth.json) it fails with a 401, as Codex does. With
// --profile P, $CODEX_HOME/config.toml must have [profiles.P].
//
// CODEX_STANDIN_MODE selects a scenario:
//
//	ok         (default) CODEX_STANDIN_STEPS model responses (default 3)
//	slow       a model response every 100 ms, with rising usage, until killed
//	hang       two model responses, then nothing until killed
//	maxiter    40 model responses, 50 ms apart, with tool calls
//	auth       401 Unauthorized (error + turn.failed, exit 1)
//	ratelimit  429 after retries (error + turn.failed, exit 1); with
//	           CODEX_STANDIN_STATE=<file>, only when that file does not exist
//	           yet (it is created), then ok
//	model      model not found (400, code model_not_found)
//	reconnect  a transient "Reconnecting... 1/5 (429 ...)" error, then ok
//	legacy     the legacy --json format of Codex < 0.43 ({"id","msg"}), no
//	           session log
//	garbage    ok, with non-JSON and truncated lines in between
//	leak       ok, printing the values of *_KEY variables to stdout,
//	           stderr and the session log
//
// CODEX_STANDIN_FILE names the workspace file it edits (default
// src/slow.sh; created when missing).
package standin

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Name is the executable's name.
const Name = "codex"

// Version is what --version prints.
const Version = "codex-cli 0.0.0-standin"

// Main runs the stand-in with os.Args and exits.
func Main() {
	os.Exit(Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type options struct {
	values     map[string]string
	configs    []string
	flags      map[string]bool
	positional []string
}

// Flags of codex exec that take a value, by every spelling, and their
// canonical name.
var valueFlags = map[string]string{
	"--cd": "cd", "-C": "cd", "--model": "model", "-m": "model",
	"--sandbox": "sandbox", "-s": "sandbox", "--profile": "profile", "-p": "profile",
	"--config": "config", "-c": "config", "--output-last-message": "output-last-message", "-o": "output-last-message",
	"--color": "color", "--output-schema": "output-schema", "--image": "image", "-i": "image",
	"--add-dir": "add-dir", "--ask-for-approval": "ask-for-approval", "-a": "ask-for-approval",
}

var boolFlags = map[string]string{
	"--json": "json", "--experimental-json": "json", "--skip-git-repo-check": "skip-git-repo-check",
	"--full-auto": "full-auto", "--dangerously-bypass-approvals-and-sandbox": "yolo", "--yolo": "yolo",
	"--ephemeral": "ephemeral", "--oss": "oss", "--ignore-user-config": "ignore-user-config",
	"--ignore-rules": "ignore-rules", "--search": "search",
}

var sandboxes = []string{"read-only", "workspace-write", "danger-full-access"}

func parse(args []string) (*options, error) {
	o := &options{values: map[string]string{}, flags: map[string]bool{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.positional = append(o.positional, args[i+1:]...)
			break
		}
		if a == "-" || !strings.HasPrefix(a, "-") {
			o.positional = append(o.positional, a)
			continue
		}
		name, val, hasVal := strings.Cut(a, "=")
		if canon, ok := boolFlags[name]; ok && !hasVal {
			o.flags[canon] = true
			continue
		}
		canon, ok := valueFlags[name]
		if !ok {
			return nil, fmt.Errorf("unexpected argument '%s' found", a)
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("a value is required for '%s <VALUE>' but none was supplied", name)
			}
			i++
			val = args[i]
		}
		switch canon {
		case "config", "image", "add-dir":
			o.configs = append(o.configs, val)
		default:
			if _, dup := o.values[canon]; dup {
				return nil, fmt.Errorf("the argument '--%s <VALUE>' cannot be used multiple times", canon)
			}
			o.values[canon] = val
		}
	}
	if len(o.positional) > 1 {
		return nil, fmt.Errorf("unexpected argument '%s' found", o.positional[1])
	}
	if s, ok := o.values["sandbox"]; ok && !slices.Contains(sandboxes, s) {
		return nil, fmt.Errorf("invalid value '%s' for '--sandbox <SANDBOX_MODE>' [possible values: %s]", s, strings.Join(sandboxes, ", "))
	}
	return o, nil
}

// Run is the stand-in's main.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 1 && args[0] == "--version" {
		fmt.Fprintln(stdout, Version)
		return 0
	}
	if len(args) == 0 || (args[0] != "exec" && args[0] != "e") {
		fmt.Fprintf(stderr, "stand-in codex: only `codex exec` is supported, got %q\n", args)
		return 2
	}
	o, err := parse(args[1:])
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n\nUsage: codex exec [OPTIONS] [PROMPT]\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "stand-in codex: argv %q\n", args)
	s := &sim{o: o, stdout: stdout, stderr: stderr}
	if err := s.check(args[1:], stdin); err != nil {
		fmt.Fprintf(stderr, "stand-in codex: CONTRACT VIOLATION: %v\n", err)
		return 3
	}
	return s.run()
}

type sim struct {
	o       *options
	stdout  io.Writer
	stderr  io.Writer
	home    string
	ws      string
	prompt  string
	model   string
	thread  string
	session *os.File
	nextID  int
	total   usage
}

type usage struct {
	Input     int64 `json:"input_tokens"`
	Cached    int64 `json:"cached_input_tokens"`
	Output    int64 `json:"output_tokens"`
	Reasoning int64 `json:"reasoning_output_tokens"`
	Total     int64 `json:"total_tokens"`
}

func (s *sim) check(args []string, stdin io.Reader) error {
	o := s.o
	if want, ok := os.LookupEnv("CODEX_STANDIN_ARGS"); ok {
		want = strings.ReplaceAll(want, "{workspace}", os.Getenv("BENCH_WORKSPACE"))
		if got := strings.Join(args, " "); got != want {
			return fmt.Errorf("argv after exec:\n  got  %s\n  want %s", got, want)
		}
	}
	if !o.flags["json"] {
		return errors.New("--json is missing")
	}
	if !o.flags["skip-git-repo-check"] {
		return errors.New("--skip-git-repo-check is missing")
	}
	ws := os.Getenv("BENCH_WORKSPACE")
	if ws == "" {
		return errors.New("BENCH_WORKSPACE is not set")
	}
	if o.values["cd"] != ws {
		return fmt.Errorf("--cd %q, want the workspace %q", o.values["cd"], ws)
	}
	if wd, _ := os.Getwd(); wd != ws {
		return fmt.Errorf("working directory %q, want the workspace %q", wd, ws)
	}
	// --full-auto chooses nothing: after 0.115 it is a hidden flag that
	// only warns, and the sandbox stays read-only without --sandbox.
	if _, ok := o.values["sandbox"]; !ok && !o.flags["yolo"] {
		return errors.New("no sandbox chosen (--sandbox workspace-write expected)")
	}
	if len(o.positional) != 1 || o.positional[0] != "-" {
		return fmt.Errorf("the prompt argument is %q, want \"-\" (read from stdin)", o.positional)
	}
	prompt, err := io.ReadAll(stdin)
	if err != nil {
		return err
	}
	task, err := os.ReadFile(os.Getenv("BENCH_TASK_FILE"))
	if err != nil {
		return fmt.Errorf("task file: %v", err)
	}
	if len(prompt) == 0 || string(prompt) != string(task) {
		return fmt.Errorf("stdin (%d bytes) is not the task file (%d bytes)", len(prompt), len(task))
	}
	s.prompt = string(prompt)
	s.home = os.Getenv("CODEX_HOME")
	if want := filepath.Join(os.Getenv("HOME"), ".codex"); s.home != want && os.Getenv("CODEX_STANDIN_ANY_HOME") == "" {
		return fmt.Errorf("CODEX_HOME %q, want the rollout's own %q", s.home, want)
	}
	if st, err := os.Stat(s.home); err != nil || !st.IsDir() {
		return fmt.Errorf("CODEX_HOME %q does not exist (Codex requires it)", s.home)
	}
	s.ws = ws
	return nil
}

func (s *sim) emit(v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(s.stdout, "%s\n", b)
}

func (s *sim) log(typ string, payload any) {
	if s.session == nil {
		return
	}
	b, _ := json.Marshal(map[string]any{"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "type": typ, "payload": payload})
	s.session.Write(append(b, '\n'))
}

func (s *sim) id() string {
	s.nextID++
	return fmt.Sprintf("item_%d", s.nextID-1)
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// configModel reads model = "..." from config.toml: the profile's table
// when --profile is given and sets one, else the top level.
func configModel(cfg, profile string) string {
	table, top, prof := "", "", ""
	for _, line := range strings.Split(cfg, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			table = strings.Trim(line, "[]")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) != "model" {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		switch {
		case table == "":
			top = v
		case profile != "" && table == "profiles."+profile:
			prof = v
		}
	}
	if prof != "" {
		return prof
	}
	return top
}

func (s *sim) run() int {
	mode := os.Getenv("CODEX_STANDIN_MODE")
	cfg, _ := os.ReadFile(filepath.Join(s.home, "config.toml"))
	if p := s.o.values["profile"]; p != "" && !strings.Contains(string(cfg), "[profiles."+p+"]") {
		fmt.Fprintf(s.stderr, "Error loading configuration: config profile `%s` not found\n", p)
		return 1
	}
	s.model = s.o.values["model"]
	if s.model == "" {
		s.model = configModel(string(cfg), s.o.values["profile"])
	}
	if s.model == "" {
		s.model = "gpt-5-codex"
	}
	s.thread = newUUID()
	if mode == "legacy" {
		return s.legacy()
	}
	now := time.Now().UTC()
	dir := filepath.Join(s.home, "sessions", now.Format("2006"), now.Format("01"), now.Format("02"))
	if err := os.MkdirAll(dir, 0o755); err == nil {
		s.session, _ = os.Create(filepath.Join(dir, "rollout-"+now.Format("2006-01-02T15-04-05")+"-"+s.thread+".jsonl"))
	}
	if s.session != nil {
		defer s.session.Close()
	}
	s.log("session_meta", map[string]any{"id": s.thread, "timestamp": now.Format(time.RFC3339), "cwd": s.ws, "originator": "codex_exec", "cli_version": "0.0.0-standin"})
	s.emit(map[string]any{"type": "thread.started", "thread_id": s.thread})
	s.log("turn_context", map[string]any{"cwd": s.ws, "approval_policy": "never", "sandbox_policy": map[string]any{"mode": s.o.values["sandbox"]}, "model": s.model, "summary": "auto"})
	s.log("event_msg", map[string]any{"type": "user_message", "message": "(the task)"})
	s.emit(map[string]any{"type": "turn.started"})

	if !s.authenticated() {
		return s.fail("unexpected status 401 Unauthorized: Missing bearer or basic authentication in header, url: https://api.openai.com/v1/responses")
	}
	switch mode {
	case "", "ok":
		n := 3
		fmt.Sscan(os.Getenv("CODEX_STANDIN_STEPS"), &n)
		return s.work(n, 0, false)
	case "slow":
		return s.work(3000, 100*time.Millisecond, false)
	case "maxiter":
		return s.work(40, 50*time.Millisecond, false)
	case "hang":
		s.step(1, false)
		s.step(2, false)
		time.Sleep(time.Hour)
		return 0
	case "auth":
		return s.fail("unexpected status 401 Unauthorized: Incorrect API key provided: sk-proj-****. You can find your API key at https://platform.openai.com/account/api-keys., url: https://api.openai.com/v1/responses")
	case "ratelimit":
		if st := os.Getenv("CODEX_STANDIN_STATE"); st != "" {
			if _, err := os.Stat(st); err == nil {
				return s.work(2, 0, false)
			}
			os.WriteFile(st, []byte("429 sent\n"), 0o644)
		}
		s.step(1, false)
		s.emit(map[string]any{"type": "error", "message": "Reconnecting... 1/5 (unexpected status 429 Too Many Requests: Rate limit reached for gpt-5-codex)"})
		return s.fail("exceeded retry limit, last status: 429 Too Many Requests, request id: req_standin")
	case "model":
		return s.fail(`unexpected status 400 Bad Request: {"error":{"message":"The requested model '` + s.model + `' does not exist.","type":"invalid_request_error","param":"model","code":"model_not_found"}}`)
	case "reconnect":
		s.emit(map[string]any{"type": "error", "message": "Reconnecting... 1/5 (stream disconnected before completion: 429 Too Many Requests)"})
		return s.work(2, 0, false)
	case "garbage":
		return s.work(3, 0, true)
	case "leak":
		var keys []string
		for _, kv := range os.Environ() {
			if k, _, _ := strings.Cut(kv, "="); strings.HasSuffix(k, "_KEY") {
				keys = append(keys, kv)
			}
		}
		sort.Strings(keys)
		for _, kv := range keys {
			fmt.Fprintf(s.stderr, "leak %s\n", kv)
			s.emit(map[string]any{"type": "item.completed", "item": map[string]any{"id": s.id(), "type": "reasoning", "text": "found " + kv}})
			s.log("event_msg", map[string]any{"type": "agent_reasoning", "text": "found " + kv})
		}
		return s.work(2, 0, false)
	}
	fmt.Fprintf(s.stderr, "stand-in codex: unknown CODEX_STANDIN_MODE %q\n", mode)
	return 4
}

func (s *sim) authenticated() bool {
	if os.Getenv("OPENAI_API_KEY") != "" || os.Getenv("CODEX_API_KEY") != "" {
		return true
	}
	_, err := os.Stat(filepath.Join(s.home, "auth.json"))
	return err == nil
}

// fail ends the turn the way Codex does on an API error.
func (s *sim) fail(msg string) int {
	s.emit(map[string]any{"type": "error", "message": msg})
	s.emit(map[string]any{"type": "turn.failed", "error": map[string]any{"message": msg}})
	fmt.Fprintf(s.stderr, "ERROR: %s\n", msg)
	return 1
}

// edit changes the workspace: the patch.
func (s *sim) edit() string {
	name := os.Getenv("CODEX_STANDIN_FILE")
	if name == "" {
		name = "src/slow.sh"
	}
	path := filepath.Join(s.ws, name)
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		fmt.Fprintln(f, "# codex was here")
		f.Close()
	}
	return path
}

// step is one model response: a reasoning summary, a command (and, at the
// second step, a file change), then the response's token_count in the
// session log.
func (s *sim) step(k int, final bool) {
	s.emit(map[string]any{"type": "item.completed", "item": map[string]any{"id": s.id(), "type": "reasoning", "text": fmt.Sprintf("**Step %d**", k)}})
	if !final {
		id := s.id()
		cmd := "bash -lc 'sh bench.sh'"
		s.emit(map[string]any{"type": "item.started", "item": map[string]any{"id": id, "type": "command_execution", "command": cmd, "aggregated_output": "", "exit_code": nil, "status": "in_progress"}})
		s.log("response_item", map[string]any{"type": "function_call", "name": "shell", "arguments": `{"command":["bash","-lc","sh bench.sh"]}`, "call_id": "call_" + id})
		s.emit(map[string]any{"type": "item.completed", "item": map[string]any{"id": id, "type": "command_execution", "command": cmd, "aggregated_output": "1000\n", "exit_code": 0, "status": "completed"}})
	}
	if k == 2 || (final && k == 1) {
		path := s.edit()
		s.emit(map[string]any{"type": "item.completed", "item": map[string]any{"id": s.id(), "type": "file_change", "changes": []any{map[string]any{"path": path, "kind": "update"}}, "status": "completed"}})
	}
	last := usage{Input: 10000, Cached: 4000, Output: 500, Reasoning: 200}
	if os.Getenv("CODEX_STANDIN_MODE") == "slow" {
		last = usage{Input: 100000, Cached: 0, Output: 10000}
	}
	last.Total = last.Input + last.Output
	s.total.Input += last.Input
	s.total.Cached += last.Cached
	s.total.Output += last.Output
	s.total.Reasoning += last.Reasoning
	s.total.Total += last.Total
	if k == 1 {
		// A rate-limit-only update: no info.
		s.log("event_msg", map[string]any{"type": "token_count", "info": nil, "rate_limits": map[string]any{"primary": map[string]any{"used_percent": 3.0, "window_minutes": 300}}})
	}
	info := map[string]any{"total_token_usage": s.total, "last_token_usage": last, "model_context_window": 272000}
	s.log("event_msg", map[string]any{"type": "token_count", "info": info, "rate_limits": nil})
	if k == 1 {
		// Codex repeats the totals when its rate limits change.
		s.log("event_msg", map[string]any{"type": "token_count", "info": info, "rate_limits": map[string]any{"primary": map[string]any{"used_percent": 4.0, "window_minutes": 300}}})
	}
}

// work runs n model responses, pause apart, and completes the turn.
func (s *sim) work(n int, pause time.Duration, garbage bool) int {
	for k := 1; k <= n; k++ {
		if garbage {
			fmt.Fprintln(s.stdout, "this is not JSON")
			fmt.Fprintln(s.stdout, `{"type":"item.completed","item":{"id":"item_x","type":"comm`)
		}
		s.step(k, k == n)
		if pause > 0 && k < n {
			time.Sleep(pause)
		}
	}
	msg := "I made src/slow.sh faster."
	if os.Getenv("CODEX_STANDIN_MODE") == "leak" {
		msg += " My key is " + os.Getenv("OPENAI_API_KEY")
	}
	s.emit(map[string]any{"type": "item.completed", "item": map[string]any{"id": s.id(), "type": "agent_message", "text": msg}})
	s.emit(map[string]any{"type": "turn.completed", "usage": map[string]any{"input_tokens": s.total.Input, "cached_input_tokens": s.total.Cached, "output_tokens": s.total.Output}})
	return 0
}

// legacy speaks the --json format of Codex < 0.43: a config summary, the
// prompt, then {"id", "msg"} events with per-response token counts.
func (s *sim) legacy() int {
	if !s.authenticated() {
		s.emit(map[string]any{"id": "1", "msg": map[string]any{"type": "error", "message": "unexpected status 401 Unauthorized: Missing bearer authentication"}})
		return 1
	}
	s.emit(map[string]any{"model": s.model, "sandbox": s.o.values["sandbox"], "workdir": s.ws})
	s.emit(map[string]any{"prompt": "(the task)"})
	ev := func(msg map[string]any) { s.emit(map[string]any{"id": "1", "msg": msg}) }
	s.emit(map[string]any{"id": "0", "msg": map[string]any{"type": "session_configured", "session_id": s.thread, "model": s.model, "history_log_id": 0, "history_entry_count": 0}})
	ev(map[string]any{"type": "task_started"})
	for k := 1; k <= 2; k++ {
		ev(map[string]any{"type": "agent_reasoning", "text": fmt.Sprintf("step %d", k)})
		ev(map[string]any{"type": "exec_command_begin", "call_id": fmt.Sprint("c", k), "command": []string{"bash", "-lc", "ls"}, "cwd": s.ws})
		ev(map[string]any{"type": "exec_command_end", "call_id": fmt.Sprint("c", k), "stdout": "", "stderr": "", "exit_code": k - 1})
		if k == 2 {
			s.edit()
			ev(map[string]any{"type": "patch_apply_begin", "call_id": "p1", "auto_approved": true, "changes": map[string]any{}})
		}
		ev(map[string]any{"type": "token_count", "input_tokens": 3000, "cached_input_tokens": 1000, "output_tokens": 200, "reasoning_output_tokens": 50, "total_tokens": 3200})
	}
	ev(map[string]any{"type": "agent_message", "message": "Done."})
	ev(map[string]any{"type": "task_complete", "last_agent_message": "Done."})
	return 0
}
