package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/prepare"
	"github.com/perfbench/perfbench/internal/records"
)

func newMergeCmd(env *System) *cobra.Command {
	return &cobra.Command{
		Use:   "merge RUN_DIR",
		Short: "Rebuild a sharded run's predictions from its journals",
		Long: `Rebuild what is run-level in a run whose shards (prepare --shard I/N) each
wrote only their items: predictions.jsonl (and predictions.s<k>.jsonl with
samples) from every item's journal, and run.json's updated_at, atomically
and under the run's lock. Run it once the shards are done; it says how
many units are finished and which are still missing (a shard that died
leaves its items to the next submission: run the shard again, then merge
again). Exit status 0 also when units are missing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runMerge(c.Context(), env, env.path(args[0]))
		},
	}
}

func runMerge(ctx context.Context, env *System, runDir string) error {
	sum, err := prepare.Merge(ctx, runDir, env.Now)
	if err != nil {
		return err
	}
	var parts []string
	for _, st := range records.RolloutStatuses {
		if n := sum.Counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, n))
		}
	}
	if len(parts) == 0 {
		parts = []string{"nothing recorded"}
	}
	fmt.Fprintf(env.Stdout, "run %s: %d of %d unit(s) finished: %s\n", sum.RunID, sum.Finished, sum.Units, strings.Join(parts, ", "))
	if len(sum.Missing) > 0 {
		fmt.Fprintf(env.Stdout, "missing (%d): %s\n", len(sum.Missing), strings.Join(sum.Missing, ", "))
	}
	if sum.MixedN() {
		// Allowed, but "run the shard again" is ambiguous across partitions.
		var shards []string
		for _, sp := range sum.Shards {
			shards = append(shards, sp.String())
		}
		fmt.Fprintf(env.Stdout, "prepared by shards of more than one N: %s\n", strings.Join(shards, ", "))
	}
	fmt.Fprintf(env.Stdout, "predictions: %s\n", sum.RunDir)
	return nil
}
