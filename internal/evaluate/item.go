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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/forensics"
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

// Workspace directory names: the same length for every arm, so that the
// environment (BENCH_WORKSPACE, PWD) has the same size in each — stack
// alignment depends on it and can shift timings by a few percent. With
// samples each name gets a number of the same width (b0 h0 a0 a1 …).
var armDir = map[records.Arm]string{records.ArmBase: "b", records.ArmHuman: "h", records.ArmAgent: "a"}

var armName = map[records.Arm]string{records.ArmBase: "baseline", records.ArmHuman: "human commit", records.ArmAgent: "agent's candidate"}

// arm is one arm of an item: the baseline, the human commit, or one
// candidate.
type arm struct {
	kind records.Arm
	// id tells the arm apart for the runner (workspaces, containers): its
	// kind, or "agent.s<k>" for the candidate of sample k in the item
	// layout.
	id records.Arm
	// dir is its workspace's directory name, name how messages call it.
	dir, name string
	// cand is the candidate of an agent arm.
	cand *candidate
}

// candidate is one agent's candidate of an item.
type candidate struct {
	u     Unit
	patch records.EvalPatch
	// fail is why it left the item (it is out): its patch, setup,
	// correctness, a workload run or its output.
	fail        *failure
	equivOK     bool
	equivDetail string
}

// out reports whether the arm is a candidate that has left the item.
func (a *arm) out() bool { return a.cand != nil && a.cand.fail != nil }

// itemRun evaluates one group: the baseline, the human commit and every
// candidate.
type itemRun struct {
	e    *evaluator
	g    *group
	spec *Spec
	res  *records.Eval
	arms []*arm
	// ws are the workspaces by arm id.
	ws map[records.Arm]string
	// fail is the failure of the baseline or the human arm: it ends the
	// item.
	fail *failure
	// runner runs the item's commands: the evaluator's Runner, or the
	// session an ItemRunner started for the item (sess).
	runner Runner
	sess   ItemSession
	// priv is the item's private directory (owner-marked): every
	// temporary file of the item lives there.
	priv string
	// counter is the instruction counter the item's first counted run
	// used; countErr why the secondary instruction counts stopped.
	counter, countErr string
	// round is the round being timed ({round} of the workload).
	round int
	// watch follows what the timed runs write; fileHashes are the
	// evaluation files as copied into each arm (protocol.go).
	watch      *watcher
	fileHashes map[*arm]map[string]string
}

// newArms are a group's arms in the order of the first round: B H and
// the candidates by sample.
func newArms(g *group, units []Unit) []*arm {
	width, suffix := 0, func(int) string { return "" }
	if g.itemLayout {
		width = len(strconv.Itoa(units[g.units[len(g.units)-1]].Sample))
		suffix = func(n int) string { return fmt.Sprintf("%0*d", width, n) }
	}
	arms := []*arm{
		{kind: records.ArmBase, id: records.ArmBase, dir: armDir[records.ArmBase] + suffix(0), name: armName[records.ArmBase]},
		{kind: records.ArmHuman, id: records.ArmHuman, dir: armDir[records.ArmHuman] + suffix(0), name: armName[records.ArmHuman]},
	}
	for _, i := range g.units {
		u := units[i]
		a := &arm{kind: records.ArmAgent, id: records.ArmAgent, dir: armDir[records.ArmAgent] + suffix(u.Sample), name: armName[records.ArmAgent],
			cand: &candidate{u: u, patch: records.EvalPatch{Bytes: len(u.Patch), Empty: isEmptyPatch(u.Patch)}}}
		if g.itemLayout {
			a.id = records.Arm(fmt.Sprintf("%s.s%d", records.ArmAgent, u.Sample))
			a.name = fmt.Sprintf("%s of sample %d", armName[records.ArmAgent], u.Sample)
		}
		arms = append(arms, a)
	}
	return arms
}

// evaluate runs one group and returns its result, or an error when the
// harness could not evaluate it (interrupted, git or disk failure): then
// nothing is written.
func (e *evaluator) evaluate(ctx context.Context, g *group) (*records.Eval, error) {
	start := e.o.Now()
	u0, spec := e.o.Units[g.units[0]], g.spec
	res := &records.Eval{
		RunID: e.o.RunID, ItemID: u0.Item.ID,
		PlanItemHash: u0.Item.Hash(), ConfigHash: spec.hash,
		Config:    spec.EvalSpec,
		Commits:   records.Commits{Pre: u0.Item.Pre, Human: u0.Item.Human},
		Commands:  []records.CommandLog{},
		Samples:   []records.Sample{},
		StartedAt: start.UTC(),
		Harness:   journal.Self(),
	}
	res.Environment = hostEnvironment(e.o.Runner.Name(), -1, e.o.ProcessEnv)
	if ir, ok := e.o.Runner.(ItemRunner); ok {
		ir.Describe(&res.Environment)
	}
	it := &itemRun{e: e, g: g, spec: spec, res: res, arms: newArms(g, e.o.Units), ws: map[records.Arm]string{}, runner: e.o.Runner}
	priv, err := fsx.MkdirOwned(e.root, privatePrefix)
	if err != nil {
		return nil, fmt.Errorf("private directory: %w", err)
	}
	it.priv = priv
	it.recordSeeds()
	defer func() {
		done := busy()
		defer done()
		if err := fsx.RemoveOwned(priv); err != nil {
			fmt.Fprintf(e.o.Log, "warning: %s: remove %s: %v\n", g.name, priv, err)
		}
	}()
	if err := it.run(ctx, priv); err != nil {
		return nil, err
	}
	if g.itemLayout {
		it.itemResult()
	} else {
		it.oneResult()
	}
	end := e.o.Now()
	res.EndedAt = end.UTC()
	res.DurationSeconds = end.Sub(start).Seconds()
	return res, nil
}

// oneResult fills the one-candidate layout: the candidate's status,
// patch, flags and statistics at the top of the file.
func (it *itemRun) oneResult() {
	res, c := it.res, it.arms[2].cand
	res.Sample, res.PatchHash, res.Patch = c.u.Sample, PatchHash(c.u.Patch), c.patch
	f := it.fail
	if f == nil {
		f = c.fail
	}
	res.Status = statusOf(f)
	if f != nil {
		// Reasons quote commands' output; nothing secret may reach eval.json.
		res.Reason = it.e.secrets.ScrubString(f.reason)
	}
	res.Flags = candidateFlags(c.patch)
	if res.Status == records.EvalSuccess {
		st := Analyze(res.Samples, it.spec)
		records.GateOptFlags(&st, res.Patch)
		res.Stats = &st
		if st.Noisy {
			res.Flags = append(res.Flags, records.FlagNoisy)
		}
		res.Flags = append(res.Flags, it.itemFlags()...)
		var disagree bool
		res.Secondary, disagree = Secondary(res, -1, &st, it.spec, res.Environment.InstructionsMethod, it.countErr)
		if disagree {
			res.Flags = append(res.Flags, records.FlagMetricsDisagree)
		}
		var flags []string
		res.Protocol, flags = it.protocolChecks(it.arms[2])
		res.Flags = append(res.Flags, flags...)
	}
}

// itemResult fills the item layout: the item's own status at the top,
// each candidate's in Candidates, its statistics against the one baseline
// and human.
func (it *itemRun) itemResult() {
	res := it.res
	res.Status = statusOf(it.fail)
	if it.fail != nil {
		res.Reason = it.e.secrets.ScrubString(it.fail.reason)
	}
	res.Candidates = []records.EvalCandidate{}
	timed := false
	for _, a := range it.arms[2:] {
		c := a.cand
		ec := records.EvalCandidate{Sample: c.u.Sample, PatchHash: PatchHash(c.u.Patch), Patch: c.patch, Flags: candidateFlags(c.patch),
			EquivalenceOK: c.equivOK, EquivalenceDetail: c.equivDetail}
		switch {
		case c.fail != nil:
			ec.Status, ec.Reason = statusOf(c.fail), it.e.secrets.ScrubString(c.fail.reason)
		case it.fail != nil:
			ec.Status, ec.Reason = res.Status, res.Reason
		default:
			ec.Status = records.EvalSuccess
			st := AnalyzeSample(res.Samples, c.u.Sample, it.spec)
			records.GateOptFlags(&st, ec.Patch)
			ec.Stats = &st
			if st.Noisy {
				ec.Flags = append(ec.Flags, records.FlagNoisy)
			}
			var disagree bool
			ec.Secondary, disagree = Secondary(res, c.u.Sample, &st, it.spec, res.Environment.InstructionsMethod, it.countErr)
			if disagree {
				ec.Flags = append(ec.Flags, records.FlagMetricsDisagree)
			}
			var flags []string
			ec.Protocol, flags = it.protocolChecks(a)
			ec.Flags = append(ec.Flags, flags...)
			timed = true
		}
		res.Candidates = append(res.Candidates, ec)
	}
	if timed {
		res.Flags = it.itemFlags()
	}
}

// candidateFlags are the flags of a candidate's patch.
func candidateFlags(p records.EvalPatch) []string {
	var flags []string
	if p.Empty {
		flags = append(flags, records.FlagEmptyPatch)
	}
	if p.ThreeWay {
		flags = append(flags, records.FlagThreeWay)
	}
	return flags
}

// itemFlags are the flags of the item's timing.
func (it *itemRun) itemFlags() []string {
	var flags []string
	res := it.res
	if it.spec.Rounds < records.FewRounds {
		flags = append(flags, records.FlagFewRounds)
	}
	if p := res.Environment.Pinning; !p.Applied {
		flags = append(flags, records.FlagNotPinned)
	}
	if share, ok := Contention(res.Samples); ok && share > ContendedShare {
		flags = append(flags, records.FlagContended)
	}
	return flags
}

// failArm records an arm's failure: the baseline's or the human's ends
// the item, a candidate's takes it out (the others continue).
func (it *itemRun) failArm(a *arm, f *failure) {
	if a.cand == nil {
		it.fail = f
		return
	}
	if a.cand.fail == nil {
		a.cand.fail = f
		if d, ok := it.sess.(interface{ Drop(records.Arm) }); ok && it.g.itemLayout {
			// Its container is of no more use; the others go on.
			d.Drop(a.id)
		}
	}
}

// over reports whether the item ends: its baseline or human failed, or
// no candidate is left.
func (it *itemRun) over() bool {
	if it.fail != nil {
		return true
	}
	for _, a := range it.arms[2:] {
		if !a.out() {
			return false
		}
	}
	return true
}

// live are the arms still in the item, in the order of the first round.
func (it *itemRun) live() []*arm {
	var out []*arm
	for _, a := range it.arms {
		if !a.out() {
			out = append(out, a)
		}
	}
	return out
}

// sampleOf is the sample an arm's commands and runs are labelled with in
// the item layout (0 otherwise).
func (it *itemRun) sampleOf(a *arm) int {
	if a.cand == nil || !it.g.itemLayout {
		return 0
	}
	return a.cand.u.Sample
}

// path is an arm's workspace as its commands see it.
func (it *itemRun) path(a *arm) string {
	if it.sess != nil {
		return it.sess.Workspace(a.id)
	}
	return it.ws[a.id]
}

func isEmptyPatch(p []byte) bool { return len(strings.TrimSpace(string(p))) == 0 }

// run does the work; it returns an error only when the harness failed.
// it.fail records the first failure of the baseline or the human, each
// candidate's its own.
func (it *itemRun) run(ctx context.Context, priv string) error {
	if err := it.workspaces(ctx, priv); err != nil || it.over() {
		return err
	}
	if err := it.makeTmpDirs(); err != nil {
		return err
	}
	for _, a := range it.live() {
		if err := it.copyFiles(a); err != nil || it.over() {
			return err
		}
	}
	if ir, ok := it.e.o.Runner.(ItemRunner); ok {
		u0 := it.e.o.Units[it.g.units[0]]
		env := ItemEnv{
			RunID: it.e.o.RunID, Name: it.g.name, ItemID: u0.Item.ID, Sample: u0.Sample,
			Workspaces: it.ws, Private: priv, CPUs: it.e.untimedCPUs, Env: it.e.baseEnv,
		}
		if it.g.itemLayout {
			env.Sample = 0
		}
		for _, a := range it.live() {
			env.Arms = append(env.Arms, a.id)
		}
		sess, err := ir.StartItem(ctx, env)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%s: %w", ir.Name(), err)
		}
		it.sess, it.runner = sess, sess
		defer func() {
			if err := sess.Close(); err != nil {
				fmt.Fprintf(it.e.o.Log, "warning: %s: %v\n", it.g.name, err)
			}
		}()
	}
	for _, a := range it.live() {
	phases:
		for _, phase := range []struct {
			name string
			cmds []string
		}{{"setup", it.spec.Setup}, {"correctness", it.spec.Correctness}} {
			for _, cmd := range phase.cmds {
				if err := it.command(ctx, a, phase.name, cmd); err != nil || it.over() {
					return err
				}
				if a.out() {
					break phases
				}
			}
		}
	}
	if it.checkFiles("during setup and correctness"); it.over() {
		return nil
	}
	it.startWatch(ctx)
	return it.time(ctx)
}

// afterTiming compares what the timed runs wrote, checks the evaluation
// files and runs correctness again. It runs before the timing CPU is
// released: in containers the arms are still on it.
func (it *itemRun) afterTiming(ctx context.Context) error {
	it.finishWatch(ctx)
	if it.checkFiles("during the timed runs"); it.over() {
		return nil
	}
	return it.recheck(ctx)
}

// workspaces creates the workspaces of the arms and applies each
// candidate's patch.
func (it *itemRun) workspaces(ctx context.Context, priv string) error {
	done := busy()
	defer done()
	m := it.e.mirror
	item := it.e.o.Units[it.g.units[0]].Item
	wss := map[*arm]*workspace.Workspace{}
	for _, a := range it.arms {
		tree := item.Pre
		if a.kind == records.ArmHuman {
			tree = item.Human
		}
		ws, err := workspace.Create(ctx, m, tree, filepath.Join(priv, a.dir))
		if err != nil {
			return fmt.Errorf("%s workspace: %w", a.id, err)
		}
		wss[a] = ws
		it.ws[a.id] = ws.Dir
	}
	for _, a := range it.arms[2:] {
		c := a.cand
		if c.patch.Empty {
			continue
		}
		// A plain check first, to tell a clean apply from one that needs the
		// three-way fallback.
		clean := workspace.CheckApply(ctx, m, item.Pre, priv, bytes.NewReader(c.u.Patch)) == nil
		if err := wss[a].Apply(ctx, c.u.Patch); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			stderr := gitStderr(err)
			c.patch.ApplyError = capString(it.e.secrets.ScrubString(strings.TrimSpace(stderr)), maxCommandLog)
			c.patch.FailingHunks = failingHunks(stderr, c.u.Patch)
			for i := range c.patch.FailingHunks {
				h := &c.patch.FailingHunks[i]
				h.Text = it.e.secrets.ScrubString(h.Text)
			}
			c.fail = &failure{arm: records.ArmAgent, kind: "patch", reason: "the patch does not apply to the pre tree: " + firstLine(stderr)}
			continue
		}
		c.patch.Applied = true
		c.patch.ThreeWay = !clean
		it.rewardHacks(c)
	}
	return nil
}

// rewardHacks records the reward-hack rules that match a candidate's
// applied patch, and fails it on the first one evaluation.reject_flags
// names.
func (it *itemRun) rewardHacks(c *candidate) {
	s := it.spec
	hacks := forensics.ScanPatch(c.u.Patch, forensics.PatchContext{
		Workload: s.Workload, Commands: append(slices.Clone(s.Setup), s.Correctness...), EvalFiles: s.Files,
	})
	for i := range hacks {
		h := &hacks[i]
		// The evidence quotes the patch.
		h.File, h.Hunk, h.Excerpt = it.e.secrets.ScrubString(h.File), it.e.secrets.ScrubString(h.Hunk), it.e.secrets.ScrubString(h.Excerpt)
		if c.fail == nil && slices.Contains(s.RejectFlags, h.Rule) {
			c.fail = &failure{arm: records.ArmAgent, kind: "reject_flags",
				reason: fmt.Sprintf("reward-hack rule %s (evaluation.reject_flags) matched %s: %s", h.Rule, h.File, h.Reason)}
		}
	}
	c.patch.RewardHacks = hacks
}

// copyFiles copies evaluation.files into an arm's workspace, replacing
// whatever the tree (or the agent) put there. The copy is confined to the
// workspace (os.Root): a link the patch made cannot lead it out.
func (it *itemRun) copyFiles(a *arm) error {
	if len(it.spec.FilesAbs) == 0 {
		return nil
	}
	ws, err := os.OpenRoot(it.ws[a.id])
	if err != nil {
		return fmt.Errorf("evaluation files: %w", err)
	}
	defer ws.Close()
	for i, src := range it.spec.FilesAbs {
		rel := fileTarget(it.e.o.Task.Dir, it.spec.Files[i], src)
		dst := filepath.Join(it.ws[a.id], rel)
		if err := safeTarget(it.ws[a.id], rel); err != nil {
			it.failArm(a, &failure{arm: a.kind, kind: "files", reason: fmt.Sprintf("evaluation file %s cannot be copied into the %s: %v", it.spec.Files[i], a.name, err)})
			it.res.Commands = append(it.res.Commands, records.CommandLog{Arm: a.kind, Sample: it.sampleOf(a), Phase: "files", Command: "copy " + it.spec.Files[i], ExitCode: -1, Error: err.Error()})
			return nil
		}
		if err := fsx.RemoveAll(dst); err != nil {
			return fmt.Errorf("evaluation file %s: %w", it.spec.Files[i], err)
		}
		if err := copyInto(ws, rel, src); err != nil {
			return fmt.Errorf("evaluation file %s: %w", it.spec.Files[i], err)
		}
	}
	it.hashFiles(a)
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
func (it *itemRun) command(ctx context.Context, a *arm, phase, cmd string) error {
	out := textx.NewTail(maxCommandLog)
	sw := it.e.secrets.Writer(out)
	timeout := it.spec.Timeout.D()
	t0 := time.Now()
	dir := it.path(a)
	cr, err := it.runner.Run(ctx, CommandSpec{
		Script: it.expandCmd(cmd, dir, untimedRound), Arm: a.id, Dir: dir, Env: it.armEnv(a, dir),
		Timeout: timeout, Stdout: sw, Stderr: sw, CPUs: it.e.untimedGate(), TempDir: it.priv,
	})
	sw.Close()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	log := records.CommandLog{
		Arm: a.kind, Sample: it.sampleOf(a), Phase: phase, Command: it.e.display(cmd),
		ExitCode: cr.ExitCode, Signal: cr.Signal, TimedOut: cr.TimedOut,
		DurationSeconds: time.Since(t0).Seconds(), OK: err == nil && cr.OK(),
		Output: out.String(), OutputBytes: out.Total(), OutputTruncated: out.Total() > int64(len(out.String())),
	}
	if err != nil {
		// sh itself could not start: the machine's problem, not the arm's.
		return fmt.Errorf("%s on the %s: %w", phase, a.name, err)
	}
	it.res.Commands = append(it.res.Commands, log)
	if !log.OK {
		it.failArm(a, &failure{arm: a.kind, kind: phase, timedOut: cr.TimedOut,
			reason: fmt.Sprintf("%s command `%s` failed on the %s: %s%s", phase, it.e.display(cmd), a.name, cr.Describe(timeout), lastLine(out.String()))})
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
	if err := it.rounds(ctx, &env, pin); err != nil || it.over() {
		return err
	}
	// The recheck and the evaluation files' hashes follow the timed
	// rounds; the counted runs (instructions) come after, untimed.
	if err := it.afterTiming(ctx); err != nil {
		return err
	}
	if err := it.secondaryRounds(ctx, &env, pin); err != nil {
		return err
	}
	return it.delayProbes(ctx, pin)
}

// timingEnvironment describes where the rounds run, and pins them (pin:
// the CPUs of a timed run).
func (it *itemRun) timingEnvironment(ctx context.Context, slot *timingSlot) (env records.Environment, pin []int, err error) {
	env = hostEnvironment(it.e.o.Runner.Name(), slot.cpu, it.e.o.ProcessEnv)
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

// rounds runs the workload of every arm in every round, in the rotated
// order of the arms still in: each run's facts are gathered, then judged
// by decideRun. A failure of the baseline or the human ends the rounds;
// a candidate's takes it out of the following ones (the rotation is then
// over the arms left), and the rounds end when no candidate is left.
func (it *itemRun) rounds(ctx context.Context, env *records.Environment, pin []int) error {
	s := it.spec
	first := map[*arm][]byte{}
	var t0 time.Time
	for r := 0; r < s.Warmup+s.Rounds; r++ {
		if p := it.e.o.Progress; p != nil {
			p.Round(it.g.name, r+1, s.Warmup+s.Rounds)
		}
		warm := r < s.Warmup
		it.round = r
		idx := r
		if !warm {
			idx = r - s.Warmup
		}
		for pos, a := range Rotate(it.live(), idx) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if t0.IsZero() {
				t0 = time.Now()
			}
			f, err := it.timedRun(ctx, a, pin)
			if err != nil {
				return err
			}
			it.noteCounter(f.result, env)
			it.afterRun(a)
			f.round, f.pos, f.warm, f.offset = r, pos, warm, f.started.Sub(t0).Seconds()
			v := decideRun(s, it.e.display(s.Workload), f)
			if v.fail == nil || !it.g.itemLayout || a.cand == nil {
				// The failed run of a candidate that leaves an item with
				// samples is none of the compared runs: it does not make
				// the item not_pinned (a run killed at its timeout has no
				// launcher report).
				env.Pinning.Runs++
				if f.result.Pinned {
					env.Pinning.PinnedRuns++
				} else if f.result.AffinityErr != "" && env.Pinning.Error == "" {
					env.Pinning.Error = f.result.AffinityErr
				}
			}
			if v.log != nil {
				l := *v.log
				l.Sample = it.sampleOf(a)
				it.res.Commands = append(it.res.Commands, l)
			}
			if v.fail != nil {
				if it.failArm(a, v.fail); it.over() {
					return nil
				}
				continue
			}
			sample := *v.sample
			sample.Sample = it.sampleOf(a)
			it.res.Samples = append(it.res.Samples, sample)
			if _, ok := first[a]; !ok {
				first[a] = append([]byte{}, f.stdout...)
			}
		}
		if r == 0 && s.Equivalence != nil {
			if it.equivalence(first); it.over() {
				return nil
			}
		}
	}
	return nil
}

// runFacts are what one timed run of the workload gave.
type runFacts struct {
	arm records.Arm
	// name is the arm as messages call it ("" = armName[arm]).
	name       string
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
func (it *itemRun) timedRun(ctx context.Context, a *arm, pin []int) (runFacts, error) {
	s := it.spec
	stdout := &headBuffer{max: maxStdout}
	stderr := textx.NewTail(maxCommandLog)
	f := runFacts{arm: a.kind, name: a.name, started: time.Now()}
	dir := it.path(a)
	cr, err := it.runner.Run(ctx, CommandSpec{
		Script: it.expandCmd(s.Workload, dir, it.round), Arm: a.id, Dir: dir, Env: it.armEnv(a, dir),
		Timeout: s.Timeout.D(), Stdout: stdout, Stderr: stderr, CPUs: pin, Timed: true, TempDir: it.priv,
		Count: it.countFor(s.Metric.Kind),
	})
	if ctx.Err() != nil {
		return f, ctx.Err()
	}
	if err != nil {
		return f, fmt.Errorf("workload on the %s: %w", a.name, err)
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
	name := f.name
	if name == "" {
		name = armName[f.arm]
	}
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
				reason: fmt.Sprintf("the workload failed on the %s (%s): %s%s", name, where, cr.Describe(s.Timeout.D()), lastLine(f.stderr))},
		}
	}
	v, err := RunValue(s.Metric, f.stdout, cr)
	if err != nil {
		return runVerdict{fail: &failure{arm: f.arm, kind: "metric", reason: fmt.Sprintf("no metric in the %s's output (%s): %v", name, where, err)}}
	}
	return runVerdict{sample: &records.Sample{
		Arm: f.arm, Round: f.round, Position: f.pos, Warmup: f.warm, Value: v,
		WallSeconds: cr.Wall.Seconds(), UserSeconds: cr.User.Seconds(), SysSeconds: cr.Sys.Seconds(),
		CPUTimes: cr.CPUTimes, Pinned: cr.Pinned, ExitCode: cr.ExitCode, OffsetSeconds: f.offset,
		RunDelaySeconds: cr.RunDelay.Seconds(), RunDelayKnown: cr.RunDelayKnown, RunCPUSeconds: cr.RunCPU.Seconds(),
	}}
}

// equivalence compares the first output of the human arm and of every
// candidate with the baseline's: the human's differing ends the item, a
// candidate's takes it out.
func (it *itemRun) equivalence(first map[*arm][]byte) {
	q := *it.spec.Equivalence
	base := first[it.arms[0]]
	sum := sha256.Sum256(base)
	er := &records.EquivalenceResult{Mode: q.Mode, Tolerance: q.Tolerance, BaseOutputSHA256: hex.EncodeToString(sum[:]), AgentOK: true}
	it.res.Equivalence = er
	var hDetail string
	er.HumanOK, hDetail = Equivalent(q, base, first[it.arms[1]])
	for _, a := range it.arms[2:] {
		out, ok := first[a]
		if !ok || a.out() {
			continue
		}
		c := a.cand
		var detail string
		c.equivOK, detail = Equivalent(q, base, out)
		if c.equivOK {
			continue
		}
		er.AgentOK = false
		c.equivDetail = it.e.secrets.ScrubString(detail)
		if er.HumanOK {
			if !it.g.itemLayout {
				er.Detail = c.equivDetail
			}
			who := "the agent's workload output"
			if it.g.itemLayout {
				who += fmt.Sprintf(" (sample %d)", c.u.Sample)
			}
			it.failArm(a, &failure{arm: records.ArmAgent, kind: "equivalence", reason: who + " differs from the baseline's (" + q.Mode + "): " + c.equivDetail})
		}
	}
	if !er.HumanOK {
		er.Detail = it.e.secrets.ScrubString(hDetail)
		it.fail = &failure{arm: records.ArmHuman, kind: "equivalence", reason: "the human commit's workload output differs from the baseline's (" + q.Mode + "): " + er.Detail}
	}
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return textx.Truncate(textx.StripControl(l), 200)
		}
	}
	return ""
}

// lastLine is ": <last non-empty line>" of a command's output, or "".
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return ": " + textx.Truncate(textx.StripControl(l), 200)
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
