// Command python stands in for an OpenHands image's python in perfbench's
// tests. It is built statically and installed as /usr/bin/python in a
// FROM scratch image. It accepts `-m openhands.core.main` with the
// headless flags, reports what a container test checks (uid, network
// interfaces, environment variable names, the docker socket), edits the
// workspace, and writes an event store and a trajectory with a cost the
// way OpenHands does (tool_call_metadata with the model response's id on
// actions and their observations, llm_metrics cleaned of per-response
// lists). Like OpenHands, it reads its --config-file (default config.toml
// in its working directory: the stand-in fails when it would read the
// workspace's), and
// with RUNTIME=local it needs tmux on PATH and reaches its action server
// at $SANDBOX_LOCAL_RUNTIME_URL:<port> (the image sets the app image's
// http://host.docker.internal). Installed as tmux, it answers -V.
// STANDIN_SHOW, a comma-separated list of paths, makes it print each
// file's content ("show PATH: CONTENT", or "show PATH: absent"): what a
// workspace_setup left outside the workspace.
// STANDIN_MODE selects a scripted behaviour:
//
//	normal    three steps, edits, finishes (the default)
//	maxiter   runs -i steps and stops on the iteration limit
//	budget    stops on the budget limit
//	stuck     stops stuck in a loop
//	autherror stops on an LLM authentication error, edits nothing
//	internal  stops on STATUS$ERROR_LLM_INTERNAL_SERVER_ERROR, edits nothing
//	leak      prints the values of LLM_API_KEY and OPENAI_API_KEY to stdout
//	          and stderr and writes them into the trajectory and events
//	slow      works until signalled; SIGINT stops it gracefully (state
//	          stopped, trajectory saved), like OpenHands
//	hang      ignores SIGINT and SIGTERM and never ends
//	hog       allocates memory until the kernel kills it
//	exit      exits with STANDIN_EXIT
//	escape    attacks the copy of its output folder: on its first
//	          attempt (no marker in ~/.openhands, which outlives attempts)
//	          it links $BENCH_OUT_DIR/sub to STANDIN_VICTIM (a host path)
//	          and fakes a rate limit so that the harness retries; on the
//	          next it writes $BENCH_OUT_DIR/sub/x and finishes normally
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type flags struct {
	dir, file, agentCls, configFile, llmConfig string
	iterations                                 int
	budget                                     float64
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "usage error: "+format+"\n", args...)
	os.Exit(2)
}

func parse(args []string) flags {
	if len(args) < 2 || args[0] != "-m" || args[1] != "openhands.core.main" {
		fail("expected -m openhands.core.main, got %q", args)
	}
	f := flags{iterations: -1, budget: -1}
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		val := func() string {
			if i+1 >= len(rest) {
				fail("%s needs a value", a)
			}
			i++
			return rest[i]
		}
		switch a {
		case "-d", "--directory":
			f.dir = val()
		case "-f", "--file":
			f.file = val()
		case "-i", "--max-iterations":
			n, err := strconv.Atoi(val())
			if err != nil || n < 1 {
				fail("-i: %v", rest[i])
			}
			f.iterations = n
		case "-b", "--max-budget-per-task":
			v, err := strconv.ParseFloat(val(), 64)
			if err != nil {
				fail("-b: %v", err)
			}
			f.budget = v
		case "-c", "--agent-cls":
			f.agentCls = val()
		case "--config-file":
			f.configFile = val()
		case "-l", "--llm-config":
			f.llmConfig = val()
		default:
			fail("unrecognized argument %q", a)
		}
	}
	if f.dir == "" || f.file == "" || f.iterations < 0 {
		fail("-d, -f and -i are required")
	}
	return f
}

// store writes events like OpenHands' local file store and keeps them for
// the trajectory.
type store struct {
	dir    string
	next   int
	events []map[string]any
	cost   float64
	in     int64
	out    int64
	calls  int
}

func (s *store) add(ev map[string]any) {
	ev["id"] = s.next
	ev["timestamp"] = time.Now().UTC().Format(time.RFC3339Nano)
	s.next++
	s.events = append(s.events, ev)
	if s.dir != "" {
		data, _ := json.Marshal(ev)
		os.WriteFile(filepath.Join(s.dir, strconv.Itoa(ev["id"].(int))+".json"), data, 0o644)
	}
	if os.Getenv("LOG_ALL_EVENTS") == "true" {
		kind, _ := ev["action"].(string)
		if kind == "" {
			kind, _ = ev["observation"].(string)
		}
		fmt.Printf("EVENT %d %s %s\n", ev["id"], ev["source"], kind)
	}
}

// step is one LLM call and its action.
func (s *store) step(action string, args map[string]any) {
	s.calls++
	s.cost += 0.0125
	s.in += 1000
	s.out += 150
	meta := map[string]any{
		"function_name": "execute_bash", "tool_call_id": fmt.Sprintf("toolu_%d", s.calls),
		"model_response":          map[string]any{"id": fmt.Sprintf("chatcmpl-standin-%d", s.calls), "object": "chat.completion", "model": "standin", "choices": []any{}},
		"total_calls_in_response": 1,
	}
	s.add(map[string]any{
		"source": "agent", "action": action, "message": "step " + action, "args": args,
		"tool_call_metadata": meta,
		// As the controller attaches them: totals, per-response lists
		// empty.
		"llm_metrics": map[string]any{
			"accumulated_cost": s.cost,
			"accumulated_token_usage": map[string]any{
				"model": "standin", "prompt_tokens": s.in, "completion_tokens": s.out,
				"cache_read_tokens": 10 * s.calls, "cache_write_tokens": 0, "context_window": 0, "per_turn_token": 1150,
			},
			"costs":              []any{},
			"response_latencies": []any{},
			"token_usages":       []any{},
		},
	})
	s.add(map[string]any{"source": "environment", "observation": "run", "content": "ok", "extras": map[string]any{"command": "true", "exit_code": 0}, "cause": s.next - 1, "tool_call_metadata": meta})
}

func (s *store) state(state, reason string) {
	s.add(map[string]any{"source": "environment", "observation": "agent_state_changed", "content": "", "extras": map[string]any{"agent_state": state, "reason": reason}})
}

// trajectory writes what OpenHands' get_trajectory writes: the history,
// without agent state changes.
func (s *store) trajectory() {
	path := os.Getenv("SAVE_TRAJECTORY_PATH")
	if path == "" {
		return
	}
	var hist []map[string]any
	for _, e := range s.events {
		if e["observation"] == "agent_state_changed" {
			continue
		}
		hist = append(hist, e)
	}
	data, _ := json.MarshalIndent(hist, "", "    ")
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "trajectory:", err)
	}
}

func report(f flags) {
	fmt.Printf("standin: argv ok: %s\n", strings.Join(os.Args[1:], " "))
	fmt.Printf("uid=%d gid=%d groups=%v\n", os.Getuid(), os.Getgid(), groups())
	var names []string
	ifs, err := net.Interfaces()
	if err != nil {
		fmt.Println("net: error", err)
	}
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	sort.Strings(names)
	fmt.Printf("net: %s\n", strings.Join(names, ","))
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		env = append(env, k)
	}
	sort.Strings(env)
	fmt.Printf("env: %s\n", strings.Join(env, ","))
	if _, err := os.Stat("/var/run/docker.sock"); err == nil {
		fmt.Println("docker.sock: present")
	} else {
		fmt.Println("docker.sock: absent")
	}
	if _, err := os.Stat(filepath.Join(os.Getenv("HOME"), ".openhands")); err == nil {
		fmt.Println("openhands home: present")
	} else {
		fmt.Println("openhands home: absent")
	}
	wd, _ := os.Getwd()
	fmt.Printf("cwd=%s dir=%s file=%s iterations=%d budget=%g\n", wd, f.dir, f.file, f.iterations, f.budget)
	for _, p := range strings.Split(os.Getenv("STANDIN_SHOW"), ",") {
		if p == "" {
			continue
		}
		if data, err := os.ReadFile(p); err != nil {
			fmt.Printf("show %s: absent\n", p)
		} else {
			fmt.Printf("show %s: %s\n", p, strings.TrimSpace(string(data)))
		}
	}
	for _, kv := range []string{"RUNTIME", "SANDBOX_VOLUMES", "SANDBOX_USER_ID", "MAX_ITERATIONS", "MAX_BUDGET_PER_TASK", "FILE_STORE", "LLM_MODEL", "SANDBOX_RUNTIME_CONTAINER_IMAGE", "SANDBOX_LOCAL_RUNTIME_URL", "AGENT_ENABLE_BROWSING", "ENABLE_BROWSER"} {
		fmt.Printf("%s=%s\n", kv, os.Getenv(kv))
	}
}

func groups() []int {
	g, _ := os.Getgroups()
	return g
}

func edit(dir string) {
	target := filepath.Join(dir, "src", "slow.sh")
	if _, err := os.Stat(target); err != nil {
		target = filepath.Join(dir, "standin.txt")
	}
	fh, err := os.OpenFile(target, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "edit:", err)
		os.Exit(1)
	}
	fmt.Fprintln(fh, "# optimized by the stand-in")
	fh.Close()
	os.MkdirAll(filepath.Join(dir, "standin"), 0o755)
	os.WriteFile(filepath.Join(dir, "standin", "notes.md"), []byte("notes\n"), 0o644)
}

// loadConfig reads --config-file as OpenHands does (default config.toml
// in the working directory). One in the workspace is the repository's:
// the stand-in refuses it.
func loadConfig(f flags) {
	path := f.configFile
	if path == "" {
		path = "config.toml"
	}
	if !filepath.IsAbs(path) {
		wd, _ := os.Getwd()
		path = filepath.Join(wd, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Printf("config: %s not found, toml values have not been applied\n", path)
		return
	}
	if rel, err := filepath.Rel(f.dir, path); err == nil && !strings.HasPrefix(rel, "..") {
		fmt.Fprintf(os.Stderr, "standin: loaded the workspace's config file %s\n", path)
		os.Exit(3)
	}
	fmt.Printf("config: %s (%d bytes)\n", path, len(data))
}

// localRuntime does what LocalRuntime needs before the agent's first
// step: tmux (its dependency check starts a session), and its action
// server answering at SANDBOX_LOCAL_RUNTIME_URL:<port>.
func localRuntime() {
	if _, err := exec.LookPath("tmux"); err != nil {
		fmt.Fprintln(os.Stderr, "ValueError: tmux is not properly installed or available on the path.")
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "action server:", err)
		os.Exit(1)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	url := fmt.Sprintf("%s:%d/alive", os.Getenv("SANDBOX_LOCAL_RUNTIME_URL"), ln.Addr().(*net.TCPAddr).Port)
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintf(os.Stderr, "RuntimeError: the action execution server did not answer at %s: %v\n", url, err)
		os.Exit(1)
	}
	resp.Body.Close()
	fmt.Printf("action server: %s ok\n", url)
}

func main() {
	if filepath.Base(os.Args[0]) == "tmux" {
		if len(os.Args) == 2 && os.Args[1] == "-V" {
			fmt.Println("tmux 3.3a (perfbench stand-in)")
			return
		}
		fmt.Fprintln(os.Stderr, "tmux stand-in: only -V")
		os.Exit(1)
	}
	f := parse(os.Args[1:])
	report(f)
	loadConfig(f)
	if os.Getenv("RUNTIME") == "local" {
		localRuntime()
	}
	task, err := os.ReadFile(f.file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "task:", err)
		os.Exit(1)
	}
	fmt.Printf("task: %d bytes, headless rule: %v\n", len(task), strings.Contains(string(task), "do not ask for user input"))

	mode := os.Getenv("STANDIN_MODE")
	s := &store{}
	if fs := os.Getenv("FILE_STORE_PATH"); fs != "" {
		s.dir = filepath.Join(fs, "sessions", "standin-session", "events")
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "file store:", err)
			os.Exit(1)
		}
	}
	s.add(map[string]any{"source": "agent", "action": "system", "args": map[string]any{"content": "You are OpenHands agent."}})
	s.add(map[string]any{"source": "user", "action": "message", "args": map[string]any{"content": string(task)}})
	s.state("running", "")

	switch mode {
	case "hog":
		var keep [][]byte
		for {
			b := make([]byte, 8<<20)
			for i := range b {
				b[i] = 1
			}
			keep = append(keep, b)
			fmt.Printf("allocated %d MiB\n", 8*len(keep))
		}
	case "hang":
		signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
		s.step("run", map[string]any{"command": "sleep infinity"})
		fmt.Println("hanging")
		for {
			time.Sleep(time.Hour)
		}
	case "slow":
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT)
		edit(f.dir)
		s.step("run", map[string]any{"command": "make bench"})
		fmt.Println("working")
		select {
		case <-sig:
			fmt.Println("Received SIGINT (Ctrl+C). Initiating graceful shutdown...")
			s.state("stopped", "")
			s.trajectory()
			os.Exit(0)
		case <-time.After(time.Hour):
		}
	case "exit":
		n, _ := strconv.Atoi(os.Getenv("STANDIN_EXIT"))
		os.Exit(n)
	case "escape":
		out := os.Getenv("BENCH_OUT_DIR")
		marker := filepath.Join(os.Getenv("HOME"), ".openhands", "escape.seen")
		if _, err := os.Stat(marker); err != nil {
			if err := os.WriteFile(marker, nil, 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "escape:", err)
				os.Exit(1)
			}
			if err := os.Symlink(os.Getenv("STANDIN_VICTIM"), filepath.Join(out, "sub")); err != nil {
				fmt.Fprintln(os.Stderr, "escape:", err)
				os.Exit(1)
			}
			fmt.Fprintln(os.Stderr, "litellm.RateLimitError: Error code: 429 - rate limit reached, too many requests")
			os.Exit(1)
		}
		os.MkdirAll(filepath.Join(out, "sub"), 0o755)
		if err := os.WriteFile(filepath.Join(out, "sub", "x"), []byte("attempt 2\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "escape:", err)
			os.Exit(1)
		}
	case "internal":
		s.add(map[string]any{"source": "environment", "observation": "error", "content": "litellm.InternalServerError: AnthropicException - Internal server error", "extras": map[string]any{"error_id": ""}})
		s.state("error", "STATUS$ERROR_LLM_INTERNAL_SERVER_ERROR")
		s.trajectory()
		return
	case "autherror":
		s.calls++
		s.add(map[string]any{"source": "environment", "observation": "error", "content": "litellm.AuthenticationError: invalid x-api-key", "extras": map[string]any{"error_id": ""}})
		s.state("error", "AuthenticationError: litellm.AuthenticationError: AnthropicException - invalid x-api-key")
		s.trajectory()
		return
	}

	edit(f.dir)
	steps := 3
	if mode == "maxiter" {
		steps = f.iterations
	}
	for i := 0; i < steps; i++ {
		s.step("run", map[string]any{"command": fmt.Sprintf("step %d", i)})
	}
	if mode == "leak" {
		for _, k := range []string{"LLM_API_KEY", "OPENAI_API_KEY"} {
			v := os.Getenv(k)
			fmt.Printf("leak %s=%s\n", k, v)
			fmt.Fprintf(os.Stderr, "leak %s=%s\n", k, v)
			s.add(map[string]any{"source": "environment", "observation": "run", "content": "export " + k + "=" + v, "extras": map[string]any{"command": "env"}})
		}
	}
	switch mode {
	case "maxiter":
		s.state("error", fmt.Sprintf("RuntimeError: Agent reached maximum iteration. Current iteration: %d, max iteration: %d", f.iterations, f.iterations))
	case "budget":
		s.state("error", fmt.Sprintf("RuntimeError: Agent reached maximum budget for conversation.Current budget: %.2f, max budget: %.2f", s.cost, f.budget))
	case "stuck":
		s.add(map[string]any{"source": "environment", "observation": "error", "content": "Agent got stuck in a loop", "extras": map[string]any{"error_id": "AGENT_ERROR$STUCK"}})
		s.state("error", "AgentStuckInLoopError: Agent got stuck in a loop")
	default:
		s.add(map[string]any{"source": "agent", "action": "finish", "args": map[string]any{"final_thought": "done"}})
		s.state("finished", "")
	}
	s.trajectory()
	fmt.Println("standin: done")
}
