package main

import (
	"bytes"
	"os"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"

	"github.com/perfbench/perfbench/internal/k8s"
)

// cmdK8sJob runs, here, what a pod of a rendered Job would: the bench
// command of each of its containers (init containers first), with the
// pod's completion index for $(JOB_COMPLETION_INDEX), in the working
// directory the pod has (which must be the script's). It proves the
// rendered arguments are ones bench accepts and that the steps, in
// order, make a run. EXTRA arguments are appended to each command: what
// the pod has of its own and the test machine shares (evaluate's timing
// locks live in the pod's private /tmp; here, --lock-dir keeps them from
// other tests' evaluations).
//
//	k8sjob FILE STEP [INDEX [EXTRA...]]
func cmdK8sJob(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: k8sjob FILE STEP [INDEX [EXTRA...]]")
	}
	index := "0"
	var extra []string
	if len(args) >= 3 {
		index, extra = args[2], args[3:]
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	var job *batchv1.Job
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var j batchv1.Job
		ts.Check(yaml.Unmarshal(doc, &j))
		if j.Kind == "Job" && j.Labels[k8s.LabelComponent] == args[1] {
			job = &j
		}
	}
	if job == nil {
		ts.Fatalf("%s: no Job of step %s", args[0], args[1])
	}
	pod := job.Spec.Template.Spec
	wd := ts.MkAbs(".")
	var failed error
	for _, c := range append(pod.InitContainers, pod.Containers...) {
		if len(c.Command) != 1 || c.Command[0] != "bench" {
			ts.Fatalf("%s: command %q, want bench", c.Name, c.Command)
		}
		if c.WorkingDir != wd {
			ts.Fatalf("%s: working directory %s, the script's is %s", c.Name, c.WorkingDir, wd)
		}
		argv := make([]string, len(c.Args))
		for i, a := range c.Args {
			argv[i] = strings.ReplaceAll(a, "$("+k8s.IndexEnv+")", index)
		}
		argv = append(argv, extra...)
		ts.Logf("%s: bench %s", c.Name, strings.Join(argv, " "))
		if failed = ts.Exec("bench", argv...); failed != nil {
			break
		}
	}
	if failed != nil && !neg {
		ts.Fatalf("%s %s: %v", args[1], index, failed)
	}
	if failed == nil && neg {
		ts.Fatalf("%s %s: unexpected success", args[1], index)
	}
}
