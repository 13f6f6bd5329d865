// Package standin is a stand-in for the aider executable, for tests: the
// test binaries register Main as the "aider" command (testscript.Main), so
// that bench runs it from PATH. It checks the argv perfbench gives aider
// (failing loudly, as aider's argument parser does, on a flag it does not
// know or a missing one), edits the workspace, writes the files aider
// writes (history files, analytics log, the repo-map cache in the
// workspace) and prints aider's real output formats: the banner, the
// "Tokens: ... Cost: ..." usage reports and LiteLLM errors.
//
// STANDIN_MODE selects the scenario:
//
//	ok (default)   two LLM calls, the second with prompt caching (cost line apart)
//	noanalytics    as ok, without an analytics log
//	slow           a usage report every 100 ms, the session cost rising by $0.01
//	hang           one usage report ($0.05), then sleeps until killed
//	auth           LiteLLM AuthenticationError (401), exit 0 as aider does
//	ratelimit      RateLimitError, retried twice by aider, then given up
//	ratelimit-once ratelimit on the first run (STANDIN_STATE names the marker
//	               file), ok afterwards
//	retry-ok       a RateLimitError, then aider's retry succeeds
//	notfound       LiteLLM NotFoundError for the model
//	leak           as ok, printing $ANTHROPIC_API_KEY and writing it to the
//	               chat history
//
// STANDIN_NOANALYTICS, when set, suppresses the analytics log in any mode.
// STANDIN_MODEL, when set, is the --model the stand-in expects ("-" for
// none).
package standin

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// valueFlags take a value; --map-tokens and --edit-format are two of
// aider's other options, for extra_args.
var valueFlags = []string{"--message-file", "--model", "--input-history-file", "--chat-history-file", "--llm-history-file", "--analytics-log", "--config", "--map-tokens", "--edit-format"}

var required = []string{
	"--message-file", "--yes-always", "--no-auto-commits",
	"--no-dirty-commits", "--no-gitignore", "--no-check-update", "--no-show-release-notes",
	"--no-analytics", "--no-pretty", "--no-stream", "--no-fancy-input", "--no-detect-urls",
	"--input-history-file", "--chat-history-file", "--llm-history-file", "--analytics-log",
}

type run struct {
	stdout, stderr io.Writer
	flags          map[string]string
	analytics      string
	total          float64
}

// Main runs the stand-in with aider's arguments and returns the exit code.
func Main(args []string) int {
	r := &run{stdout: os.Stdout, stderr: os.Stderr, flags: map[string]string{}}
	return r.main(args)
}

func (r *run) fail(code int, format string, a ...any) int {
	fmt.Fprintf(r.stderr, "aider: error: "+format+"\n", a...)
	return code
}

func (r *run) main(args []string) int {
	if len(args) == 1 && args[0] == "--version" {
		fmt.Fprintln(r.stdout, "aider 0.86.1")
		return 0
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if _, dup := r.flags[a]; dup {
			return r.fail(2, "argument %s given twice", a)
		}
		switch {
		case slices.Contains(valueFlags, a):
			if i+1 >= len(args) {
				return r.fail(2, "argument %s: expected one argument", a)
			}
			r.flags[a] = args[i+1]
			i++
		case slices.Contains(required, a):
			r.flags[a] = ""
		default:
			return r.fail(2, "unrecognized arguments: %s", strings.Join(args[i:], " "))
		}
	}
	for _, f := range required {
		if _, ok := r.flags[f]; !ok {
			return r.fail(2, "stand-in: perfbench did not pass %s (argv: %q)", f, args)
		}
	}
	if want, ok := os.LookupEnv("STANDIN_MODEL"); ok {
		got, has := r.flags["--model"]
		if want == "-" && has || want != "-" && got != want {
			return r.fail(2, "stand-in: --model %q (given: %v), want %q", got, has, want)
		}
	}
	out := os.Getenv("BENCH_OUT_DIR")
	for _, f := range []string{"--input-history-file", "--chat-history-file", "--llm-history-file", "--analytics-log"} {
		if out == "" || filepath.Dir(r.flags[f]) != out {
			return r.fail(2, "stand-in: %s %s is not in $BENCH_OUT_DIR (%s)", f, r.flags[f], out)
		}
	}
	if c, ok := r.flags["--config"]; ok {
		if filepath.Dir(c) != out {
			return r.fail(2, "stand-in: --config %s is not in $BENCH_OUT_DIR", c)
		}
		if _, err := os.Stat(c); err != nil {
			return r.fail(2, "stand-in: --config: %v", err)
		}
	}
	msg, err := os.ReadFile(r.flags["--message-file"])
	if err != nil || len(strings.TrimSpace(string(msg))) == 0 {
		return r.fail(2, "stand-in: message file: %v (empty or unreadable)", err)
	}
	if wd, _ := os.Getwd(); wd != os.Getenv("BENCH_WORKSPACE") {
		return r.fail(2, "stand-in: working directory %s is not $BENCH_WORKSPACE", wd)
	}
	if os.Getenv("COLUMNS") != "4096" {
		return r.fail(2, "stand-in: COLUMNS=%q", os.Getenv("COLUMNS"))
	}
	r.analytics = r.flags["--analytics-log"]
	return r.scenario()
}

func (r *run) banner() {
	model := r.flags["--model"]
	if model == "" {
		model = "gpt-4o"
	}
	fmt.Fprintf(r.stdout, "Aider v0.86.1\nMain model: %s with diff edit format\nWeak model: gpt-4o-mini\nGit repo: .git with 3 files\nRepo-map: using 4096 tokens, auto refresh\n\n", model)
	os.MkdirAll(".aider.tags.cache.v4", 0o755)
	os.WriteFile(filepath.Join(".aider.tags.cache.v4", "cache.db"), []byte("SQLite format 3\x00"), 0o644)
	appendFile(r.flags["--input-history-file"], "\n# "+time.Now().Format(time.RFC3339)+"\n+message from file\n")
}

func appendFile(path, s string) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	f.WriteString(s)
	f.Close()
}

// edit changes the workspace the way an applied SEARCH/REPLACE block does.
func (r *run) edit() {
	name := "src/slow.sh"
	if _, err := os.Stat(name); err != nil {
		name = "AIDER.md"
	}
	appendFile(name, "# aider was here\n")
	fmt.Fprintf(r.stdout, "I will make it faster.\n\n%s\n```\n<<<<<<< SEARCH\n=======\n# aider was here\n>>>>>>> REPLACE\n```\n\nApplied edit to %s\n", name, name)
	appendFile(r.flags["--chat-history-file"], "#### make it faster\n\n> Applied edit to "+name+"\n")
	appendFile(r.flags["--llm-history-file"], "TO LLM 2025-01-01T00:00:00\n-------\nSYSTEM Act as an expert software developer.\n")
}

// call reports one LLM call the way aider does: the usage report on
// stdout, the message_send event in the analytics log.
func (r *run) call(report string, prompt, completion int, cost float64) {
	fmt.Fprintln(r.stdout, report)
	r.total = math.Round((r.total+cost)*1e6) / 1e6
	ev := map[string]any{
		"event": "message_send",
		"properties": map[string]any{
			"main_model": "gpt-4o", "edit_format": "diff",
			"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
			"cost": cost, "total_cost": r.total, "aider_version": "0.86.1",
		},
		"user_id": "00000000-0000-0000-0000-000000000000",
		"time":    time.Now().Unix(),
	}
	if r.analytics != "" {
		b, _ := json.Marshal(ev)
		appendFile(r.analytics, string(b)+"\n")
	}
}

const (
	authErr = `litellm.AuthenticationError: AnthropicException - {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`
	authMsg = "The API provider is not able to authenticate you. Check your API key."
	rateErr = `litellm.RateLimitError: AnthropicException - {"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization of 40,000 input tokens per minute."}}`
	rateMsg = "The API provider has rate limited you. Try again later or check your quotas."
	nfErr   = `litellm.NotFoundError: AnthropicException - {"type":"error","error":{"type":"not_found_error","message":"model: claude-nope"}}`
)

func (r *run) ok() int {
	r.edit()
	r.call("Tokens: 2.4k sent, 312 received. Cost: $0.01 message, $0.01 session.", 2417, 312, 0.0123)
	fmt.Fprintln(r.stdout, "The edit is applied; let me also fix the lint error.")
	// Both cache counts: aider prints the cost on a line of its own.
	r.call("Tokens: 3.1k sent, 1.1k cache write, 12k cache hit, 415 received.\nCost: $0.02 message, $0.03 session.", 3104, 415, 0.0219)
	return 0
}

func (r *run) scenario() int {
	mode := os.Getenv("STANDIN_MODE")
	if mode == "ratelimit-once" {
		state := os.Getenv("STANDIN_STATE")
		if state == "" {
			return r.fail(2, "stand-in: ratelimit-once needs STANDIN_STATE")
		}
		if _, err := os.Stat(state); err == nil {
			mode = "ok"
		} else {
			os.WriteFile(state, []byte("seen\n"), 0o644)
			mode = "ratelimit"
		}
	}
	r.banner()
	if os.Getenv("STANDIN_NOANALYTICS") != "" {
		r.analytics = ""
	}
	switch mode {
	case "", "ok":
		return r.ok()
	case "noanalytics":
		r.analytics = ""
		return r.ok()
	case "leak":
		key := os.Getenv("ANTHROPIC_API_KEY")
		fmt.Fprintf(r.stdout, "leak ANTHROPIC_API_KEY=%s\n", key)
		appendFile(r.flags["--chat-history-file"], "key "+key+"\n")
		return r.ok()
	case "slow":
		r.edit()
		for i := 1; i <= 300; i++ {
			r.call(fmt.Sprintf("Tokens: 1.0k sent, 100 received. Cost: $0.01 message, $%.2f session.", float64(i)*0.01), 1000, 100, 0.01)
			time.Sleep(100 * time.Millisecond)
		}
		return 0
	case "hang":
		r.edit()
		r.call("Tokens: 1.5k sent, 120 received. Cost: $0.05 message, $0.05 session.", 1500, 120, 0.05)
		time.Sleep(time.Hour)
		return 0
	case "auth":
		fmt.Fprintln(r.stdout, authErr)
		fmt.Fprintln(r.stdout, authMsg)
		return 0
	case "ratelimit":
		for _, d := range []string{"0.2", "0.5"} {
			fmt.Fprintln(r.stdout, rateErr)
			fmt.Fprintln(r.stdout, rateMsg)
			fmt.Fprintf(r.stdout, "Retrying in %s seconds...\n", d)
		}
		fmt.Fprintln(r.stdout, rateErr)
		fmt.Fprintln(r.stdout, rateMsg)
		return 0
	case "retry-ok":
		fmt.Fprintln(r.stdout, rateErr)
		fmt.Fprintln(r.stdout, rateMsg)
		fmt.Fprintln(r.stdout, "Retrying in 0.2 seconds...")
		return r.ok()
	case "notfound":
		fmt.Fprintln(r.stdout, nfErr)
		return 0
	}
	return r.fail(2, "stand-in: unknown STANDIN_MODE %q", mode)
}
