package evaluate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
	"github.com/perfbench/perfbench/internal/workspace"
)

// Caps of what eval.json keeps.
const (
	// maxStdout is how much of a workload run's stdout is kept in memory
	// for the metric and the equivalence check.
	maxStdout = 8 << 20
	// maxCommandLog caps the output of one command kept in eval.json.
	maxCommandLog = 16 << 10
)

// workspace directory names: the same length for every arm, so that the
// environment (BENCH_WORKSPACE, PWD) has the same size in each — stack
// alignment depends on it and can shift timings by a few percent.
var armDir = map[records.Arm]string{records.ArmBase: "b", records.ArmHuman: "h", records.ArmAgent: "a"}

var armName = map[records.Arm]string{records.ArmBase: "baseline", records.ArmHuman: "human commit", records.ArmAgent: "agent's candidate"}

// itemRun evaluates one unit.
type itemRun struct {
	e    *evaluator
	u    Unit
	spec *Spec
	res  *records.Eval
	ws   map[records.Arm]string
	fail *failure
	// runner runs the item's commands: the evaluator's Runner, or the
	// session an ItemRunner started for the item (sess).
	runner Runner
	sess   ItemSession
	// priv is the item's private directory (owner-marked): every
	// temporary file of the item lives there.
	priv string
}

// evaluate runs one unit and returns its result, or an error when the
// harness could not evaluate it (interrupted, git or disk failure): then
// nothing is written.
func (e *evaluator) evaluate(ctx context.Context, u Unit, spec *Spec) (*records.Eval, error) {
	start := e.o.Now()
	res := &records.Eval{
		RunID: e.o.RunID, ItemID: u.Item.ID, Sample: u.Sample,
		PlanItemHash: u.Item.Hash(), PatchHash: PatchHash(u.Patch), ConfigHash: spec.hash,
		Config:    spec.EvalSpec,
		Commits:   records.Commits{Pre: u.Item.Pre, Human: u.Item.Human},
		Patch:     records.EvalPatch{Bytes: len(u.Patch), Empty: isEmptyPatch(u.Patch)},
		Commands:  []records.CommandLog{},
		Samples:   []records.Sample{},
		StartedAt: start.UTC(),
		Harness:   journal.Self(),
	}
	res.Environment = hostEnvironment(e.o.Runner.Name(), -1)
	if ir, ok := e.o.Runner.(ItemRunner); ok {
		ir.Describe(&res.Environment)
	}
	it := &itemRun{e: e, u: u, spec: spec, res: res, ws: map[records.Arm]string{}, runner: e.o.Runner}
	priv, err := fsx.MkdirOwned(e.root, privatePrefix)
	if err != nil {
		return nil, fmt.Errorf("private directory: %w", err)
	}
	it.priv = priv
	defer func() {
		done := busy()
		defer done()
		if err := fsx.RemoveOwned(priv); err != nil {
			fmt.Fprintf(e.o.Log, "warning: %s: remove %s: %v\n", u.Name, priv, err)
		}
	}()
	if err := it.run(ctx, priv); err != nil {
		return nil, err
	}
	res.Status = statusOf(it.fail)
	if it.fail != nil {
		// Reasons quote commands' output; nothing secret may reach eval.json.
		res.Reason = e.secrets.ScrubString(it.fail.reason)
	}
	if res.Patch.Empty {
		res.Flags = append(res.Flags, records.FlagEmptyPatch)
	}
	if res.Patch.ThreeWay {
		res.Flags = append(res.Flags, records.FlagThreeWay)
	}
	if res.Status == records.EvalSuccess {
		st := Analyze(res.Samples, spec)
		res.Stats = &st
		if st.Noisy {
			res.Flags = append(res.Flags, records.FlagNoisy)
		}
		if spec.Rounds < records.FewRounds {
			res.Flags = append(res.Flags, records.FlagFewRounds)
		}
		if p := res.Environment.Pinning; !p.Applied {
			res.Flags = append(res.Flags, records.FlagNotPinned)
		}
		if share, ok := Contention(res.Samples); ok && share > ContendedShare {
			res.Flags = append(res.Flags, records.FlagContended)
		}
	}
	end := e.o.Now()
	res.EndedAt = end.UTC()
	res.DurationSeconds = end.Sub(start).Seconds()
	return res, nil
}

// path is an arm's workspace as its commands see it.
func (it *itemRun) path(arm records.Arm) string {
	if it.sess != nil {
		return it.sess.Workspace(arm)
	}
	return it.ws[arm]
}

func isEmptyPatch(p []byte) bool { return len(strings.TrimSpace(string(p))) == 0 }

// run does the work; it returns an error only when the harness failed.
// it.fail records the first failure of an arm.
func (it *itemRun) run(ctx context.Context, priv string) error {
	if err := it.workspaces(ctx, priv); err != nil || it.fail != nil {
		return err
	}
	for _, arm := range records.Arms {
		if err := it.copyFiles(arm); err != nil || it.fail != nil {
			return err
		}
	}
	if ir, ok := it.e.o.Runner.(ItemRunner); ok {
		sess, err := ir.StartItem(ctx, ItemEnv{
			RunID: it.e.o.RunID, Name: it.u.Name, ItemID: it.u.Item.ID, Sample: it.u.Sample,
			Workspaces: it.ws, Private: priv, CPUs: it.e.untimedCPUs, Env: it.e.baseEnv,
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%s: %w", ir.Name(), err)
		}
		it.sess, it.runner = sess, sess
		defer func() {
			if err := sess.Close(); err != nil {
				fmt.Fprintf(it.e.o.Log, "warning: %s: %v\n", it.u.Name, err)
			}
		}()
	}
	for _, arm := range records.Arms {
		for _, phase := range []struct {
			name string
			cmds []string
		}{{"setup", it.spec.Setup}, {"correctness", it.spec.Correctness}} {
			for _, cmd := range phase.cmds {
				if err := it.command(ctx, arm, phase.name, cmd); err != nil || it.fail != nil {
					return err
				}
			}
		}
	}
	return it.time(ctx)
}

// workspaces creates the three workspaces and applies the patch.
func (it *itemRun) workspaces(ctx context.Context, priv string) error {
	done := busy()
	defer done()
	m := it.e.mirror
	trees := map[records.Arm]string{records.ArmBase: it.u.Item.Pre, records.ArmHuman: it.u.Item.Human, records.ArmAgent: it.u.Item.Pre}
	wss := map[records.Arm]*workspace.Workspace{}
	for _, arm := range records.Arms {
		ws, err := workspace.Create(ctx, m, trees[arm], filepath.Join(priv, armDir[arm]))
		if err != nil {
			return fmt.Errorf("%s workspace: %w", arm, err)
		}
		wss[arm] = ws
		it.ws[arm] = ws.Dir
	}
	if it.res.Patch.Empty {
		return nil
	}
	// A plain check first, to tell a clean apply from one that needs the
	// three-way fallback.
	clean := workspace.CheckApply(ctx, m, it.u.Item.Pre, priv, bytes.NewReader(it.u.Patch)) == nil
	if err := wss[records.ArmAgent].Apply(ctx, it.u.Patch); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		stderr := gitStderr(err)
		it.res.Patch.ApplyError = capString(it.e.secrets.ScrubString(strings.TrimSpace(stderr)), maxCommandLog)
		it.res.Patch.FailingHunks = failingHunks(stderr, it.u.Patch)
		for i := range it.res.Patch.FailingHunks {
			h := &it.res.Patch.FailingHunks[i]
			h.Text = it.e.secrets.ScrubString(h.Text)
		}
		it.fail = &failure{arm: records.ArmAgent, kind: "patch", reason: "the patch does not apply to the pre tree: " + firstLine(stderr)}
		return nil
	}
	it.res.Patch.Applied = true
	it.res.Patch.ThreeWay = !clean
	return nil
}

// copyFiles copies evaluation.files into an arm's workspace, replacing
// whatever the tree (or the agent) put there. The copy is confined to the
// workspace (os.Root): a link the patch made cannot lead it out.
func (it *itemRun) copyFiles(arm records.Arm) error {
	if len(it.spec.FilesAbs) == 0 {
		return nil
	}
	ws, err := os.OpenRoot(it.ws[arm])
	if err != nil {
		return fmt.Errorf("evaluation files: %w", err)
	}
	defer ws.Close()
	for i, src := range it.spec.FilesAbs {
		rel := fileTarget(it.e.o.Task.Dir, it.spec.Files[i], src)
		dst := filepath.Join(it.ws[arm], rel)
		if err := safeTarget(it.ws[arm], rel); err != nil {
			it.fail = &failure{arm: arm, kind: "files", reason: fmt.Sprintf("evaluation file %s cannot be copied into the %s: %v", it.spec.Files[i], armName[arm], err)}
			it.res.Commands = append(it.res.Commands, records.CommandLog{Arm: arm, Phase: "files", Command: "copy " + it.spec.Files[i], ExitCode: -1, Error: err.Error()})
			return nil
		}
		if err := fsx.RemoveAll(dst); err != nil {
			return fmt.Errorf("evaluation file %s: %w", it.spec.Files[i], err)
		}
		if err := copyInto(ws, rel, src); err != nil {
			return fmt.Errorf("evaluation file %s: %w", it.spec.Files[i], err)
		}
	}
	return nil
}

// copyInto copies src, a file or directory of the task's (links in its
// path are the user's, and followed), to rel inside ws.
func copyInto(ws *os.Root, rel, src string) error {
	src, err := filepath.EvalSymlinks(src)
	if err != nil {
		return err
	}
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := ws.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
		return err
	}
	if !info.IsDir() {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		return ws.WriteFile(rel, data, info.Mode().Perm())
	}
	if err := ws.Mkdir(rel, 0o755); err != nil {
		return err
	}
	d, err := ws.OpenRoot(rel)
	if err != nil {
		return err
	}
	defer d.Close()
	s, err := fsx.OpenRoot(src)
	if err != nil {
		return err
	}
	defer s.Close()
	skipped, err := fsx.CopyTreeRoots(s, d, fsx.CopyLimits{})
	if err == nil && len(skipped) > 0 {
		err = fmt.Errorf("%s not copied: %s", skipped[0].Path, skipped[0].Reason)
	}
	return err
}

// safeTarget refuses a target whose directories inside the workspace are
// symbolic links (a patch could point one outside the workspace).
func safeTarget(root, rel string) error {
	parts := strings.Split(filepath.Dir(rel), string(filepath.Separator))
	cur := root
	for _, p := range parts {
		if p == "." || p == "" {
			continue
		}
		cur = filepath.Join(cur, p)
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			rp, _ := filepath.Rel(root, cur)
			return fmt.Errorf("%s is a symbolic link", rp)
		}
		if !fi.IsDir() {
			rp, _ := filepath.Rel(root, cur)
			return fmt.Errorf("%s is not a directory", rp)
		}
	}
	return nil
}

// command runs one setup or correctness command on an arm.
func (it *itemRun) command(ctx context.Context, arm records.Arm, phase, cmd string) error {
	out := textx.NewTail(maxCommandLog)
	sw := it.e.secrets.Writer(out)
	timeout := it.spec.Timeout.D()
	t0 := time.Now()
	dir := it.path(arm)
	cr, err := it.runner.Run(ctx, CommandSpec{
		Script: expand(cmd, dir), Arm: arm, Dir: dir, Env: it.e.env(dir),
		Timeout: timeout, Stdout: sw, Stderr: sw, CPUs: it.e.untimedGate(), TempDir: it.priv,
	})
	sw.Close()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	log := records.CommandLog{
		Arm: arm, Phase: phase, Command: it.e.display(cmd),
		ExitCode: cr.ExitCode, Signal: cr.Signal, TimedOut: cr.TimedOut,
		DurationSeconds: time.Since(t0).Seconds(), OK: err == nil && cr.OK(),
		Output: out.String(), OutputBytes: out.Total(), OutputTruncated: out.Total() > int64(len(out.String())),
	}
	if err != nil {
		// sh itself could not start: the machine's problem, not the arm's.
		return fmt.Errorf("%s on the %s: %w", phase, armName[arm], err)
	}
	it.res.Commands = append(it.res.Commands, log)
	if !log.OK {
		it.fail = &failure{arm: arm, kind: phase, timedOut: cr.TimedOut,
			reason: fmt.Sprintf("%s command `%s` failed on the %s: %s%s", phase, it.e.display(cmd), armName[arm], cr.Describe(timeout), lastLine(out.String()))}
	}
	return nil
}

// time runs the warm-up and timed rounds on the timing CPU it reserves,
// and records the timing environment.
func (it *itemRun) time(ctx context.Context) error {
	slot, err := acquireTiming(ctx, it.e.lockDir, it.e.timingCPUs, it.e.o.Log)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	defer slot.release()
	env, pin, err := it.timingEnvironment(ctx, slot)
	if err != nil {
		return err
	}
	defer func() {
		env.LoadAvgAfter = loadAvg()
		p := &env.Pinning
		p.Applied = p.Requested && p.Runs > 0 && p.PinnedRuns == p.Runs
		it.res.Environment = env
	}()
	return it.rounds(ctx, &env, pin)
}

// timingEnvironment describes where the rounds run, and pins them (pin:
// the CPUs of a timed run).
func (it *itemRun) timingEnvironment(ctx context.Context, slot *timingSlot) (env records.Environment, pin []int, err error) {
	env = hostEnvironment(it.e.o.Runner.Name(), slot.cpu)
	env.TimingLock = slot.path
	env.HarnessCPUs = it.e.untimedCPUs
	env.LoadAvgBefore = loadAvg()
	env.Pinning = records.Pinning{Requested: slot.cpu >= 0, CPU: slot.cpu}
	if slot.cpu >= 0 {
		pin = []int{slot.cpu}
		env.Pinning.Method = "sched_setaffinity"
	} else if it.e.pinErr != nil {
		env.Pinning.Error = it.e.pinErr.Error()
	}
	if ir, ok := it.e.o.Runner.(ItemRunner); ok {
		ir.Describe(&env)
	}
	if it.sess != nil {
		method, err := it.sess.Timing(ctx, slot.cpu)
		if ctx.Err() != nil {
			return env, nil, ctx.Err()
		}
		if method != "" {
			env.Pinning.Method = method
		}
		if err != nil {
			env.Pinning.Error = err.Error()
		}
		if env.Container != nil {
			env.Container.SetupCPUSet = cpuList(it.e.untimedCPUs)
			if err == nil && slot.cpu >= 0 {
				env.Container.TimingCPUSet = cpuList(pin)
			} else {
				env.Container.TimingCPUSet = env.Container.SetupCPUSet
			}
		}
	}
	return env, pin, nil
}

// rounds runs the workload of every arm in every round: each run's facts
// are gathered, then judged by decideRun; the first failure ends them.
func (it *itemRun) rounds(ctx context.Context, env *records.Environment, pin []int) error {
	s := it.spec
	first := map[records.Arm][]byte{}
	var t0 time.Time
	for r := 0; r < s.Warmup+s.Rounds; r++ {
		if p := it.e.o.Progress; p != nil {
			p.Round(it.u.Name, r+1, s.Warmup+s.Rounds)
		}
		warm := r < s.Warmup
		idx := r
		if !warm {
			idx = r - s.Warmup
		}
		for pos, arm := range Order(idx) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if t0.IsZero() {
				t0 = time.Now()
			}
			f, err := it.timedRun(ctx, arm, pin)
			if err != nil {
				return err
			}
			f.round, f.pos, f.warm, f.offset = r, pos, warm, f.started.Sub(t0).Seconds()
			env.Pinning.Runs++
			if f.result.Pinned {
				env.Pinning.PinnedRuns++
			} else if f.result.AffinityErr != "" && env.Pinning.Error == "" {
				env.Pinning.Error = f.result.AffinityErr
			}
			v := decideRun(s, it.e.display(s.Workload), f)
			if v.log != nil {
				it.res.Commands = append(it.res.Commands, *v.log)
			}
			if v.fail != nil {
				it.fail = v.fail
				return nil
			}
			it.res.Samples = append(it.res.Samples, *v.sample)
			if _, ok := first[arm]; !ok {
				first[arm] = append([]byte{}, f.stdout...)
			}
		}
		if r == 0 && s.Equivalence != nil {
			if it.equivalence(first); it.fail != nil {
				return nil
			}
		}
	}
	return nil
}

// runFacts are what one timed run of the workload gave.
type runFacts struct {
	arm        records.Arm
	round, pos int
	warm       bool
	// started is when the run started, offset its start in seconds
	// since the first run of the item.
	started time.Time
	offset  float64
	result  CommandResult
	// stdout is the head of its output; stderr the (scrubbed) tail of
	// a failed run's errors, of stderrBytes in all.
	stdout      []byte
	stderr      string
	stderrBytes int64
}

// timedRun runs the workload once on an arm; an error is the harness's
// (interrupted, or the command could not start).
func (it *itemRun) timedRun(ctx context.Context, arm records.Arm, pin []int) (runFacts, error) {
	s := it.spec
	stdout := &headBuffer{max: maxStdout}
	stderr := textx.NewTail(maxCommandLog)
	f := runFacts{arm: arm, started: time.Now()}
	dir := it.path(arm)
	cr, err := it.runner.Run(ctx, CommandSpec{
		Script: expand(s.Workload, dir), Arm: arm, Dir: dir, Env: it.e.env(dir),
		Timeout: s.Timeout.D(), Stdout: stdout, Stderr: stderr, CPUs: pin, Timed: true, TempDir: it.priv,
	})
	if ctx.Err() != nil {
		return f, ctx.Err()
	}
	if err != nil {
		return f, fmt.Errorf("workload on the %s: %w", armName[arm], err)
	}
	f.result = cr
	f.stdout = stdout.Bytes()
	if !cr.OK() {
		// Only a failed run's errors are kept, and shown.
		f.stderr = it.e.secrets.ScrubString(stderr.String())
		f.stderrBytes = stderr.Total()
	}
	return f, nil
}

// runVerdict is what decideRun makes of a run: its sample, or the arm's
// failure with the command's log.
type runVerdict struct {
	sample *records.Sample
	log    *records.CommandLog
	fail   *failure
}

// decideRun judges one timed run from its facts alone: a run that did not
// end by itself with status 0 fails the arm (a timeout as such), so does
// output without the metric; otherwise the metric is a sample. command
// is the workload as shown (secrets redacted).
func decideRun(s *Spec, command string, f runFacts) runVerdict {
	cr := f.result
	where := fmt.Sprintf("round %d", f.round)
	if f.warm {
		where = fmt.Sprintf("warm-up round %d", f.round)
	}
	if !cr.OK() {
		return runVerdict{
			log: &records.CommandLog{
				Arm: f.arm, Phase: "workload", Command: command,
				ExitCode: cr.ExitCode, Signal: cr.Signal, TimedOut: cr.TimedOut,
				DurationSeconds: cr.Wall.Seconds(), Output: f.stderr, OutputBytes: f.stderrBytes,
				OutputTruncated: f.stderrBytes > int64(len(f.stderr)),
			},
			fail: &failure{arm: f.arm, kind: "workload", timedOut: cr.TimedOut,
				reason: fmt.Sprintf("the workload failed on the %s (%s): %s%s", armName[f.arm], where, cr.Describe(s.Timeout.D()), lastLine(f.stderr))},
		}
	}
	v, err := Extract(s.Metric, f.stdout, cr.Wall)
	if err != nil {
		return runVerdict{fail: &failure{arm: f.arm, kind: "metric", reason: fmt.Sprintf("no metric in the %s's output (%s): %v", armName[f.arm], where, err)}}
	}
	return runVerdict{sample: &records.Sample{
		Arm: f.arm, Round: f.round, Position: f.pos, Warmup: f.warm, Value: v,
		WallSeconds: cr.Wall.Seconds(), UserSeconds: cr.User.Seconds(), SysSeconds: cr.Sys.Seconds(),
		CPUTimes: cr.CPUTimes, Pinned: cr.Pinned, ExitCode: cr.ExitCode, OffsetSeconds: f.offset,
		RunDelaySeconds: cr.RunDelay.Seconds(), RunDelayKnown: cr.RunDelayKnown,
	}}
}

// equivalence compares the first output of the human and agent arms with
// the baseline's.
func (it *itemRun) equivalence(first map[records.Arm][]byte) {
	q := *it.spec.Equivalence
	sum := sha256.Sum256(first[records.ArmBase])
	er := &records.EquivalenceResult{Mode: q.Mode, Tolerance: q.Tolerance, BaseOutputSHA256: hex.EncodeToString(sum[:])}
	it.res.Equivalence = er
	var hDetail, aDetail string
	er.HumanOK, hDetail = Equivalent(q, first[records.ArmBase], first[records.ArmHuman])
	er.AgentOK, aDetail = Equivalent(q, first[records.ArmBase], first[records.ArmAgent])
	switch {
	case !er.HumanOK:
		er.Detail = it.e.secrets.ScrubString(hDetail)
		it.fail = &failure{arm: records.ArmHuman, kind: "equivalence", reason: "the human commit's workload output differs from the baseline's (" + q.Mode + "): " + er.Detail}
	case !er.AgentOK:
		er.Detail = it.e.secrets.ScrubString(aDetail)
		it.fail = &failure{arm: records.ArmAgent, kind: "equivalence", reason: "the agent's workload output differs from the baseline's (" + q.Mode + "): " + er.Detail}
	}
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return textx.Truncate(l, 200)
		}
	}
	return ""
}

// lastLine is ": <last non-empty line>" of a command's output, or "".
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return ": " + textx.Truncate(l, 200)
		}
	}
	return ""
}

func capString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// untimedGate is the CPUs an untimed command must be restricted to
// explicitly: none when the whole harness already runs off the timing CPUs.
func (e *evaluator) untimedGate() []int {
	if e.harnessRestricted {
		return nil
	}
	return e.untimedCPUs
}

// display shows a command with secret-looking values redacted.
func (e *evaluator) display(cmd string) string {
	red := e.secrets.RedactArgv([]string{"sh", "-c", cmd})
	return red[2]
}

// privatePrefix names the private directories of evaluations.
const privatePrefix = "perfbench-eval-"
