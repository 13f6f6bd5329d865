package evaluate

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/records"
)

// hostEnvironment reads what can be read about this machine, and the
// Slurm job of processEnv.
func hostEnvironment(runner string, timingCPU int, processEnv []string) records.Environment {
	e := records.Environment{Runner: runner, OS: runtime.GOOS + "/" + runtime.GOARCH, Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	e.Hostname, _ = os.Hostname()
	e.Slurm = slurmJob(processEnv)
	e.Kernel = kernelRelease()
	e.CPUModel = cpuModel()
	e.AllowedCPUs, _ = allowedCPUs()
	cpu := timingCPU
	if cpu < 0 {
		cpu = 0
	}
	if b, err := os.ReadFile("/sys/devices/system/cpu/cpu" + strconv.Itoa(cpu) + "/cpufreq/scaling_governor"); err == nil {
		e.Governor = strings.TrimSpace(string(b))
	}
	return e
}

// slurmJob is the Slurm job of the environment, nil outside one: which
// job and array task timed an item, beside the host and CPU model.
func slurmJob(env []string) *records.SlurmJob {
	id, ok := proc.LookupEnv(env, "SLURM_JOB_ID")
	if !ok || id == "" {
		return nil
	}
	j := &records.SlurmJob{JobID: id}
	j.ArrayJobID, _ = proc.LookupEnv(env, "SLURM_ARRAY_JOB_ID")
	j.ArrayTaskID, _ = proc.LookupEnv(env, "SLURM_ARRAY_TASK_ID")
	return j
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name", "Model", "Hardware", "cpu model":
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAvg reads the 1, 5 and 15 minute load averages.
func loadAvg() []float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	f := strings.Fields(string(b))
	var out []float64
	for i := 0; i < 3 && i < len(f); i++ {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil
		}
		out = append(out, v)
	}
	return out
}
