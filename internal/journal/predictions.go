package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/google/renameio/v2"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/records"
)

// PredictionsFileName is predictions.jsonl for sample 0 of a one-sample
// run, and predictions.s<k>.jsonl per sample otherwise.
func PredictionsFileName(sample, samples int) string {
	if samples <= 1 {
		return PredictionsFile
	}
	return fmt.Sprintf("predictions.s%d.jsonl", sample)
}

// WritePredictions atomically writes one line per prediction.
func WritePredictions(path string, preds []records.Prediction) error {
	w, err := CreatePredictions(path)
	if err != nil {
		return err
	}
	defer w.Close()
	for _, p := range preds {
		if err := w.Add(p.InstanceID, p.ModelNameOrPath, strings.NewReader(p.ModelPatch)); err != nil {
			return err
		}
	}
	return w.Commit()
}

// PredictionsWriter writes a predictions file one row at a time, each
// patch streamed from its reader, so no patch is ever held whole in
// memory. Rows are what encoding/json writes for a records.Prediction. The file appears
// atomically on Commit; Close without Commit leaves the old one.
type PredictionsWriter struct {
	pf *renameio.PendingFile
	bw *bufio.Writer
	rd *bufio.Reader
}

// CreatePredictions starts a new predictions file at path.
func CreatePredictions(path string) (*PredictionsWriter, error) {
	pf, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(0o644))
	if err != nil {
		return nil, fmt.Errorf("predictions: %w", err)
	}
	return &PredictionsWriter{pf: pf, bw: bufio.NewWriterSize(pf, 64<<10), rd: bufio.NewReaderSize(nil, 64<<10)}, nil
}

// Add writes the row of one instance; patch (nil: empty) is read to its
// end.
func (w *PredictionsWriter) Add(instanceID, model string, patch io.Reader) error {
	w.bw.WriteString(`{"instance_id":`)
	writeJSON(w.bw, instanceID)
	w.bw.WriteString(`,"model_patch":"`)
	if patch != nil {
		w.rd.Reset(patch)
		if err := writeJSONChars(w.bw, w.rd); err != nil {
			return fmt.Errorf("predictions: %s: %w", instanceID, err)
		}
	}
	w.bw.WriteString(`","model_name_or_path":`)
	writeJSON(w.bw, model)
	_, err := w.bw.WriteString("}\n")
	return err
}

// Commit makes the file visible under its name.
func (w *PredictionsWriter) Commit() error {
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("predictions: %w", err)
	}
	if err := w.pf.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("predictions: %w", err)
	}
	return nil
}

// Close discards an uncommitted file.
func (w *PredictionsWriter) Close() error { return w.pf.Cleanup() }

// writeJSON writes v as encoding/json does with HTML escaping off (v is a
// short string: an id or a model name).
func writeJSON(w *bufio.Writer, v string) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	w.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

const hexDigits = "0123456789abcdef"

// writeJSONChars writes what r yields as the inside of a JSON string,
// escaped exactly as encoding/json escapes with HTML escaping off: \" \\
// \b \f \n \r \t, \u00XX for other control characters, \ufffd for each
// byte of invalid UTF-8, and \u2028 \u2029.
func writeJSONChars(w *bufio.Writer, r *bufio.Reader) error {
	for {
		c, size, err := r.ReadRune()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case c == utf8.RuneError && size == 1:
			w.WriteString(`\ufffd`)
		case c == '"' || c == '\\':
			w.WriteByte('\\')
			w.WriteByte(byte(c))
		case c == '\b':
			w.WriteString(`\b`)
		case c == '\f':
			w.WriteString(`\f`)
		case c == '\n':
			w.WriteString(`\n`)
		case c == '\r':
			w.WriteString(`\r`)
		case c == '\t':
			w.WriteString(`\t`)
		case c < 0x20:
			w.WriteString(`\u00`)
			w.WriteByte(hexDigits[c>>4])
			w.WriteByte(hexDigits[c&0xf])
		case c == '\u2028':
			w.WriteString(`\u2028`)
		case c == '\u2029':
			w.WriteString(`\u2029`)
		default:
			w.WriteRune(c)
		}
	}
}

// PredictionLineBound is the longest predictions line ReadPredictions
// accepts when patches are at most maxPatch bytes: JSON escapes a byte as
// at most six (\u00XX), plus room for the other fields.
func PredictionLineBound(maxPatch int64) int {
	return int(6*maxPatch) + 1<<20
}

// ReadPredictions parses a predictions.jsonl file; a malformed line is bad
// input naming the file and line, and instance ids must be unique. A line
// longer than PredictionLineBound(maxPatch), or a patch longer than
// maxPatch bytes, is bad input too: what could not be captured cannot be
// evaluated either, and nothing unbounded is read into memory.
func ReadPredictions(path string, maxPatch int64) ([]records.Prediction, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, badinput.Wrap(fmt.Errorf("predictions: %w", err))
	}
	defer f.Close()
	var out []records.Prediction
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	bound := PredictionLineBound(maxPatch)
	sc.Buffer(make([]byte, min(1<<20, bound)), bound)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var p records.Prediction
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&p); err != nil {
			return nil, badinput.Errorf("%s:%d: expected a JSON object {instance_id, model_patch, model_name_or_path}: %v", path, line, err)
		}
		if p.InstanceID == "" {
			return nil, badinput.Errorf("%s:%d: instance_id is missing", path, line)
		}
		if int64(len(p.ModelPatch)) > maxPatch {
			return nil, badinput.Errorf("%s:%d: model_patch of %s is %d bytes, more than max_patch_bytes (%d)", path, line, p.InstanceID, len(p.ModelPatch), maxPatch)
		}
		if prev, ok := seen[p.InstanceID]; ok {
			return nil, badinput.Errorf("%s:%d: instance_id %q already on line %d", path, line, p.InstanceID, prev)
		}
		seen[p.InstanceID] = line
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, badinput.Errorf("%s:%d: line longer than %d bytes (max_patch_bytes is %d)", path, line+1, bound, maxPatch)
		}
		return nil, badinput.Wrap(fmt.Errorf("%s:%d: %w", path, line+1, err))
	}
	return out, nil
}

// PredictionsPath joins a run directory and the predictions file name.
func PredictionsPath(runDir string, sample, samples int) string {
	return filepath.Join(runDir, PredictionsFileName(sample, samples))
}
