package atiftest

import (
	"encoding/json"
	"strings"
	"testing"
)

// valid is a document using every object of the RFC: a user step, an
// agent step with two tool calls, their results and metrics, a system
// step, final metrics.
const valid = `{
  "schema_version": "ATIF-v1.7",
  "session_id": "s-1",
  "agent": {"name": "claude_code", "version": "2.0.76", "model_name": "claude-sonnet-4-5", "extra": {"k": 1}},
  "notes": "n",
  "final_metrics": {"total_prompt_tokens": 10, "total_completion_tokens": 2, "total_cached_tokens": 4, "total_cost_usd": 0.01, "total_steps": 3},
  "steps": [
    {"step_id": 1, "timestamp": "2026-11-20T10:00:00.000000Z", "source": "user", "message": "make it fast"},
    {"step_id": 2, "source": "agent", "model_name": "m", "message": "",
     "tool_calls": [
       {"tool_call_id": "a", "function_name": "Bash", "arguments": {"command": "ls"}},
       {"tool_call_id": "b", "function_name": "Read", "arguments": {}}
     ],
     "observation": {"results": [{"source_call_id": "a", "content": "x"}, {"content": "no call"}]},
     "metrics": {"prompt_tokens": 10, "completion_tokens": 2, "cached_tokens": 4, "cost_usd": 0.01, "extra": {"cache_creation_input_tokens": 3}},
     "llm_call_count": 1},
    {"step_id": 3, "source": "system", "message": [{"type": "text", "text": "error"}], "extra": {"kind": "error"}}
  ]
}`

func mutate(t *testing.T, f func(doc map[string]any)) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(valid), &doc); err != nil {
		t.Fatal(err)
	}
	f(doc)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func step(doc map[string]any, i int) map[string]any { return doc["steps"].([]any)[i].(map[string]any) }

func TestValidDocument(t *testing.T) {
	if errs := Validate([]byte(valid)); len(errs) > 0 {
		t.Fatalf("valid document rejected: %v", errs)
	}
}

// Each rule of the RFC rejects a document that breaks it, naming the
// path.
func TestEachRuleRejects(t *testing.T) {
	for _, c := range []struct {
		name, want string
		f          func(doc map[string]any)
	}{
		{"schema version", "$.schema_version", func(d map[string]any) { d["schema_version"] = "ATIF-v1.4" }},
		{"schema version type", "$.schema_version", func(d map[string]any) { d["schema_version"] = 1.7 }},
		{"no agent", "$.agent: missing", func(d map[string]any) { delete(d, "agent") }},
		{"no agent version", "$.agent.version: missing", func(d map[string]any) { delete(d["agent"].(map[string]any), "version") }},
		{"agent name type", "$.agent.name", func(d map[string]any) { d["agent"].(map[string]any)["name"] = 3 }},
		{"no steps", "$.steps: missing", func(d map[string]any) { delete(d, "steps") }},
		{"steps object", "$.steps", func(d map[string]any) { d["steps"] = map[string]any{} }},
		{"unknown root field", "$.run: not a field", func(d map[string]any) { d["run"] = "x" }},
		{"unknown step field", "$.steps[0].role: not a field", func(d map[string]any) { step(d, 0)["role"] = "user" }},
		{"step id sequence", "$.steps[1].step_id: 5", func(d map[string]any) { step(d, 1)["step_id"] = 5 }},
		{"step id type", "$.steps[0].step_id", func(d map[string]any) { step(d, 0)["step_id"] = 1.5 }},
		{"step id missing", "$.steps[0].step_id: missing", func(d map[string]any) { delete(step(d, 0), "step_id") }},
		{"source", "$.steps[0].source", func(d map[string]any) { step(d, 0)["source"] = "assistant" }},
		{"message missing", "$.steps[0].message: missing", func(d map[string]any) { delete(step(d, 0), "message") }},
		{"message null", "$.steps[0].message: missing", func(d map[string]any) { step(d, 0)["message"] = nil }},
		{"message number", "$.steps[0].message", func(d map[string]any) { step(d, 0)["message"] = 1 }},
		{"content part", "$.steps[2].message[0]", func(d map[string]any) {
			step(d, 2)["message"] = []any{map[string]any{"type": "image", "text": "x"}}
		}},
		{"agent-only on user", "$.steps[0].tool_calls: only agent steps", func(d map[string]any) { step(d, 0)["tool_calls"] = []any{} }},
		{"metrics on system", "$.steps[2].metrics: only agent steps", func(d map[string]any) { step(d, 2)["metrics"] = map[string]any{} }},
		{"timestamp", "$.steps[0].timestamp", func(d map[string]any) { step(d, 0)["timestamp"] = "yesterday" }},
		{"arguments string", "$.steps[1].tool_calls[0].arguments", func(d map[string]any) {
			step(d, 1)["tool_calls"].([]any)[0].(map[string]any)["arguments"] = `{"command":"ls"}`
		}},
		{"tool call id missing", "$.steps[1].tool_calls[1].tool_call_id: missing", func(d map[string]any) {
			delete(step(d, 1)["tool_calls"].([]any)[1].(map[string]any), "tool_call_id")
		}},
		{"repeated call id", "repeated in the step", func(d map[string]any) {
			step(d, 1)["tool_calls"].([]any)[1].(map[string]any)["tool_call_id"] = "a"
		}},
		{"dangling source call", "names no tool call of step 2", func(d map[string]any) {
			step(d, 1)["observation"].(map[string]any)["results"].([]any)[0].(map[string]any)["source_call_id"] = "zz"
		}},
		{"results missing", "$.steps[1].observation.results: missing", func(d map[string]any) { step(d, 1)["observation"] = map[string]any{} }},
		{"metrics type", "$.steps[1].metrics.prompt_tokens", func(d map[string]any) {
			step(d, 1)["metrics"].(map[string]any)["prompt_tokens"] = "10"
		}},
		{"cost type", "$.final_metrics.total_cost_usd", func(d map[string]any) { d["final_metrics"].(map[string]any)["total_cost_usd"] = "0.01" }},
		{"llm_call_count zero", "llm_call_count 0", func(d map[string]any) { step(d, 1)["llm_call_count"] = 0 }},
		{"embedded without id", "trajectory_id: missing", func(d map[string]any) {
			d["subagent_trajectories"] = []any{map[string]any{"schema_version": "ATIF-v1.7", "agent": d["agent"], "steps": []any{}}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			errs := Validate(mutate(t, c.f))
			if len(errs) == 0 {
				t.Fatal("accepted")
			}
			var all []string
			for _, e := range errs {
				all = append(all, e.Error())
			}
			if !strings.Contains(strings.Join(all, "\n"), c.want) {
				t.Fatalf("errors %q do not say %q", all, c.want)
			}
		})
	}
}

func TestNotJSON(t *testing.T) {
	if errs := Validate([]byte(`{"schema_version":`)); len(errs) != 1 {
		t.Fatalf("%v", errs)
	}
	if errs := Validate([]byte(`[]`)); len(errs) == 0 {
		t.Fatal("array accepted")
	}
}
