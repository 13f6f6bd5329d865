package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/fsx"
)

// Prediction is one line of predictions.jsonl, the SWE-bench/GSO format.
type Prediction struct {
	InstanceID      string `json:"instance_id"`
	ModelPatch      string `json:"model_patch"`
	ModelNameOrPath string `json:"model_name_or_path"`
}

// PredictionsFileName is predictions.jsonl for sample 0 of a one-sample
// run, and predictions.s<k>.jsonl per sample otherwise.
func PredictionsFileName(sample, samples int) string {
	if samples <= 1 {
		return PredictionsFile
	}
	return fmt.Sprintf("predictions.s%d.jsonl", sample)
}

// WritePredictions atomically writes one line per prediction.
func WritePredictions(path string, preds []Prediction) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, p := range preds {
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	return fsx.WriteFile(path, buf.Bytes(), 0o644)
}

// ReadPredictions parses a predictions.jsonl file; a malformed line is bad
// input naming the file and line, and instance ids must be unique.
func ReadPredictions(path string) ([]Prediction, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, badinput.Wrap(fmt.Errorf("predictions: %w", err))
	}
	defer f.Close()
	var out []Prediction
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var p Prediction
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&p); err != nil {
			return nil, badinput.Errorf("%s:%d: expected a JSON object {instance_id, model_patch, model_name_or_path}: %v", path, line, err)
		}
		if p.InstanceID == "" {
			return nil, badinput.Errorf("%s:%d: instance_id is missing", path, line)
		}
		if prev, ok := seen[p.InstanceID]; ok {
			return nil, badinput.Errorf("%s:%d: instance_id %q already on line %d", path, line, p.InstanceID, prev)
		}
		seen[p.InstanceID] = line
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, badinput.Wrap(fmt.Errorf("%s:%d: %w", path, line+1, err))
	}
	return out, nil
}

// PredictionsPath joins a run directory and the predictions file name.
func PredictionsPath(runDir string, sample, samples int) string {
	return filepath.Join(runDir, PredictionsFileName(sample, samples))
}
