package evaluate

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Environment describes the machine an item was timed on.
type Environment struct {
	// Runner is "host" or the container runtime's name.
	Runner   string `json:"runner"`
	Hostname string `json:"hostname,omitempty"`
	OS       string `json:"os"`
	Kernel   string `json:"kernel,omitempty"`
	CPUModel string `json:"cpu_model,omitempty"`
	// Cores is the number of logical CPUs of the machine; AllowedCPUs those
	// this process may use.
	Cores       int   `json:"cores"`
	AllowedCPUs []int `json:"allowed_cpus,omitempty"`
	// Governor is the cpufreq governor of the timing CPU, "" when not
	// readable (virtual machines often have none).
	Governor string `json:"governor,omitempty"`
	// LoadAvg is /proc/loadavg (1, 5, 15 minutes) before and after timing.
	LoadAvgBefore []float64 `json:"load_avg_before,omitempty"`
	LoadAvgAfter  []float64 `json:"load_avg_after,omitempty"`
	Pinning       Pinning   `json:"pinning"`
	// TimingLock is the lock file held while timing.
	TimingLock string `json:"timing_lock,omitempty"`
	// HarnessCPUs are the CPUs the harness, setup and correctness were
	// restricted to, off the timing CPU.
	HarnessCPUs []int  `json:"harness_cpus,omitempty"`
	GoVersion   string `json:"go_version"`
	// Container describes the containers the commands ran in (runner
	// "container", evaluation.environment.image); nil on the host.
	Container *ContainerInfo `json:"container,omitempty"`
}

// ContainerInfo is the container environment of an item: the same image
// and limits for every arm.
type ContainerInfo struct {
	// Image is environment.image as written; ImageID the id of the image
	// the containers ran (they are started by id, so a tag moved meanwhile
	// changes nothing); RepoDigests its registry digests, if any.
	Image       string   `json:"image"`
	ImageID     string   `json:"image_id"`
	RepoDigests []string `json:"repo_digests,omitempty"`
	// Engine is the client (docker or podman) and EngineVersion the
	// server's version.
	Engine        string `json:"engine"`
	EngineVersion string `json:"engine_version,omitempty"`
	// User is the --user of every command (the invoking uid:gid).
	User string `json:"user"`
	// Workspace is where each arm's workspace is mounted.
	Workspace string `json:"workspace"`
	Network   string `json:"network,omitempty"`
	// The limits of bench.yaml's container section (0/"" = none).
	CPUs      float64 `json:"cpus,omitempty"`
	Memory    string  `json:"memory,omitempty"`
	PidsLimit int     `json:"pids_limit,omitempty"`
	// SetupCPUSet is the containers' cpuset during setup and correctness
	// (the harness's CPUs), TimingCPUSet during the timed rounds (the
	// timing CPU); "" means no cpuset.
	SetupCPUSet  string `json:"setup_cpuset,omitempty"`
	TimingCPUSet string `json:"timing_cpuset,omitempty"`
}

// Pinning says whether the timed processes ran on one CPU.
type Pinning struct {
	// Requested is false when no CPU could be reserved for timing.
	Requested bool `json:"requested"`
	// Applied is true when every timed run was pinned to CPU.
	Applied bool `json:"applied"`
	CPU     int  `json:"cpu"`
	// PinnedRuns counts the runs that were pinned, out of Runs.
	PinnedRuns int `json:"pinned_runs"`
	Runs       int `json:"runs"`
	// Method is how: "sched_setaffinity" (the launcher pins itself), or
	// "cpuset+sched_setaffinity" in containers (the containers' cgroup
	// cpuset is the timing CPU alone, and the launcher pins itself too).
	Method string `json:"method,omitempty"`
	Error  string `json:"error,omitempty"`
}

// hostEnvironment reads what can be read about this machine.
func hostEnvironment(runner string, timingCPU int) Environment {
	e := Environment{Runner: runner, OS: runtime.GOOS + "/" + runtime.GOARCH, Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	e.Hostname, _ = os.Hostname()
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
