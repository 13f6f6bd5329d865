package evaluate

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/evaluate/evaltest"
	"github.com/perfbench/perfbench/internal/records"
)

// spreadWorkload is a fast workload (about 10-30 ms) that runs the same
// shell (busybox) on the host and in the image.
const spreadWorkload = `exec busybox sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done'`

// BenchmarkTimingSpread measures the run-to-run spread of a fast workload
// timed on the host and in a container, the figures of docs/evaluation.md:
//
//	go test ./internal/evaluate/ -run '^$' -bench TimingSpread -benchtime 60x
//
// Each of the b.N rounds times the workload once in each way below, in a
// rotating order (so a burst of load elsewhere hits every way alike), and
// the benchmark reports, per way, the median (<way>-ms), the coefficient of
// variation (<way>-cv%) and a robust one, 1.4826·MAD/median (<way>-rcv%):
//
//   - host: the launcher on the host, pinned to the timing CPU (what
//     evaluate does without an image);
//   - exec: one container, the launcher run by `docker exec` measuring
//     inside, the container's cpuset the timing CPU (what evaluate does
//     with environment.image);
//   - execout: the same `docker exec`, timed from the host (the exec's own
//     start-up included);
//   - run: one `docker run --rm` per run on the timing CPU, timed from the
//     host (container start-up included: the alternative evaluate does not
//     use).
//
// The harness runs off the timing CPU and holds the timing lock, as
// evaluate does. The machine should be otherwise idle.
func BenchmarkTimingSpread(b *testing.B) {
	if _, err := exec.LookPath("busybox"); err != nil {
		b.Skip("no busybox on the host")
	}
	cpus, err := allowedCPUs()
	if err != nil || len(cpus) < 2 {
		b.Skip("needs two CPUs")
	}
	image, launcherPath := evaltest.Require(b)
	ctx := context.Background()
	// The machine-wide timing lock: no evaluation times on this CPU meanwhile.
	slot, err := acquireTiming(ctx, DefaultLockDir(), cpus[len(cpus)-1:], os.Stderr)
	if err != nil {
		b.Fatal(err)
	}
	defer slot.release()
	timing := slot.cpu
	restore, err := restrictProcess(cpus[:len(cpus)-1])
	if err != nil {
		b.Fatal(err)
	}
	defer restore()

	h := launcher(b)
	c := NewContainer(&config.Bench{Container: config.Container{Engine: "docker", Network: "none", EvalNetwork: "none"}}, image, launcherPath)
	run := fmt.Sprintf("spread-%d", os.Getpid())
	if err := c.Prepare(ctx, PrepareInfo{RunID: run, Env: os.Environ()}); err != nil {
		b.Fatal(err)
	}
	priv := b.TempDir()
	ws := map[records.Arm]string{}
	for _, arm := range records.Arms {
		ws[arm] = filepath.Join(priv, armDir[arm])
		if err := os.Mkdir(ws[arm], 0o755); err != nil {
			b.Fatal(err)
		}
	}
	sess, err := c.StartItem(ctx, ItemEnv{RunID: run, Name: "spread", ItemID: "spread", Workspaces: ws, Private: priv,
		CPUs: cpus[:len(cpus)-1], Env: os.Environ()})
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	if _, err := sess.Timing(ctx, timing); err != nil {
		b.Fatal(err)
	}
	name := sess.(*containerItem).names[records.ArmBase]
	ways := []struct {
		name string
		one  func() time.Duration
	}{
		{"host", func() time.Duration {
			res, err := h.Run(ctx, CommandSpec{Script: spreadWorkload, Env: os.Environ(), CPUs: []int{timing}, Timed: true, Timeout: time.Minute})
			if err != nil || !res.OK() || !res.Pinned {
				b.Fatalf("%+v %v", res, err)
			}
			return res.Wall
		}},
		{"exec", func() time.Duration {
			res, err := sess.Run(ctx, CommandSpec{Arm: records.ArmBase, Script: spreadWorkload, CPUs: []int{timing}, Timed: true, Timeout: time.Minute})
			if err != nil || !res.OK() || !res.Pinned {
				b.Fatalf("%+v %v", res, err)
			}
			return res.Wall
		}},
		{"execout", func() time.Duration {
			t0 := time.Now()
			if out, err := exec.Command("docker", "exec", name, "sh", "-c", spreadWorkload).CombinedOutput(); err != nil {
				b.Fatalf("%v %s", err, out)
			}
			return time.Since(t0)
		}},
		{"run", func() time.Duration {
			t0 := time.Now()
			out, err := exec.Command("docker", "run", "--rm", "--network", "none", "--cpuset-cpus", strconv.Itoa(timing),
				"--label", evaltest.Label, image, "sh", "-c", spreadWorkload).CombinedOutput()
			if err != nil {
				b.Fatalf("%v %s", err, out)
			}
			return time.Since(t0)
		}},
	}
	// Two unrecorded rounds: caches, the first exec.
	for r := 0; r < 2; r++ {
		for _, w := range ways {
			w.one()
		}
	}
	xs := make([][]float64, len(ways))
	b.ResetTimer()
	for r := 0; r < b.N; r++ {
		for k := range ways {
			i := (r + k) % len(ways)
			xs[i] = append(xs[i], ways[i].one().Seconds()*1000)
		}
	}
	b.StopTimer()
	for i, w := range ways {
		med, cv, rcv := spread(xs[i])
		b.ReportMetric(med, w.name+"-ms")
		b.ReportMetric(cv, w.name+"-cv%")
		b.ReportMetric(rcv, w.name+"-rcv%")
	}
	b.ReportMetric(0, "ns/op")
}

// spread returns the median, the coefficient of variation (%) and the
// robust one, 1.4826·MAD/median (%).
func spread(xs []float64) (median, cv, rcv float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	median = s[len(s)/2]
	var sum, sq float64
	for _, x := range s {
		sum += x
	}
	mean := sum / float64(len(s))
	for _, x := range s {
		sq += (x - mean) * (x - mean)
	}
	if len(s) > 1 {
		cv = math.Sqrt(sq/float64(len(s)-1)) / mean * 100
	}
	dev := make([]float64, len(s))
	for i, x := range s {
		dev[i] = math.Abs(x - median)
	}
	slices.Sort(dev)
	rcv = 1.4826 * dev[len(dev)/2] / median * 100
	return median, cv, rcv
}
