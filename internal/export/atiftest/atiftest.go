// Package atiftest checks documents against the Agent Trajectory
// Interchange Format, ATIF-v1.7, as Harbor's RFC 0001 states it: the
// required fields and types of each object, encoded below as rules, and
// the rules the RFC's reference models enforce (step ids sequential
// from 1, agent-only fields, tool-call references, no unknown fields).
// It walks the JSON as it is, not through perfbench's own types, so that
// an exporter bug cannot hide behind a round trip. For tests: the export
// package's, the adapters' trajectory converters' (CheckConverted,
// StepKinds, SeedLines: their tests and fuzzers share them), and the
// adapters' scripts (the atifcheck command).
package atiftest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Version is the version the rules are of.
const Version = "ATIF-v1.7"

type kind int

const (
	tString kind = iota
	tInteger
	tNumber
	tBool
	tObject
	tArray
	tStringOrArray // message, content: a string or ContentPart objects
	tStringOrNumber
)

func (k kind) String() string {
	return [...]string{"string", "integer", "number", "boolean", "object", "array", "string or array", "string or number"}[k]
}

type field struct {
	typ      kind
	required bool
	// schema of an object, or of an array's items ("" = free-form).
	schema string
}

func req(k kind, schema ...string) field {
	return field{typ: k, required: true, schema: strings.Join(schema, "")}
}
func opt(k kind, schema ...string) field { return field{typ: k, schema: strings.Join(schema, "")} }

// schemas are the RFC's tables (section II), one per object: every field
// with its type and whether it is required. Objects are closed (the
// reference models forbid extra fields); "extra" objects are free-form.
var schemas = map[string]map[string]field{
	"Trajectory": {
		"schema_version":           req(tString),
		"session_id":               opt(tString),
		"trajectory_id":            opt(tString),
		"agent":                    req(tObject, "Agent"),
		"steps":                    req(tArray, "Step"),
		"notes":                    opt(tString),
		"final_metrics":            opt(tObject, "FinalMetrics"),
		"continued_trajectory_ref": opt(tString),
		"extra":                    opt(tObject),
		"subagent_trajectories":    opt(tArray, "Trajectory"),
	},
	"Agent": {
		"name":             req(tString),
		"version":          req(tString),
		"model_name":       opt(tString),
		"tool_definitions": opt(tArray),
		"extra":            opt(tObject),
	},
	"FinalMetrics": {
		"total_prompt_tokens":     opt(tInteger),
		"total_completion_tokens": opt(tInteger),
		"total_cached_tokens":     opt(tInteger),
		"total_cost_usd":          opt(tNumber),
		"total_steps":             opt(tInteger),
		"extra":                   opt(tObject),
	},
	"Step": {
		"step_id":           req(tInteger),
		"timestamp":         opt(tString),
		"source":            req(tString),
		"model_name":        opt(tString),
		"reasoning_effort":  opt(tStringOrNumber),
		"message":           req(tStringOrArray, "ContentPart"),
		"reasoning_content": opt(tString),
		"tool_calls":        opt(tArray, "ToolCall"),
		"observation":       opt(tObject, "Observation"),
		"metrics":           opt(tObject, "Metrics"),
		"extra":             opt(tObject),
		"llm_call_count":    opt(tInteger),
		"is_copied_context": opt(tBool),
	},
	"ToolCall": {
		"tool_call_id":  req(tString),
		"function_name": req(tString),
		"arguments":     req(tObject),
		"extra":         opt(tObject),
	},
	"Metrics": {
		"prompt_tokens":        opt(tInteger),
		"completion_tokens":    opt(tInteger),
		"cached_tokens":        opt(tInteger),
		"cost_usd":             opt(tNumber),
		"prompt_token_ids":     opt(tArray),
		"completion_token_ids": opt(tArray),
		"logprobs":             opt(tArray),
		"extra":                opt(tObject),
	},
	"Observation": {
		"results": req(tArray, "ObservationResult"),
	},
	"ObservationResult": {
		"source_call_id":          opt(tString),
		"content":                 opt(tStringOrArray, "ContentPart"),
		"subagent_trajectory_ref": opt(tArray, "SubagentTrajectoryRef"),
		"extra":                   opt(tObject),
	},
	"SubagentTrajectoryRef": {
		"trajectory_id":   opt(tString),
		"trajectory_path": opt(tString),
		"session_id":      opt(tString),
		"extra":           opt(tObject),
	},
	"ContentPart": {
		"type":   req(tString),
		"text":   opt(tString),
		"source": opt(tObject, "ImageSource"),
	},
	"ImageSource": {
		"media_type": req(tString),
		"path":       req(tString),
	},
}

// sources are a step's allowed originators.
var sources = []string{"system", "user", "agent"}

// agentOnly are the fields only agent steps may carry.
var agentOnly = []string{"model_name", "reasoning_effort", "reasoning_content", "tool_calls", "metrics"}

// Validate checks one document and returns every violation, each naming
// the JSON path of the offending value.
func Validate(data []byte) []error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return []error{fmt.Errorf("not JSON: %v", err)}
	}
	if dec.More() {
		return []error{errors.New("more than one JSON value")}
	}
	v := &validator{}
	v.object("$", doc, "Trajectory")
	if root, ok := doc.(map[string]any); ok {
		if sv, ok := root["schema_version"].(string); ok && sv != Version {
			v.errorf("$.schema_version: %q, expected %q", sv, Version)
		}
		v.trajectory("$", root)
	}
	return v.errs
}

type validator struct{ errs []error }

func (v *validator) errorf(format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf(format, args...))
}

// object checks val against the named schema: an object with its
// required fields, each field of its type, no other field.
func (v *validator) object(path string, val any, schema string) {
	obj, ok := val.(map[string]any)
	if !ok {
		v.errorf("%s: %s, expected an object (%s)", path, typeName(val), schema)
		return
	}
	fields := schemas[schema]
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		f := fields[name]
		fv, present := obj[name]
		if !present || fv == nil {
			// Optional fields may be null (None in the reference models).
			if f.required {
				v.errorf("%s.%s: missing, required (%s)", path, name, f.typ)
			}
			continue
		}
		v.value(path+"."+name, fv, f)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if _, known := fields[k]; !known {
			v.errorf("%s.%s: not a field of %s", path, k, schema)
		}
	}
}

func (v *validator) value(path string, val any, f field) {
	switch f.typ {
	case tString:
		if _, ok := val.(string); !ok {
			v.errorf("%s: %s, expected a string", path, typeName(val))
		}
	case tInteger:
		if !isInteger(val) {
			v.errorf("%s: %s, expected an integer", path, typeName(val))
		}
	case tNumber:
		if _, ok := val.(json.Number); !ok {
			v.errorf("%s: %s, expected a number", path, typeName(val))
		}
	case tBool:
		if _, ok := val.(bool); !ok {
			v.errorf("%s: %s, expected a boolean", path, typeName(val))
		}
	case tStringOrNumber:
		_, s := val.(string)
		_, n := val.(json.Number)
		if !s && !n {
			v.errorf("%s: %s, expected a string or a number", path, typeName(val))
		}
	case tObject:
		if f.schema == "" {
			if _, ok := val.(map[string]any); !ok {
				v.errorf("%s: %s, expected an object", path, typeName(val))
			}
			return
		}
		v.object(path, val, f.schema)
	case tArray, tStringOrArray:
		if _, ok := val.(string); ok && f.typ == tStringOrArray {
			return
		}
		arr, ok := val.([]any)
		if !ok {
			v.errorf("%s: %s, expected %s", path, typeName(val), f.typ)
			return
		}
		if f.schema != "" {
			for i, it := range arr {
				v.object(fmt.Sprintf("%s[%d]", path, i), it, f.schema)
			}
		}
	}
}

// trajectory checks the rules across fields of a trajectory whose shape
// object() checked: the reference models' validators.
func (v *validator) trajectory(path string, root map[string]any) {
	steps, _ := root["steps"].([]any)
	for i, sv := range steps {
		sp := fmt.Sprintf("%s.steps[%d]", path, i)
		step, ok := sv.(map[string]any)
		if !ok {
			continue
		}
		if id, ok := step["step_id"].(json.Number); ok && id.String() != fmt.Sprint(i+1) {
			v.errorf("%s.step_id: %s, expected %d (sequential from 1)", sp, id, i+1)
		}
		src, _ := step["source"].(string)
		if _, ok := step["source"].(string); ok && !slices.Contains(sources, src) {
			v.errorf("%s.source: %q, expected one of %s", sp, src, strings.Join(sources, ", "))
		}
		if src != "agent" {
			for _, f := range agentOnly {
				if step[f] != nil {
					v.errorf("%s.%s: only agent steps may have it (source %q)", sp, f, src)
				}
			}
		}
		if n, ok := step["llm_call_count"].(json.Number); ok {
			if n.String() == "0" && (step["metrics"] != nil || step["reasoning_content"] != nil || step["reasoning_effort"] != nil) {
				v.errorf("%s: llm_call_count 0 with reasoning or metrics", sp)
			}
			if strings.HasPrefix(n.String(), "-") {
				v.errorf("%s.llm_call_count: %s, expected ≥ 0", sp, n)
			}
		}
		if ts, ok := step["timestamp"].(string); ok && !isISO8601(ts) {
			v.errorf("%s.timestamp: %q, expected an ISO 8601 time", sp, ts)
		}
		ids := map[string]bool{}
		calls, _ := step["tool_calls"].([]any)
		for j, cv := range calls {
			if c, ok := cv.(map[string]any); ok {
				if id, ok := c["tool_call_id"].(string); ok {
					if ids[id] {
						v.errorf("%s.tool_calls[%d].tool_call_id: %q repeated in the step", sp, j, id)
					}
					ids[id] = true
				}
			}
		}
		if obs, ok := step["observation"].(map[string]any); ok {
			results, _ := obs["results"].([]any)
			for j, rv := range results {
				r, ok := rv.(map[string]any)
				if !ok {
					continue
				}
				if id, ok := r["source_call_id"].(string); ok && !ids[id] {
					v.errorf("%s.observation.results[%d].source_call_id: %q names no tool call of step %d", sp, j, id, i+1)
				}
			}
		}
		if msg, ok := step["message"].([]any); ok {
			v.contentParts(sp+".message", msg)
		}
	}
	if subs, ok := root["subagent_trajectories"].([]any); ok {
		seen := map[string]bool{}
		for i, sv := range subs {
			sub, ok := sv.(map[string]any)
			if !ok {
				continue
			}
			id, _ := sub["trajectory_id"].(string)
			if id == "" {
				v.errorf("%s.subagent_trajectories[%d].trajectory_id: missing, required on embedded trajectories", path, i)
			} else if seen[id] {
				v.errorf("%s.subagent_trajectories[%d].trajectory_id: %q repeated", path, i, id)
			}
			seen[id] = true
			v.trajectory(fmt.Sprintf("%s.subagent_trajectories[%d]", path, i), sub)
		}
	}
}

// contentParts checks the text/image condition of ContentPart.
func (v *validator) contentParts(path string, parts []any) {
	for i, pv := range parts {
		p, ok := pv.(map[string]any)
		if !ok {
			continue
		}
		pp := fmt.Sprintf("%s[%d]", path, i)
		switch p["type"] {
		case "text":
			if p["text"] == nil || p["source"] != nil {
				v.errorf("%s: a text part has text and no source", pp)
			}
		case "image":
			if p["source"] == nil || p["text"] != nil {
				v.errorf("%s: an image part has a source and no text", pp)
			}
		default:
			v.errorf("%s.type: %v, expected text or image", pp, p["type"])
		}
	}
}

func isInteger(val any) bool {
	n, ok := val.(json.Number)
	if !ok {
		return false
	}
	_, err := n.Int64()
	return err == nil
}

// isISO8601 accepts what Python's datetime.fromisoformat reads after
// the reference model replaces "Z" by "+00:00": a date, a time, an
// optional fraction and an optional offset.
func isISO8601(s string) bool {
	s = strings.Replace(s, "Z", "+00:00", 1)
	for _, layout := range []string{
		"2006-01-02T15:04:05.999999999-07:00", "2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999", "2006-01-02",
	} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

func typeName(val any) string {
	switch val.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", val)
}

// ValidateFile checks the document at path.
func ValidateFile(path string) []error {
	data, err := os.ReadFile(path)
	if err != nil {
		return []error{err}
	}
	return Validate(data)
}

// Cmd is the script command `atifcheck DIR [MIN_STEPS]`: every *.json in
// DIR (at least one) is a valid ATIF-v1.7 document, with at least
// MIN_STEPS steps when given. Negated, some document is invalid.
func Cmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: atifcheck DIR [MIN_STEPS]")
	}
	minSteps := 0
	if len(args) == 2 {
		if _, err := fmt.Sscan(args[1], &minSteps); err != nil {
			ts.Fatalf("atifcheck: MIN_STEPS %q: %v", args[1], err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(ts.MkAbs(args[0]), "*.json"))
	if len(files) == 0 {
		ts.Fatalf("atifcheck: no *.json in %s", args[0])
	}
	bad := 0
	for _, f := range files {
		errs := ValidateFile(f)
		if len(errs) == 0 && minSteps > 0 {
			var doc struct {
				Steps []json.RawMessage `json:"steps"`
			}
			data, _ := os.ReadFile(f)
			if json.Unmarshal(data, &doc) == nil && len(doc.Steps) < minSteps {
				errs = append(errs, fmt.Errorf("%d steps, expected at least %d", len(doc.Steps), minSteps))
			}
		}
		for _, err := range errs {
			ts.Logf("%s: %v", filepath.Base(f), err)
		}
		if len(errs) > 0 {
			bad++
		}
	}
	switch {
	case neg && bad == 0:
		ts.Fatalf("atifcheck: every document of %s is valid", args[0])
	case !neg && bad > 0:
		ts.Fatalf("atifcheck: %d of %d documents of %s are invalid", bad, len(files), args[0])
	}
}
