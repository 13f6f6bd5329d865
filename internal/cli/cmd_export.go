package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/export"
)

type exportATIFOptions struct {
	out string
}

func newExportCmd(env *System) *cobra.Command {
	c := &cobra.Command{
		Use:   "export atif RUN_DIR [--out DIR]",
		Short: "Write a run's trajectories in another tool's format",
		Long: `Write a run's trajectories in another tool's format.

  bench export atif RUN_DIR   Harbor's Agent Trajectory Interchange Format (` + export.ATIFVersion + `)`,
	}
	o := &exportATIFOptions{}
	a := &cobra.Command{
		Use:   "atif RUN_DIR [--out DIR]",
		Short: "Write each item's trajectory.json as an " + export.ATIFVersion + " document",
		Long: `Write each item's trajectory.json in Harbor's Agent Trajectory Interchange
Format, ` + export.ATIFVersion + ` (harbor docs/rfcs/0001-trajectory-format.md), one
document per item (per sample) as DIR/<item>.json; DIR is RUN_DIR/` + export.ATIFDirName + ` unless
--out says otherwise. An item without trajectory.json, or whose trajectory has
no step, is skipped with a line saying so; an unstructured trajectory (an
agent that leaves only its stdout) is one agent step holding the stdout's
excerpt, as the document's notes say.`,
		Args: wrapArgs(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			runDir := env.path(args[0])
			out := env.path(o.out)
			if o.out == "" {
				out = filepath.Join(runDir, export.ATIFDirName)
			}
			sum, err := export.ExportATIF(c.Context(), runDir, out, env.Stderr)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s: %d written, %d skipped\n", export.ATIFVersion, sum.Written, sum.Skipped)
			return nil
		},
	}
	a.Flags().StringVar(&o.out, "out", "", "directory of the documents (default RUN_DIR/"+export.ATIFDirName+")")
	c.AddCommand(a)
	return c
}
