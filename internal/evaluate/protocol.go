package evaluate

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/records"
)

// The timing protocol's checks against an agent that games the timing
// (docs/evaluation.md, "A timing protocol an agent cannot game"): fresh
// inputs per round ({round}, {seed}), correctness again after timing,
// manifests of what timed runs write, the warm-cache and setup-growth
// flags, and the evaluation files' hashes.

// Thresholds of the protocol's flags.
const (
	// warmCacheFactor: a candidate is warm_cache_suspected when its first
	// run over its timed median exceeds this multiple of the baseline's
	// (floored at 1), and its first run's excess over that median exceeds
	// this multiple of the baseline's excess.
	warmCacheFactor = 2
	// setupGrowFactor and setupGrowMin: setup_grew when the candidate's
	// setup takes more than this multiple of the baseline's and at least
	// this many seconds longer.
	setupGrowFactor = 2
	setupGrowMin    = 1.0
	// maxManifestEntries caps the entries of one directory's manifest
	// (a HOME with a module cache holds hundreds of thousands).
	maxManifestEntries = 20000
)

// usesRounds reports whether the spec's commands use {round} or {seed}.
func usesRounds(s *Spec) bool {
	cmds := append(append([]string{s.Workload}, s.Setup...), s.Correctness...)
	return config.UsesPlaceholder("round", cmds...) || config.UsesPlaceholder("seed", cmds...)
}

// RoundSeed is the {seed} of a round of an item: derived from the plan
// item's hash and the round (0-based, warm-up rounds first; untimedRound
// for the commands run outside the rounds), so the same
// for every arm of the round, different from round to round, and the same
// when the item is evaluated again. It is in [0, 2³¹), which any seed
// parameter accepts.
func RoundSeed(itemHash string, round int) int64 {
	sum := sha256.Sum256([]byte("perfbench-seed\x00" + itemHash + "\x00" + strconv.Itoa(round)))
	return int64(binary.BigEndian.Uint32(sum[:4]) >> 1)
}

// untimedRound is the {round} of setup, correctness and the recheck: no
// timed round's, so that what they compute from {round} or {seed} is not
// the input of a timed round (with warmup 0, round 0's would be computed
// untimed during correctness, then timed warm).
const untimedRound = -1

// expandCmd replaces {workspace}, {round} and {seed} in a command of
// round r (untimedRound for setup, correctness and the recheck).
func (it *itemRun) expandCmd(cmd, workspace string, r int) string {
	seed := RoundSeed(it.res.PlanItemHash, r)
	return strings.NewReplacer("{workspace}", workspace, "{round}", strconv.Itoa(r), "{seed}", strconv.FormatInt(seed, 10)).Replace(cmd)
}

// recordSeeds records the seed of every round when the commands use them.
func (it *itemRun) recordSeeds() {
	if !usesRounds(it.spec) {
		return
	}
	for r := 0; r < it.spec.Warmup+it.spec.Rounds; r++ {
		it.res.RoundSeeds = append(it.res.RoundSeeds, RoundSeed(it.res.PlanItemHash, r))
	}
}

// tmpDir is an arm's own TMPDIR on the host, kept across the item's
// commands; its name has the length of every other arm's (the
// environment's size must not differ between arms).
func (it *itemRun) tmpDir(a *arm) string { return filepath.Join(it.priv, "tmp-"+a.dir) }

// makeTmpDirs creates the arms' TMPDIRs (host only: in a container the
// image's /tmp is the container's own).
func (it *itemRun) makeTmpDirs() error {
	if _, ok := it.e.o.Runner.(ItemRunner); ok {
		return nil
	}
	for _, a := range it.arms {
		if err := os.Mkdir(it.tmpDir(a), 0o700); err != nil {
			return fmt.Errorf("TMPDIR of the %s: %w", a.name, err)
		}
	}
	return nil
}

// armEnv is the environment of an arm's command on the host: the
// evaluator's, with the arm's own TMPDIR.
func (it *itemRun) armEnv(a *arm, dir string) []string {
	env := it.e.env(dir)
	if it.sess != nil {
		return env
	}
	env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "TMPDIR=") })
	return append(env, "TMPDIR="+it.tmpDir(a))
}

// Manifests.

// fileState is what a manifest keeps of one entry.
type fileState struct {
	size  int64
	mtime int64
	mode  fs.FileMode
}

// manifest maps paths relative to a directory to their state.
type manifest struct {
	files     map[string]fileState
	truncated bool
	// last is the last path listed, in the walk's order.
	last string
	// unavailable: the listing could not be taken (an arm's container
	// that did not answer); nothing is compared with it.
	unavailable bool
}

// ContainerTmpDirs are the temporary directories of an arm's container:
// its own for the whole item (the container lives from setup to the
// recheck), so a cache kept there would persist across the arm's timed
// runs. They are listed inside the container (the launcher's --manifest).
var ContainerTmpDirs = []string{"/tmp", "/var/tmp", "/dev/shm"}

// manifestLister lists directories where an arm's commands run, inside
// its container (containerItem), in the order asked.
type manifestLister interface {
	Manifests(ctx context.Context, arm records.Arm, dirs []string) ([]manifest, error)
}

// manifestJSON is a manifest as the launcher's --manifest prints it.
type manifestJSON struct {
	Root string `json:"root"`
	// Files are size, modification time (ns) and mode, by relative path.
	Files     map[string][3]int64 `json:"files"`
	Truncated bool                `json:"truncated,omitempty"`
	Last      string              `json:"last,omitempty"`
}

func (m manifest) toJSON(root string) manifestJSON {
	j := manifestJSON{Root: root, Files: make(map[string][3]int64, len(m.files)), Truncated: m.truncated, Last: m.last}
	for p, st := range m.files {
		j.Files[p] = [3]int64{st.size, st.mtime, int64(st.mode)}
	}
	return j
}

func (j manifestJSON) manifest() manifest {
	m := manifest{files: make(map[string]fileState, len(j.Files)), truncated: j.Truncated, last: j.Last}
	for p, v := range j.Files {
		m.files[p] = fileState{size: v[0], mtime: v[1], mode: fs.FileMode(v[2])}
	}
	return m
}

// ManifestMain is `bench __timed --manifest -- DIR...`, run in an arm's
// container: it lists each directory as takeManifest does and prints the
// manifests as JSON on stdout (not in a file of the mounted out
// directory, which the arm's own processes can write).
func ManifestMain(dirs []string, w io.Writer) int {
	out := make([]manifestJSON, 0, len(dirs))
	for _, d := range dirs {
		out = append(out, takeManifest(d, nil).toJSON(d))
	}
	if err := json.NewEncoder(w).Encode(out); err != nil {
		return 1
	}
	return 0
}

// takeManifest lists root's entries (not following links), without git's
// object stores (an "objects" directory inside a directory named .git: its
// files are named by their content, and they are the bulk of a repository)
// and the directories in skip, and at most maxManifestEntries of them in
// the walk's order. The rest of a .git directory is listed, at any depth:
// a cache kept in .git/ or in a data/.git/ is a cache. A missing root is
// an empty manifest.
func takeManifest(root string, skip []string) manifest {
	m := manifest{files: map[string]fileState{}}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// Unreadable parts are left out: they are not watched.
			if d != nil && d.IsDir() && p != root {
				return fs.SkipDir
			}
			return nil
		}
		if p == root {
			return nil
		}
		if d.IsDir() && ((d.Name() == "objects" && filepath.Base(filepath.Dir(p)) == ".git") || slices.Contains(skip, p)) {
			return fs.SkipDir
		}
		if len(m.files) >= maxManifestEntries {
			m.truncated = true
			return fs.SkipAll
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		m.files[rel] = fileState{size: info.Size(), mtime: info.ModTime().UnixNano(), mode: info.Mode()}
		if m.last == "" || walkLess(m.last, rel) {
			m.last = rel
		}
		return nil
	})
	return m
}

// walkLess orders paths as the walk visits them: component by component.
func walkLess(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] != bs[i] {
			return as[i] < bs[i]
		}
	}
	return len(as) < len(bs)
}

// changed adds to out the non-directory entries of after that are new
// in it or differ from before (size, modification time or type).
// Directories are left out: a file created in one is listed itself. When
// a manifest stopped at its cap, only the part both cover is compared:
// an entry past the other's end is not new, just newly in the window.
func changed(before, after manifest, prefix string, out map[string]bool) {
	if before.unavailable || after.unavailable {
		return
	}
	bound := ""
	switch {
	case before.truncated && after.truncated:
		bound = before.last
		if walkLess(after.last, bound) {
			bound = after.last
		}
	case before.truncated:
		bound = before.last
	case after.truncated:
		bound = after.last
	}
	for p, st := range after.files {
		if st.mode.IsDir() || (bound != "" && walkLess(bound, p)) {
			continue
		}
		if old, ok := before.files[p]; !ok || old != st {
			out[prefix+p] = true
		}
	}
}

// watchDir is one directory whose manifests are compared.
type watchDir struct {
	name, root string
	// shared: every arm writes it (the host's HOME), so its changes are
	// attributed run by run.
	shared bool
	// inArm: root is a path inside the arm's container, listed there
	// (manifestLister).
	inArm bool
}

// watcher attributes the writes of timed runs to arms.
type watcher struct {
	skip      []string
	perArm    map[*arm][]watchDir
	start     map[*arm][]manifest
	shared    []watchDir
	last      []manifest
	writes    map[*arm]map[string]bool
	truncated map[string]bool
	// seq and alone are the command tracker's state at the last shared
	// manifest; unattributed counts the runs whose shared changes were
	// not attributed because other commands of the harness ran meanwhile.
	seq          uint64
	alone        bool
	unattributed int
}

// startWatch takes the manifests the timed runs are compared with: after
// every arm's setup and correctness, before the first timed run.
func (it *itemRun) startWatch(ctx context.Context) {
	w := &watcher{perArm: map[*arm][]watchDir{}, start: map[*arm][]manifest{}, writes: map[*arm]map[string]bool{}, truncated: map[string]bool{}}
	// The harness's own directories are not the arms' writes.
	w.skip = []string{it.e.root, it.priv, it.e.o.Bench.Paths.StateRoot, it.e.o.Bench.Paths.WorkRoot}
	homes, _ := it.sess.(interface{ HostHome(records.Arm) string })
	for _, a := range it.live() {
		dirs := []watchDir{{name: "workspace", root: it.ws[a.id]}}
		switch {
		case it.sess == nil:
			dirs = append(dirs, watchDir{name: "tmp", root: it.tmpDir(a)})
		case homes != nil && homes.HostHome(a.id) != "":
			dirs = append(dirs, watchDir{name: "home", root: homes.HostHome(a.id)})
		}
		if _, ok := it.sess.(manifestLister); ok {
			for _, d := range ContainerTmpDirs {
				dirs = append(dirs, watchDir{name: d, root: d, inArm: true})
			}
		}
		w.perArm[a] = dirs
		w.start[a] = it.armManifests(ctx, a, dirs, w)
		w.writes[a] = map[string]bool{}
	}
	if it.sess == nil {
		if home, _ := proc.LookupEnv(it.e.baseEnv, "HOME"); home != "" && filepath.IsAbs(home) && filepath.Clean(home) != "/" {
			w.shared = []watchDir{{name: "home", root: filepath.Clean(home), shared: true}}
		}
		tmps := it.e.o.SharedTmpDirs
		if tmps == nil {
			tmps = DefaultSharedTmpDirs
			if v, ok := proc.LookupEnv(it.e.o.ProcessEnv, WatchTmpEnv); ok {
				tmps = filepath.SplitList(v)
			}
		}
		seen := map[string]bool{}
		for _, d := range tmps {
			real, err := filepath.EvalSymlinks(d)
			if fi, serr := os.Stat(real); err != nil || serr != nil || !fi.IsDir() || seen[real] {
				continue
			}
			seen[real] = true
			w.shared = append(w.shared, watchDir{name: filepath.Clean(d), root: real, shared: true})
		}
		// A watched directory inside another (HOME under /tmp) is listed
		// once, as itself.
		for _, d := range w.shared {
			w.skip = append(w.skip, d.root)
		}
		for _, dirs := range w.perArm {
			for _, d := range dirs {
				w.skip = append(w.skip, d.root)
			}
		}
		for _, d := range w.shared {
			m := takeManifest(d.root, w.skip)
			w.last = append(w.last, m)
			w.truncated[d.name] = m.truncated
		}
		if len(w.shared) > 0 {
			w.mark()
		}
	}
	it.watch = w
}

// mark records the command tracker's state after a shared manifest.
func (w *watcher) mark() {
	seq, inflight := activity.state()
	w.seq, w.alone = seq, inflight == 0
}

// afterRun attributes what changed in the shared directories since the
// previous run to the arm that just ran.
func (it *itemRun) afterRun(a *arm) {
	w := it.watch
	if w == nil || len(w.shared) == 0 {
		return
	}
	// Only the run's own start and end since the last manifest, and no
	// other command of this harness (another item's setup, with
	// --max-parallel-setup) running across it: else what changed in the
	// shared directory is not the run's alone.
	seq, inflight := activity.state()
	alone := w.alone && inflight == 0 && seq-w.seq <= 2
	if !alone {
		w.unattributed++
	}
	for i, d := range w.shared {
		m := takeManifest(d.root, w.skip)
		if out := w.writes[a]; out != nil && alone {
			changed(w.last[i], m, d.name+"/", out)
		}
		w.last[i] = m
		w.truncated[d.name] = w.truncated[d.name] || m.truncated
	}
	w.mark()
}

// finishWatch compares every arm's own directories with their state
// before timing.
func (it *itemRun) finishWatch(ctx context.Context) {
	w := it.watch
	if w == nil {
		return
	}
	for _, a := range it.live() {
		after := it.armManifests(ctx, a, w.perArm[a], w)
		for i, d := range w.perArm[a] {
			changed(w.start[a][i], after[i], d.name+"/", w.writes[a])
		}
	}
}

// armManifests lists an arm's own directories: on the host, or inside
// its container (one exec for all of them). A listing that cannot be
// taken is unavailable (and counts as truncated: its writes were not
// seen).
func (it *itemRun) armManifests(ctx context.Context, a *arm, dirs []watchDir, w *watcher) []manifest {
	out := make([]manifest, len(dirs))
	var inArm []string
	for i, d := range dirs {
		if d.inArm {
			inArm = append(inArm, d.root)
			continue
		}
		out[i] = takeManifest(d.root, w.skip)
	}
	if len(inArm) > 0 {
		lister, _ := it.sess.(manifestLister)
		var got []manifest
		var err error
		if lister != nil {
			got, err = lister.Manifests(ctx, a.id, inArm)
		}
		if lister == nil || err != nil || len(got) != len(inArm) {
			if err != nil && it.e.o.Log != nil {
				fmt.Fprintf(it.e.o.Log, "%s: %s arm: the container's temporary directories were not listed: %v\n", it.g.name, a.id, err)
			}
			got = make([]manifest, len(inArm))
			for i := range got {
				got[i] = manifest{unavailable: true, truncated: true}
			}
		}
		j := 0
		for i, d := range dirs {
			if d.inArm {
				out[i] = got[j]
				j++
			}
		}
	}
	for i, d := range dirs {
		w.truncated[d.name] = w.truncated[d.name] || out[i].truncated
	}
	return out
}

// timingWrites are the files a candidate's timed runs created or changed
// and the baseline's did not, sorted.
func (it *itemRun) timingWrites(a *arm) []string {
	w := it.watch
	if w == nil {
		return nil
	}
	base := w.writes[it.arms[0]]
	var out []string
	for p := range w.writes[a] {
		if !base[p] {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func (w *watcher) watched() []records.WatchedDir {
	var out []records.WatchedDir
	seen := map[string]bool{}
	for _, dirs := range w.perArm {
		for _, d := range dirs {
			seen[d.name] = true
		}
	}
	shared := map[string]bool{}
	names := []string{"workspace", "home", "tmp"}
	// An arm's directories beyond these (its container's /tmp, /var/tmp,
	// /dev/shm), in the order they are watched.
	for _, d := range ContainerTmpDirs {
		if seen[d] {
			names = append(names, d)
		}
	}
	for _, d := range w.shared {
		shared[d.name] = true
		if !slices.Contains(names, d.name) {
			names = append(names, d.name)
		}
	}
	for _, name := range names {
		if seen[name] || shared[name] {
			wd := records.WatchedDir{Name: name, Shared: shared[name], Truncated: w.truncated[name]}
			if shared[name] {
				wd.UnattributedRuns = w.unattributed
			}
			out = append(out, wd)
		}
	}
	return out
}

// informationalWrite reports whether a timing write is listed without
// flagging: Python's bytecode cache, which the interpreter writes for
// any module it imports (a helper module the candidate adds), not a cache
// of the workload's answers.
func informationalWrite(p string) bool {
	return strings.HasSuffix(p, ".pyc") && (strings.HasPrefix(p, "__pycache__/") || strings.Contains(p, "/__pycache__/"))
}

// WatchTmpEnv, when set in the harness's environment, replaces
// DefaultSharedTmpDirs: a list of directories (colon-separated; empty:
// none). The test suites set it empty: the machine's /tmp is every other
// test's too.
const WatchTmpEnv = "BENCH_WATCH_TMP"

// Correctness after timing.

// recheck runs the correctness commands again on every arm still in,
// after the last timed round: a candidate that fails now (it passed
// before) changed something while it was timed and is correctness_failed
// (timeout when the limit stopped it); the baseline or the human commit
// failing is base_failed / human_failed, with the same reason.
func (it *itemRun) recheck(ctx context.Context) error {
	if !it.spec.Recheck {
		return nil
	}
	for _, a := range it.live() {
		for _, cmd := range it.spec.Correctness {
			if err := it.command(ctx, a, "recheck", cmd); err != nil {
				return err
			}
			f := it.fail
			if a.cand != nil {
				f = a.cand.fail
			}
			if f != nil && f.kind == "recheck" {
				f.kind = "correctness"
				f.reason = "failed after timing: correctness" + strings.TrimPrefix(f.reason, "recheck")
			}
			if it.over() {
				return nil
			}
			if a.out() {
				break
			}
		}
	}
	return nil
}

// Evaluation files.

// hashFiles records the hashes of the evaluation files as copied into an
// arm's workspace (each file of a copied directory; files added to it
// later are not the task's).
func (it *itemRun) hashFiles(a *arm) {
	if len(it.spec.FilesAbs) == 0 {
		return
	}
	if it.fileHashes == nil {
		it.fileHashes = map[*arm]map[string]string{}
	}
	hs := map[string]string{}
	ws := it.ws[a.id]
	for i, src := range it.spec.FilesAbs {
		rel := fileTarget(it.e.o.Task.Dir, it.spec.Files[i], src)
		_ = filepath.WalkDir(filepath.Join(ws, rel), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			r, _ := filepath.Rel(ws, p)
			hs[filepath.ToSlash(r)] = hashEntry(p)
			return nil
		})
	}
	it.fileHashes[a] = hs
}

// hashEntry is the type and content (or link target) of a file, "" when
// it is gone.
func hashEntry(p string) string {
	info, err := os.Lstat(p)
	if err != nil {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%v\x00", info.Mode().Type())
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		l, _ := os.Readlink(p)
		io.WriteString(h, l)
	case info.Mode().IsRegular():
		f, err := os.Open(p)
		if err != nil {
			return "unreadable"
		}
		_, _ = io.Copy(h, f)
		f.Close()
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkFiles takes out every candidate that changed an evaluation file
// (when says when: during setup and correctness, during the timed runs):
// correctness_failed, "benchmark file modified". A file the baseline
// changed the same way (the task's own setup rewrites it) is no
// candidate's doing.
func (it *itemRun) checkFiles(when string) {
	base := it.arms[0]
	for _, a := range it.live() {
		if a.cand == nil {
			continue
		}
		var modified []string
		for p, h := range it.fileHashes[a] {
			now := hashEntry(filepath.Join(it.ws[a.id], filepath.FromSlash(p)))
			if now == h {
				continue
			}
			if bh, ok := it.fileHashes[base][p]; ok && bh != hashEntry(filepath.Join(it.ws[base.id], filepath.FromSlash(p))) &&
				now == hashEntry(filepath.Join(it.ws[base.id], filepath.FromSlash(p))) {
				continue
			}
			modified = append(modified, p)
		}
		if len(modified) == 0 {
			continue
		}
		sort.Strings(modified)
		it.failArm(a, &failure{arm: records.ArmAgent, kind: "files",
			reason: fmt.Sprintf("benchmark file modified %s: %s", when, strings.Join(modified, ", "))})
	}
}

// The flags.

// protocolChecks are a timed candidate's protocol figures and flags.
func (it *itemRun) protocolChecks(a *arm) (*records.ProtocolChecks, []string) {
	res, base := it.res, it.arms[0]
	k := it.sampleOf(a)
	p := &records.ProtocolChecks{
		SetupSeconds:     setupSeconds(res.Commands, records.ArmAgent, k),
		BaseSetupSeconds: setupSeconds(res.Commands, records.ArmBase, 0),
	}
	lowerBetter := it.spec.Metric.Better != "higher"
	p.FirstRunFactor = FirstRunFactor(armSamples(res.Samples, records.ArmAgent, k), lowerBetter)
	p.BaseFirstRunFactor = FirstRunFactor(armSamples(res.Samples, base.kind, 0), lowerBetter)
	p.FirstRunExcess = FirstRunExcess(armSamples(res.Samples, records.ArmAgent, k), lowerBetter)
	p.BaseFirstRunExcess = FirstRunExcess(armSamples(res.Samples, base.kind, 0), lowerBetter)
	var flags []string
	var writes, info []string
	for _, w := range it.timingWrites(a) {
		if informationalWrite(w) {
			info = append(info, w)
		} else {
			writes = append(writes, w)
		}
	}
	p.InformationalWrites = info[:min(len(info), records.MaxTimingWrites)]
	if len(writes) > 0 {
		p.TimingWritesTotal = len(writes)
		p.TimingWrites = writes[:min(len(writes), records.MaxTimingWrites)]
		flags = append(flags, records.FlagWritesDuringTiming)
	}
	if it.watch != nil {
		p.Watched = it.watch.watched()
		if slices.ContainsFunc(p.Watched, func(d records.WatchedDir) bool { return d.Truncated }) {
			flags = append(flags, records.FlagWatchTruncated)
		}
	}
	if WarmCacheSuspected(p.FirstRunFactor, p.BaseFirstRunFactor, p.FirstRunExcess, p.BaseFirstRunExcess) {
		flags = append(flags, records.FlagWarmCache)
	}
	if SetupGrew(p.SetupSeconds, p.BaseSetupSeconds) {
		flags = append(flags, records.FlagSetupGrew)
	}
	return p, flags
}

// setupSeconds is the time of an arm's setup commands.
func setupSeconds(cmds []records.CommandLog, arm records.Arm, sample int) float64 {
	var t float64
	for _, c := range cmds {
		if c.Arm == arm && c.Sample == sample && c.Phase == "setup" {
			t += c.DurationSeconds
		}
	}
	return t
}

// armSamples are the samples of one arm (sample k of the agent's).
func armSamples(samples []records.Sample, arm records.Arm, k int) []records.Sample {
	var out []records.Sample
	for _, s := range samples {
		if s.Arm == arm && (arm != records.ArmAgent || s.Sample == k) {
			out = append(out, s)
		}
	}
	return out
}

// firstAndMedian are an arm's first run (its first warm-up, or its first
// timed run without warm-up) and the median of its timed runs; ok is
// false when either is missing or not positive.
func firstAndMedian(samples []records.Sample) (first, med float64, ok bool) {
	if len(samples) == 0 {
		return 0, 0, false
	}
	var timed []float64
	for _, s := range samples {
		if !s.Warmup {
			timed = append(timed, s.Value)
		}
	}
	if len(timed) == 0 {
		return 0, 0, false
	}
	med, first = median(timed), samples[0].Value
	return first, med, med > 0 && first > 0
}

// FirstRunFactor is an arm's first run over the median of its timed runs,
// so that above 1 means the first run was the slower: first/median for a
// metric where lower is better, median/first otherwise. 0 when not
// computable.
func FirstRunFactor(samples []records.Sample, lowerBetter bool) float64 {
	first, med, ok := firstAndMedian(samples)
	if !ok {
		return 0
	}
	if lowerBetter {
		return first / med
	}
	return med / first
}

// FirstRunExcess is how much worse an arm's first run was than the median
// of its timed runs, in the metric's unit (first − median where lower is
// better, median − first otherwise; negative when the first run was the
// better). 0 when not computable.
func FirstRunExcess(samples []records.Sample, lowerBetter bool) float64 {
	first, med, ok := firstAndMedian(samples)
	if !ok {
		return 0
	}
	if lowerBetter {
		return first - med
	}
	return med - first
}

// WarmCacheSuspected: the candidate's first run was the slower, its
// first-run factor is more than twice the baseline's — floored at 1, so
// that a baseline whose first run happened to be fast does not turn
// every ordinary cold start into a flag — and its first run's excess over
// its median is more than twice the baseline's (floored at 0): a
// candidate that is simply faster keeps the baseline's fixed cold-start
// cost, which inflates its factor but not its excess, while a cache built
// by the first run makes that run pay the work the others skip.
func WarmCacheSuspected(candFactor, baseFactor, candExcess, baseExcess float64) bool {
	if candFactor <= 1 || baseFactor <= 0 || candExcess <= 0 {
		return false
	}
	return candFactor > warmCacheFactor*max(baseFactor, 1) && candExcess > warmCacheFactor*max(baseExcess, 0)
}

// SetupGrew: the candidate's setup took more than twice the baseline's
// and at least a second longer.
func SetupGrew(cand, base float64) bool {
	return cand > setupGrowFactor*base && cand-base >= setupGrowMin
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
