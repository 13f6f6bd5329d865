package journal

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/records"
)

// ReadEval loads the eval.json of a directory as it is written, in
// either layout (records.Eval): version 2, or version 1 (the per-sample
// layout, whose fields version 2 kept).
func ReadEval(itemDir string) (*records.Eval, error) {
	var r records.Eval
	path := filepath.Join(itemDir, EvalFile)
	if err := fsx.ReadJSON(path, &r); err != nil {
		return nil, err
	}
	if r.SchemaVersion != records.EvalSchemaVersion && r.SchemaVersion != records.EvalSchemaVersionPerSample {
		return nil, fmt.Errorf("%s: schema_version %d, expected %d or %d", path, r.SchemaVersion, records.EvalSchemaVersion, records.EvalSchemaVersionPerSample)
	}
	return &r, nil
}

// WriteEval stores an item's eval.json atomically.
func WriteEval(itemDir string, r *records.Eval) error {
	r.SchemaVersion = records.EvalSchemaVersion
	return fsx.WriteJSON(filepath.Join(itemDir, EvalFile), r)
}

// EvalDir is the directory of the eval.json of item itemID of a run with
// samples samples: the item's directory, or with samples its sample-0
// directory (the item layout keeps one file per item there).
func EvalDir(runDir, itemID string, samples int) string {
	return filepath.Join(runDir, ItemDirName(itemID, 0, samples))
}

// ReadSampleEval reads the evaluation of the one sample whose directory is
// dir ("<item>" or "<item>.s<k>") in either layout: the view of that
// candidate (records.Eval.SampleView) from the item layout's file in the
// sample-0 directory, which wins over per-sample files (an older
// evaluation's, superseded); else dir's own file of the one-candidate
// layout, which is that sample's whatever its sample field says (as
// evaluate's resume takes it). It is the one reader of evaluations. No
// evaluation of it is an error for which os.IsNotExist holds.
func ReadSampleEval(dir string) (*records.Eval, error) {
	id, k, samples := splitItemDirName(filepath.Base(dir))
	runDir := filepath.Dir(dir)
	notExist := &fs.PathError{Op: "open", Path: filepath.Join(dir, EvalFile), Err: os.ErrNotExist}
	item, err := ReadEval(EvalDir(runDir, id, samples))
	if err != nil && !fsx.IsNotExist(err) {
		return nil, err
	}
	if item == nil || item.Candidates == nil {
		if k > 0 {
			if item, err = ReadEval(dir); err != nil {
				return nil, err
			}
		}
		if item == nil {
			return nil, notExist
		}
		// A file of the one-candidate layout read here is dir's own:
		// the sample it is.
		return item, nil
	}
	if v := item.SampleView(k); v != nil {
		return v, nil
	}
	return nil, notExist
}

// splitItemDirName parses ItemDirName's result: "<item>.s<k>" is sample k
// of a run with samples (samples > k, 2 at least), anything else the
// one-sample directory. Item ids end in -NNNN, so the suffix is never
// theirs.
func splitItemDirName(name string) (itemID string, sample, samples int) {
	i := strings.LastIndex(name, ".s")
	if i > 0 {
		if k, err := strconv.Atoi(name[i+2:]); err == nil && k >= 0 && name[i+2:] == strconv.Itoa(k) {
			return name[:i], k, max(k+1, 2)
		}
	}
	return name, 0, 1
}
