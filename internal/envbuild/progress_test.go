package envbuild

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testClock advances 1.5 s at every reading, so the legacy builder's and
// podman's step times are the same in every run.
func testClock() func() time.Time {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time {
		t = t.Add(1500 * time.Millisecond)
		return t
	}
}

// condense feeds input to a Condenser in chunks of the given sizes
// (cycling; none: all at once) and returns what it wrote and its Failure.
func condense(input []byte, sizes ...int) (out, failure string) {
	var buf bytes.Buffer
	c := NewCondenser(&buf)
	c.now = testClock()
	for i := 0; len(input) > 0; i++ {
		n := len(input)
		if len(sizes) > 0 {
			n = min(sizes[i%len(sizes)], n)
		}
		if m, err := c.Write(input[:n]); m != n || err != nil {
			panic(fmt.Sprintf("Write = %d, %v; want %d, nil", m, err, n))
		}
		input = input[n:]
	}
	c.Close()
	return buf.String(), c.Failure()
}

func golden(out, failure string) string {
	return out + "--- Failure() ---\n" + failure + "\n"
}

// TestCondenserGolden: each testdata/progress/*.txt (the legacy builder's
// output captured from Docker 20.10 here, BuildKit's and podman's written
// from their printers) condenses to its .golden, in whatever chunks it
// arrives.
func TestCondenserGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/progress/*.txt")
	if err != nil || len(inputs) < 8 {
		t.Fatalf("inputs: %v %v", inputs, err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".txt")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := golden(condense(data))
			path := strings.TrimSuffix(in, ".txt") + ".golden"
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("condensed %s:\n%s\nwant (%s):\n%s", in, got, path, want)
			}
			random := make([]int, 50)
			for i := range random {
				random[i] = 1 + rng.IntN(40)
			}
			for _, sizes := range [][]int{{1}, {2}, {7}, {4096}, random} {
				if g := golden(condense(data, sizes...)); g != got {
					t.Errorf("in chunks of %v:\n%s\nwant:\n%s", sizes, g, got)
				}
			}
		})
	}
}

// The legacy builder's failing RUN: its line says failed, and Failure
// names the step with its output and the engine's message, without the
// engine's colours.
func TestCondenserLegacyFailure(t *testing.T) {
	data, err := os.ReadFile("testdata/progress/legacy_fail.txt")
	if err != nil {
		t.Fatal(err)
	}
	out, failure := condense(data)
	if !strings.Contains(out, "step 4/4: RUN echo \"about to fail\"") || !strings.Contains(out, "(failed after ") {
		t.Errorf("no failed step 4/4 in:\n%s", out)
	}
	for _, want := range []string{"step 4/4: RUN", "fatal: no such module", "about to fail", "returned a non-zero code: 3"} {
		if !strings.Contains(failure, want) {
			t.Errorf("Failure() lacks %q:\n%s", want, failure)
		}
	}
	if strings.Contains(failure, "compiling the thing") {
		t.Errorf("Failure() quotes an earlier step:\n%s", failure)
	}
	if strings.ContainsAny(out+failure, "\x1b\r") {
		t.Errorf("escape or CR left:\n%q\n%q", out, failure)
	}
	if strings.Count(out, "\n") != 4 {
		t.Errorf("want one line per step (4):\n%s", out)
	}
}

func TestCondenserSuccessHasNoFailure(t *testing.T) {
	for _, name := range []string{"legacy_ok", "legacy_cached", "buildkit_ok", "podman_ok"} {
		data, err := os.ReadFile("testdata/progress/" + name + ".txt")
		if err != nil {
			t.Fatal(err)
		}
		if out, f := condense(data); f != "" || strings.Contains(out, "fail") {
			t.Errorf("%s: Failure() = %q, output:\n%s", name, f, out)
		}
	}
}

// A step that prints a thousand lines and fails: Failure shows its last
// lines only, the engine's message last.
func TestCondenserFailureKeepsLastLines(t *testing.T) {
	var in strings.Builder
	in.WriteString("Step 1/2 : FROM scratch\n ---> \nStep 2/2 : RUN ./long\n ---> Running in 0123456789ab\n")
	for i := 1; i <= 1000; i++ {
		fmt.Fprintf(&in, "line %d\n", i)
	}
	in.WriteString("The command '/bin/sh -c ./long' returned a non-zero code: 1\n")
	_, failure := condense([]byte(in.String()))
	lines := strings.Split(failure, "\n")
	if len(lines) != tailLines+1 {
		t.Fatalf("Failure() has %d lines, want %d:\n%s", len(lines), tailLines+1, failure)
	}
	if lines[0] != "step 2/2: RUN ./long failed:" {
		t.Errorf("first line %q", lines[0])
	}
	if want := fmt.Sprintf("    line %d", 1000-tailLines+2); lines[1] != want {
		t.Errorf("oldest kept line %q, want %q", lines[1], want)
	}
	if !strings.HasSuffix(failure, "returned a non-zero code: 1") {
		t.Errorf("engine's message not last:\n%s", failure)
	}
}

// A build the engine stops in the middle of a step: the step did not
// finish, and that is the failure.
func TestCondenserCutShort(t *testing.T) {
	out, failure := condense([]byte("Step 1/2 : FROM scratch\n ---> \nStep 2/2 : RUN sleep 100\n ---> Running in 0123456789ab\nzzz"))
	if !strings.HasSuffix(out, "step 2/2: RUN sleep 100 (did not finish)\n") {
		t.Errorf("output:\n%s", out)
	}
	if failure != "step 2/2: RUN sleep 100 did not finish:\n    zzz" {
		t.Errorf("Failure() = %q", failure)
	}
}

// An error before any step (a Dockerfile the daemon cannot parse) is the
// failure, though no step failed.
func TestCondenserErrorOutsideSteps(t *testing.T) {
	in := "Sending build context to Docker daemon  2.048kB\r\r\nError response from daemon: dockerfile parse error line 3: unknown instruction: FROBNICATE\n"
	out, failure := condense([]byte(in))
	if out != "" {
		t.Errorf("output %q", out)
	}
	if !strings.HasPrefix(failure, "build failed: Error response from daemon: dockerfile parse error line 3") {
		t.Errorf("Failure() = %q", failure)
	}
}

// Lines end at \n, \r\n and a lone \r (a progress line redrawn), however
// the chunks split them.
func TestCondenserCarriageReturns(t *testing.T) {
	in := "Step 1/1 : RUN fetch\r\n ---> Running in 0123456789ab\r\n 10%\r 50%\r100%\rThe command '/bin/sh -c fetch' returned a non-zero code: 2\r\n"
	want := "step 1/1: RUN fetch failed:\n     10%\n     50%\n    100%\n    The command '/bin/sh -c fetch' returned a non-zero code: 2"
	for _, size := range []int{1, 2, 3, len(in)} {
		out, failure := condense([]byte(in), size)
		if failure != want {
			t.Errorf("chunks of %d: Failure() = %q, want %q", size, failure, want)
		}
		if out != "step 1/1: RUN fetch (failed after 1.5s)\n" {
			t.Errorf("chunks of %d: output %q", size, out)
		}
	}
}

func TestCondenserStripsControl(t *testing.T) {
	in := "Step 1/1 : RUN \x1b]0;pwned\x07echo \x1b[31mred\x1b[0m\x07\x9b\n ---> Running in 0123456789ab\n\x1b[2J\x1b[Hcleared\x1b(B\nThe command 'x' returned a non-zero code: 1\n"
	out, failure := condense([]byte(in))
	for _, s := range []string{out, failure} {
		for _, r := range s {
			if r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r <= 0x9f {
				t.Errorf("control %U in %q", r, s)
			}
		}
	}
	if out != "step 1/1: RUN echo red (failed after 1.5s)\n" {
		t.Errorf("output %q", out)
	}
	if !strings.Contains(failure, "\n    cleared\n") {
		t.Errorf("Failure() = %q", failure)
	}
}

// Steps whose text is long are cut on their line.
func TestCondenserLongStep(t *testing.T) {
	long := strings.Repeat("apt-get install -y package && ", 50)
	out, _ := condense([]byte("Step 1/1 : RUN " + long + "\n ---> 0123456789ab\n"))
	line := strings.TrimSuffix(out, "\n")
	if strings.Contains(line, "\n") || len(line) > maxLabel+len(" (1.5s)")+len("…") {
		t.Errorf("line of %d bytes: %q", len(line), line)
	}
}

// The memory a running step holds does not grow with what it prints:
// once its tail's buffers exist, writing more output allocates nothing,
// whether it comes in lines or as one endless line.
func TestCondenserOutputAllocatesNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		chunk []byte
	}{
		{"lines", bytes.Repeat([]byte("Collecting numpy==2.1.0 (from -r requirements.txt (line 3))\n"), 1000)},
		{"one line", bytes.Repeat([]byte("x"), 64<<10)},
		{"progress", bytes.Repeat([]byte("\r 45% |#########           | 12.3 MB 1.2 MB/s"), 1000)},
		{"buildkit", bytes.Repeat([]byte("#8 12.345 Downloading numpy-2.1.0.whl (16.1 MB)\n"), 1000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCondenser(&bytes.Buffer{})
			c.Write([]byte("Step 1/2 : FROM scratch\n ---> \nStep 2/2 : RUN pip install -r requirements.txt\n ---> Running in 0123456789ab\n"))
			if tc.name == "buildkit" {
				c = NewCondenser(&bytes.Buffer{})
				c.Write([]byte("#8 [2/2] RUN pip install -r requirements.txt\n"))
			}
			c.Write(tc.chunk) // the tail's buffers, the line buffer
			c.Write(tc.chunk)
			if allocs := testing.AllocsPerRun(100, func() { c.Write(tc.chunk) }); allocs != 0 {
				t.Errorf("%v allocations per %d bytes written", allocs, len(tc.chunk))
			}
			if len(c.line) > maxLine || cap(c.scratch) > 2*maxLine {
				t.Errorf("line buffer %d, scratch %d", len(c.line), cap(c.scratch))
			}
			for _, l := range c.active[0].tail.lines {
				if cap(l) > 2*maxTailLine {
					t.Errorf("tail line of cap %d", cap(l))
				}
			}
		})
	}
}

// BenchmarkCondenserStepOutput: a RUN step printing 100 MB (run with
// -benchmem: allocations stay at 0 per op whatever -benchtime).
func BenchmarkCondenserStepOutput(b *testing.B) {
	chunk := bytes.Repeat([]byte("Compiling module 1234 of 5678: src/some/long/path/to/file.c -O2 -Wall\n"), 512)
	c := NewCondenser(&bytes.Buffer{})
	c.Write([]byte("Step 1/1 : RUN make\n ---> Running in 0123456789ab\n"))
	total := 100 << 20
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		for n := 0; n < total; n += len(chunk) {
			c.Write(chunk)
		}
	}
}

// FuzzCondenser: any output, in any chunks, never panics; what is
// written is bounded by the lines read, free of control characters, and
// the same however the input was split; Failure is bounded.
func FuzzCondenser(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/progress/*.txt")
	for _, in := range inputs {
		data, _ := os.ReadFile(in)
		f.Add(data, uint8(3))
	}
	f.Add([]byte("#1 [1/2] RUN x\n#2 [2/2] RUN y\n#1 DONE 1.0s\n#3 [x 1/1] z\n#2 ERROR: e\n#3 CANCELED\n"), uint8(1))
	f.Add([]byte("[1/2] STEP 1/2: FROM a\r\nCOMMIT\r--> 0123456789ab\rError: building at STEP \"x\"\n"), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, size uint8) {
		whole, wholeFailure := condense(data)
		out, failure := condense(data, int(size%64)+1)
		if out != whole || failure != wholeFailure {
			t.Fatalf("chunks of %d changed the output:\n%q\n%q\nwhole:\n%q\n%q", size%64+1, out, failure, whole, wholeFailure)
		}
		lines := bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r")) + 1
		if limit := (lines + 1) * 3 * (maxLabel + 64); len(out) > limit {
			t.Fatalf("%d bytes written for %d lines (limit %d)", len(out), lines, limit)
		}
		for _, l := range strings.Split(out, "\n") {
			if len(l) > maxLabel+64 {
				t.Fatalf("line of %d bytes: %q", len(l), l)
			}
		}
		if limit := (tailLines + 2) * (maxTailLine + 16); len(failure) > limit {
			t.Fatalf("Failure() of %d bytes", len(failure))
		}
		for _, r := range out + failure {
			if r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r <= 0x9f {
				t.Fatalf("control %U in %q / %q", r, out, failure)
			}
		}
	})
}
