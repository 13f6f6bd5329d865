package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/records"
)

// The built-in kinds.
var (
	// Command runs any executable (agents.<name>.command).
	Command = Kind{
		AgentKind: config.AgentKind{Type: "command", Check: checkCommand},
		New:       newCommand,
		Executable: func(a *config.Agent, _ *config.Bench) string {
			if a.CLI == "" && len(a.Command) > 0 {
				return a.Command[0]
			}
			return a.CLI
		},
	}
	// Replay applies the human diff: the oracle.
	Replay = Kind{AgentKind: config.AgentKind{Type: "replay"}, New: func(*config.Agent, Host) (Adapter, error) { return replay{}, nil }}
	// Noop changes nothing: the control.
	Noop = Kind{AgentKind: config.AgentKind{Type: "noop"}, New: func(*config.Agent, Host) (Adapter, error) { return noop{}, nil }}
)

// Builtins are the kinds of this package, which every build has.
func Builtins() []Kind { return []Kind{Command, Replay, Noop} }

func checkCommand(c *config.EntryCheck) error {
	if len(c.Agent.Command) == 0 {
		return c.Errorf("command", "required for type command (the argv to run, e.g. [./my-agent, \"{workspace}\"])")
	}
	return nil
}

// command runs any executable: command: [argv...] with {workspace},
// {task_file} and {out_dir} placeholders. It may report its usage in
// $BENCH_OUT_DIR/metrics.json.
type command struct{ argv []string }

func newCommand(a *config.Agent, _ Host) (Adapter, error) {
	if len(a.Command) == 0 {
		return nil, badinput.Errorf("agent %s: type command needs command: [argv...]", a.Name)
	}
	argv := append([]string(nil), a.Command...)
	if a.CLI != "" {
		argv[0] = a.CLI
	}
	argv = append(argv, a.ExtraArgs...)
	return &command{argv: argv}, nil
}

func (c *command) Command(r *Rollout) ([]string, error) { return Expand(c.argv, r), nil }

func (c *command) Run(ctx context.Context, r *Rollout) (*Outcome, error) {
	argv, _ := c.Command(r)
	metrics := filepath.Join(r.OutDir, MetricsFile)
	done := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		pollMetrics(r, metrics, done)
	}()
	out, err := RunProcess(ctx, r, argv, nil)
	close(done)
	<-polled
	if err != nil {
		return nil, err
	}
	u, err := ReadMetrics(metrics)
	switch {
	case err == nil:
		// A stopped agent may have spent more than it last wrote.
		u.Partial = out.Process == nil || out.Process.TimedOut || out.Process.Stopped
		out.Usage = u
	case !errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(r.Stderr, "perfbench: %v\n", err)
		out.SetDetail("metrics_error", err.Error())
	}
	return out, nil
}

// metricsPoll is how often a running command agent's metrics.json is
// read, so that its caps hold while it runs.
const metricsPoll = 200 * time.Millisecond

// pollMetrics reports metrics.json to the harness whenever it changes,
// until done is closed. A half-written file is skipped (agents should
// write it atomically; the next poll sees the whole file).
func pollMetrics(r *Rollout, path string, done <-chan struct{}) {
	PollUsage(r, metricsPoll, done, func() (records.Usage, bool) {
		u, err := ReadMetrics(path)
		return u, err == nil
	})
}

// PollUsage calls read every interval until done is closed, and reports
// to the harness each usage it reads that differs from the last one
// reported; read's false means nothing to report this time.
func PollUsage(r *Rollout, interval time.Duration, done <-chan struct{}, read func() (records.Usage, bool)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last records.Usage
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		if u, ok := read(); ok && u != last {
			last = u
			r.ReportUsage(u)
		}
	}
}

// MetricsFile is what a command agent may write into $BENCH_OUT_DIR.
const MetricsFile = "metrics.json"

// ReadMetrics parses {cost_usd, input_tokens, output_tokens, turns}. The
// file is the agent's: a link there (or in place of its folder) is not
// followed, a FIFO not opened.
func ReadMetrics(path string) (records.Usage, error) {
	data, err := fsx.ReadFileNoFollow(path)
	if err != nil {
		return records.Usage{}, err
	}
	var m struct {
		CostUSD      *float64 `json:"cost_usd"`
		InputTokens  int64    `json:"input_tokens"`
		OutputTokens int64    `json:"output_tokens"`
		Turns        int      `json:"turns"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return records.Usage{}, fmt.Errorf("metrics.json: %w", err)
	}
	u := records.Usage{InputTokens: m.InputTokens, OutputTokens: m.OutputTokens, Turns: m.Turns, Source: MetricsFile}
	if m.CostUSD != nil {
		if math.IsNaN(*m.CostUSD) || math.IsInf(*m.CostUSD, 0) || *m.CostUSD < 0 {
			return records.Usage{}, fmt.Errorf("metrics.json: cost_usd must be a non-negative number")
		}
		u.CostUSD = *m.CostUSD
	}
	return u, nil
}

// noop changes nothing: the control row of every comparison.
type noop struct{}

func (noop) Command(*Rollout) ([]string, error) { return nil, nil }

func (noop) Run(context.Context, *Rollout) (*Outcome, error) {
	return &Outcome{Process: &proc.Result{}}, nil
}

// replay applies the human commit's diff: the oracle that validates a task
// and the harness. It runs `git apply` under the process contract so its
// output lands in replay_stdout.txt / replay_stderr.txt.
type replay struct{}

var replayArgv = []string{"git", "apply", "--binary", "--whitespace=nowarn", "-"}

func (replay) Command(*Rollout) ([]string, error) { return replayArgv, nil }

func (replay) Run(ctx context.Context, r *Rollout) (*Outcome, error) {
	if r.HumanDiff == nil {
		return nil, errors.New("replay: no human diff available")
	}
	diff, err := r.HumanDiff(ctx)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	out, err := RunProcess(ctx, r, replayArgv, bytes.NewReader(diff))
	if err != nil {
		return nil, err
	}
	if out.Process != nil && out.Process.ExitCode != 0 {
		out.Failed = true
		out.Reason = "git apply of the human diff failed"
	}
	return out, nil
}
