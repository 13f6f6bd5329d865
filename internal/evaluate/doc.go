// Package evaluate owns the evaluation stage: it finds what to evaluate
// ([Open]: a run directory's units with the task file and plan the run
// recorded, or a predictions file's, in a run directory it chooses or
// creates), and for every item it builds three leak-proof workspaces — baseline
// (the pre tree), human (the human commit) and agent (pre plus the agent's
// patch) — runs the task's setup and correctness commands in each, times
// the workload in interleaved rounds with a rotating order, checks that the
// candidates' output is equivalent to the baseline's, and writes every raw
// sample with the statistics of package stats to the item's eval.json (a
// records.Eval, written by journal.WriteEval).
//
// # What one item goes through
//
//  1. The effective configuration ([Spec]): the task's evaluation section,
//     overridden field by field by the plan item's, with the defaults
//     (rounds 20, warmup 2, timeout 10m, band 0.05, alpha 0.05, metric
//     wall) applied. Problems a user must fix (no workload anywhere, a
//     missing evaluation file; with environment.image, an image that is
//     not present locally or has no sh) are bad input, reported before
//     anything runs.
//  2. Three workspaces in a private temporary directory outside state_root
//     and work_root (paths.rollout_root, else the system temp dir), made by
//     workspace.Create. The patch is applied with `git apply`, then
//     `--3way`; when it does not apply the item is patch_failed and the
//     failing hunks are recorded. An empty patch leaves the agent arm equal
//     to the baseline and flags the item empty_patch, so a noop row still
//     gets a verdict.
//  3. evaluation.files are copied into each workspace (a hidden benchmark
//     the agent never saw); then setup and correctness run with `sh -c` in
//     each workspace ({workspace} is replaced by its path), each under the
//     per-command timeout. A failure on the baseline is base_failed, on the
//     human commit human_failed, on the agent's candidate correctness_failed
//     (timeout when the limit stopped it).
//  4. Timing: warm-up rounds, then interleaved rounds whose order rotates
//     (B H A, H A B, A B H, ...). Each run is a fresh `sh -c` process. The
//     metric is the wall time of that process (measured by package proc
//     from start to exit), or a number extracted from its stdout with a
//     regular expression or from a JSON line; user and system CPU time
//     (getrusage of the reaped process tree) are recorded too. The first
//     run's output of the human and agent arms must equal the baseline's
//     when evaluation.equivalence is set (exact, or numeric with a
//     tolerance), else the item is equivalence_failed (human_failed for the
//     human arm).
//  5. The timing protocol's checks (protocol.go): {round} and {seed}
//     give every round fresh inputs; with evaluation.recheck, correctness
//     runs again after the last round (a candidate failing then is
//     correctness_failed, "failed after timing"); manifests of the arms'
//     workspaces, TMPDIRs and HOMEs before and after the timed runs flag a
//     candidate whose runs wrote files the baseline's did not
//     (writes_during_timing); a first run much slower than the median
//     (warm_cache_suspected) and a grown setup (setup_grew) are flagged;
//     a candidate that changed an evaluation file is correctness_failed
//     ("benchmark file modified").
//  6. Statistics: stats.Analyze on the timed (non-warm-up) samples: medians
//     with 95% CIs, speedups with paired-bootstrap CIs and Mann–Whitney
//     p-values, the verdict of agent vs human, opt_base / opt_commit, noise.
//
// # Timing discipline
//
// Only one evaluation times at a time by default, whatever process runs it:
// timing holds an exclusive flock on a per-CPU lock file in a machine-wide
// directory (LockDir, default /tmp/perfbench-timing). Each timed run goes
// through a launcher ([TimedMain], the hidden `bench __timed`): it pins the
// thread it runs on to the reserved CPU, takes the time, fork-execs the
// shell from that thread (so the workload and all its descendants are born
// pinned), waits for it and takes the time again — both timestamps on the
// reserved CPU, so the harness's own scheduling never enters the
// measurement — and reports wall time, the process tree's user and system
// times (wait4) and the run-queue delay of its main process
// (/proc/<pid>/schedstat: time another task held its CPU). While it
// evaluates, every thread of the harness is restricted to the other CPUs, so
// the harness, git, setup and correctness never run on the timing CPU.
// Whether pinning was applied is recorded per sample and per item.
//
// # Resume and regrade
//
// An item counts as evaluated when its eval.json exists and matches the
// plan item's hash, the patch's hash and the measurement configuration's
// hash; those are skipped. base_failed and human_failed items are problems
// of the task or the machine, not of the agent, and are evaluated again.
// An interrupted item leaves no eval.json. Regrade recomputes every
// statistic from the stored samples with the current band and alpha and
// runs nothing.
//
// # Runners
//
// Commands go through a [Runner]; [Host] runs them on this machine.
// [Container] runs them in environment.image: it is an [ItemRunner], which
// the evaluator prepares once (engine, stale containers of dead harnesses,
// image, a statically linked launcher, a shell in the image) and asks for
// an [ItemSession] per item once the workspaces exist. The session starts
// one long-lived container per arm (same image by id, same limits, the
// evaluation network, the invoking uid:gid, the arm's workspace at
// /workspace, the launcher mounted read-only as its idle main process),
// runs every command with `docker exec` through the launcher — so a timed
// run is measured inside the container and is still a fresh process —
// moves the containers' cpuset from the harness's CPUs to the timing CPU
// before the timed rounds (`docker update --cpuset-cpus`), kills an arm's
// container at a timeout or an interruption, and removes all three when
// the item ends.
package evaluate
