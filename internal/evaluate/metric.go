package evaluate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

// RunValue returns the metric of one run from its result: the user +
// system CPU time of its process tree for "cpu" (which the runner must
// have measured), its instruction count for "instructions", else
// Extract's.
func RunValue(m records.Metric, stdout []byte, cr CommandResult) (float64, error) {
	switch m.Kind {
	case records.MetricCPU:
		if !cr.CPUTimes {
			return 0, errors.New("the CPU time of the run was not measured")
		}
		return (cr.User + cr.Sys).Seconds(), nil
	case records.MetricInstructions:
		return instructionsOf(cr)
	}
	return Extract(m, stdout, cr.Wall)
}

// instructionsOf is a counted run's instruction count.
func instructionsOf(cr CommandResult) (float64, error) {
	switch {
	case cr.CountError != "":
		return 0, fmt.Errorf("instructions not counted (%s): %s", cr.CountMethod, cr.CountError)
	case cr.Instructions == 0:
		return 0, fmt.Errorf("no instruction count (%s)", cr.CountMethod)
	}
	return float64(cr.Instructions), nil
}

// Extract returns the metric of one run: the wall time in seconds for
// "wall", else the number found in stdout. For "regex" it is the first
// capture group of the first match; for "json" the field (a dotted path
// such as "results.mean") of the first line of stdout that is a JSON
// object holding it, as a number or a numeric string. The value must be
// finite.
func Extract(m records.Metric, stdout []byte, wall time.Duration) (float64, error) {
	switch m.Kind {
	case "", "wall":
		return wall.Seconds(), nil
	case "regex":
		re, err := regexp.Compile(m.Regex)
		if err != nil {
			return 0, fmt.Errorf("metric regex: %w", err)
		}
		sub := re.FindSubmatch(stdout)
		if sub == nil {
			return 0, fmt.Errorf("metric regex %q matches nothing in the workload's output (%s)", m.Regex, excerpt(stdout))
		}
		if len(sub) < 2 {
			return 0, fmt.Errorf("metric regex %q has no capture group", m.Regex)
		}
		return parseNumber(strings.TrimSpace(string(sub[1])), fmt.Sprintf("metric regex %q captured", m.Regex))
	case "json":
		return extractJSON(m.JSON, stdout)
	}
	return 0, fmt.Errorf("unknown metric kind %q", m.Kind)
}

func extractJSON(field string, stdout []byte) (float64, error) {
	path := strings.Split(field, ".")
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 64*1024), len(stdout)+1)
	objects := 0
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			continue
		}
		objects++
		cur, ok := v, true
		for _, k := range path {
			obj, isObj := cur.(map[string]any)
			if !isObj {
				ok = false
				break
			}
			if cur, ok = obj[k]; !ok {
				break
			}
		}
		if !ok {
			continue
		}
		what := fmt.Sprintf("metric json field %q is", field)
		switch x := cur.(type) {
		case json.Number:
			return parseNumber(x.String(), what)
		case string:
			return parseNumber(strings.TrimSpace(x), what)
		default:
			return 0, fmt.Errorf("%s %s, not a number", what, jsonKind(x))
		}
	}
	if objects == 0 {
		return 0, fmt.Errorf("metric json field %q: no line of the workload's output is a JSON object (%s)", field, excerpt(stdout))
	}
	return 0, fmt.Errorf("metric json field %q: none of the %d JSON line(s) of the workload's output has it", field, objects)
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

func parseNumber(s, what string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q, not a number", what, textx.Truncate(s, 40))
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s %q, not a finite number", what, s)
	}
	return v, nil
}

// excerpt describes output for an error message.
func excerpt(b []byte) string {
	if len(bytes.TrimSpace(b)) == 0 {
		return "the output is empty"
	}
	return fmt.Sprintf("output starts %q", textx.Truncate(string(b), 60))
}
