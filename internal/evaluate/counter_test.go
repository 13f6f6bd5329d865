package evaluate

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/records"
)

const cachegrindFile = `desc: I1 cache:         65536 B, 64 B, 16-way associative
cmd: /usr/bin/sh -c i=0
events: Ir
fl=???
fn=0x0000000000001100
0 12
summary: 236577106
`

func TestParseCachegrind(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     uint64
		err      string
	}{
		{"one event", cachegrindFile, 236577106, ""},
		{"several events", "events: Dr Ir Dw\nsummary: 5 7 9\n", 7, ""},
		{"trailing totals", "events: Ir\nsummary: 42\ntotals: 42\n", 42, ""},
		{"no summary", "events: Ir\nfn=x\n1 2\n", 0, "no summary line"},
		{"summary first", "summary: 1\nevents: Ir\n", 0, "summary line before the events line"},
		{"no Ir", "events: Dr\nsummary: 3\n", 0, "no Ir event (events: Dr)"},
		{"short summary", "events: Dr Ir\nsummary: 3\n", 0, "summary has 1 value(s), Ir is event 2"},
		{"not a count", "events: Ir\nsummary: -3\n", 0, `summary Ir "-3" is not a count`},
		{"empty", "", 0, "no summary line"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseCachegrind(strings.NewReader(c.in))
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %d %v, want %d", got, err, c.want)
			}
		})
	}
}

func TestSumCachegrind(t *testing.T) {
	dir := t.TempDir()
	for i, n := range []int{100, 2000, 30000} {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("cg.%d", 10+i)), fmt.Appendf(nil, "events: Ir\nsummary: %d\n", n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := sumCachegrind(dir); err != nil || n != 32100 {
		t.Fatalf("got %d %v", n, err)
	}
	if _, err := sumCachegrind(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no output file") {
		t.Fatalf("empty dir: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cg.99"), []byte("events: Ir\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sumCachegrind(dir); err == nil || err.Error() != "cg.99: no summary line" {
		t.Fatalf("broken file: %v", err)
	}
}

func TestParsePerfStat(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     uint64
		err      string
	}{
		{"counted", "# started on Thu Dec  3 15:00:44 2026\n\n1234567,,instructions:u,1000,100.00,,\n", 1234567, ""},
		{"kernel too", "89,,instructions,1000,100.00,1.2,insn per cycle\n", 89, ""},
		{"not supported", "# started\n\n<not supported>,,instructions,0,100.00,,\n", 0, "perf cannot count instructions here: <not supported>"},
		{"not counted", "<not counted>,,instructions:u,0,0.00,,\n", 0, "perf cannot count instructions here: <not counted>"},
		{"no line", "12,,cycles,1,100,,\n", 0, `no instructions line in perf stat's output (output starts "12,,cycles,1,100,,\n")`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parsePerfStat([]byte(c.in))
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %d %v, want %d", got, err, c.want)
			}
		})
	}
}

// FuzzParseCachegrind: any input gives a count or an error, never a
// panic; a summary line after an events line with Ir gives its column.
func FuzzParseCachegrind(f *testing.F) {
	f.Add(cachegrindFile)
	f.Add("events: Dr Ir\nsummary: 1 2\n")
	f.Add("summary:\nevents:\n")
	f.Add("events: Ir Ir\nsummary: 18446744073709551615 0\n")
	f.Fuzz(func(t *testing.T, in string) {
		n, err := parseCachegrind(strings.NewReader(in))
		if err != nil && n != 0 {
			t.Fatalf("count %d with error %v", n, err)
		}
		var events []string
		for _, line := range strings.Split(in, "\n") {
			if rest, ok := strings.CutPrefix(line, "events:"); ok {
				events = strings.Fields(rest)
			}
			if rest, ok := strings.CutPrefix(line, "summary:"); ok {
				if err == nil {
					vals := strings.Fields(rest)
					col := -1
					for i, e := range events {
						if e == "Ir" {
							col = i
							break
						}
					}
					if col < 0 || col >= len(vals) {
						t.Fatalf("count %d from summary %q, events %q", n, rest, events)
					}
					if v, perr := strconv.ParseUint(vals[col], 10, 64); perr != nil || v != n {
						t.Fatalf("count %d from summary %q, events %q", n, rest, events)
					}
				}
				return
			}
		}
		if err == nil && len(in) < 1<<20 {
			t.Fatalf("count %d without a summary line", n)
		}
	})
}

// spinChild is a shell that runs a loop of n iterations.
func spinChild(n int) string {
	return fmt.Sprintf(`sh -c 'i=0; while [ $i -lt %d ]; do i=$((i+1)); done'`, n)
}

// countRun runs script through the launcher under the counter method.
func countRun(t *testing.T, method, script string) CommandResult {
	t.Helper()
	res, err := launcher(t).Run(context.Background(), CommandSpec{Script: script, Env: os.Environ(), Timed: true,
		Timeout: 2 * time.Minute, TempDir: t.TempDir(), Count: method})
	if err != nil || !res.OK() {
		t.Fatalf("%s run: %+v %v", method, res, err)
	}
	if res.CountError != "" || res.CountMethod != method || res.Instructions == 0 {
		t.Fatalf("%s count: %d by %q, error %q", method, res.Instructions, res.CountMethod, res.CountError)
	}
	return res
}

// The instructions of every process of the tree are counted: a shell
// running two children counts about twice one child's work, and the
// counts hardly vary from run to run.
func testCounterSumsTree(t *testing.T, method string) {
	const n = 3000
	one := countRun(t, method, spinChild(n)).Instructions
	var counts []float64
	for range 3 {
		counts = append(counts, float64(countRun(t, method, spinChild(n)+"; "+spinChild(n)).Instructions))
	}
	if r := counts[0] / float64(one); r < 1.8 || r > 2.2 {
		t.Fatalf("two children: %v instructions, one child: %d (ratio %.2f, want about 2)", counts[0], one, r)
	}
	if cv := coefficientOfVariation(counts); cv > 0.005 {
		t.Fatalf("counts %v vary by %.3f%%", counts, 100*cv)
	}
}

func coefficientOfVariation(xs []float64) float64 {
	var sum, sq float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	for _, x := range xs {
		sq += (x - mean) * (x - mean)
	}
	return math.Sqrt(sq/float64(len(xs)-1)) / mean
}

func needValgrind(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("valgrind"); err != nil {
		if os.Getenv("BENCH_REQUIRE_VALGRIND") != "" {
			t.Fatal("valgrind is required (BENCH_REQUIRE_VALGRIND) but not in PATH")
		}
		t.Skip("valgrind not installed (apt-get install valgrind)")
	}
}

func TestCachegrindCountsProcessTree(t *testing.T) {
	needValgrind(t)
	testCounterSumsTree(t, records.CounterCachegrind)
}

func TestPerfCountsProcessTree(t *testing.T) {
	if ok, why := probePerf(t.TempDir()); !ok {
		t.Skipf("no instruction counter for perf on this machine: %s", why)
	}
	testCounterSumsTree(t, records.CounterPerf)
}

// Auto picks perf where it can count, cachegrind otherwise, and says
// which; a run that fails has no count.
func TestCounterAutoAndFailure(t *testing.T) {
	needValgrind(t)
	want := records.CounterCachegrind
	if ok, _ := probePerf(t.TempDir()); ok {
		want = records.CounterPerf
	}
	res, err := launcher(t).Run(context.Background(), CommandSpec{Script: spinChild(100), Env: os.Environ(), Timed: true,
		Timeout: time.Minute, TempDir: t.TempDir(), Count: CounterAuto})
	if err != nil || !res.OK() || res.CountMethod != want || res.Instructions == 0 {
		t.Fatalf("auto: %+v %v (want %s)", res, err, want)
	}
	res, err = launcher(t).Run(context.Background(), CommandSpec{Script: "exit 3", Env: os.Environ(), Timed: true,
		Timeout: time.Minute, TempDir: t.TempDir(), Count: records.CounterCachegrind})
	if err != nil || res.ExitCode != 3 || res.CountError != "the run failed" {
		t.Fatalf("failed run: %+v %v", res, err)
	}
	if _, err := RunValue(records.Metric{Kind: records.MetricInstructions}, nil, res); err == nil {
		t.Fatal("a failed count gave an instructions value")
	}
	if code := TimedMain([]string{"--cpu", "-1", "--result", filepath.Join(t.TempDir(), "r"), "--count", "cycles", "--", "true"}); code != 2 {
		t.Fatalf("bad --count: exit %d", code)
	}
}

// A perf on the PATH that cannot count (perf stat answers <not
// supported>, or fails) with no valgrind beside it is no counter: the
// host preflight (hostCounter) and doctor (HostCounter) refuse it, and a
// perf that can count passes.
func TestHostCounterPerfCannotCount(t *testing.T) {
	if b, err := os.ReadFile("/proc/sys/kernel/perf_event_paranoid"); err == nil {
		if v, _ := strconv.Atoi(strings.TrimSpace(string(b))); v > 2 && os.Geteuid() != 0 {
			// The probe stops at the setting, before running perf.
			t.Skipf("kernel.perf_event_paranoid is %d: perf is never run", v)
		}
	}
	for _, tc := range []struct {
		name, script string
		ok           bool
		why          string
	}{
		{"not supported", fakePerf, false, "perf cannot count instructions here: <not supported>"},
		{"fails", "#!/bin/sh\necho 'Error: perf_event_open failed' >&2\nexit 1\n", false, "perf stat failed: exit status 1"},
		{"counts", strings.Replace(fakePerf, "<not supported>", "12345", 1), true, "perf stat counts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "perf"), []byte(tc.script), 0o755); err != nil {
				t.Fatal(err)
			}
			// perf and nothing else: no valgrind.
			t.Setenv("PATH", dir)
			method, detail, ok := HostCounter()
			if ok != tc.ok || !strings.Contains(detail, tc.why) {
				t.Fatalf("HostCounter = %q, %q, %v; want ok %v and %q", method, detail, ok, tc.ok, tc.why)
			}
			err := hostCounter()
			if tc.ok != (err == nil) || (err != nil && (!badinput.Is(err) || !strings.Contains(err.Error(), "no valgrind in PATH, and perf: "+tc.why))) {
				t.Fatalf("preflight: %v", err)
			}
		})
	}
}
