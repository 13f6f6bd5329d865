package evaluate

import (
	"testing"

	"github.com/perfbench/perfbench/internal/records"
)

// The Slurm job and array task of the environment are recorded beside the
// host; outside a job there is none.
func TestSlurmJob(t *testing.T) {
	if j := hostEnvironment("host", -1, []string{"PATH=/bin"}).Slurm; j != nil {
		t.Fatalf("outside a job: %+v", j)
	}
	got := hostEnvironment("host", -1, []string{"SLURM_JOB_ID=17", "SLURM_ARRAY_JOB_ID=12", "SLURM_ARRAY_TASK_ID=3"}).Slurm
	if got == nil || *got != (records.SlurmJob{JobID: "17", ArrayJobID: "12", ArrayTaskID: "3"}) {
		t.Fatalf("array task: %+v", got)
	}
	got = hostEnvironment("host", -1, []string{"SLURM_JOB_ID=5"}).Slurm
	if got == nil || *got != (records.SlurmJob{JobID: "5"}) {
		t.Fatalf("single job: %+v", got)
	}
}
