// Package records owns what the files of a run say: the types of
// run.json, journal.json, diff_targets.json, eval.json, trajectory.json
// and predictions.jsonl rows, their statuses and schema versions, the
// usage an agent reports, and the limits vocabulary with its names. It holds data
// and the rules that belong to the data (which status is final), nothing
// else: no I/O (where the files are and how they are written is package
// journal's), no engine. It is a leaf: config, every stage, the storage
// and the reports import it, and it imports only stats and fsx.
//
// The JSON shapes are a compatibility contract: testdata holds a file of
// each kind as written before this package existed, and the golden test
// keeps them byte-identical.
package records
