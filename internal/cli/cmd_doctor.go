package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/doctor"
)

type doctorOptions struct {
	benchCfg string
	agent    string
}

func newDoctorCmd(env *Env) *cobra.Command {
	o := &doctorOptions{}
	c := &cobra.Command{
		Use:   "doctor [--bench-cfg bench.yaml] [--agent NAME]",
		Short: "Check the machine and configuration before a long run",
		Long: `Check what a run needs: the configuration, git, that the state and work
directories are writable, and free disk space in work_root. Prints ✓ or ✗
per check. prepare runs the same checks as a preflight.`,
		RunE: func(c *cobra.Command, args []string) error { return runDoctor(c.Context(), env, o) },
	}
	c.Flags().StringVar(&o.benchCfg, "bench-cfg", "", "bench.yaml (default ./bench.yaml when present)")
	c.Flags().StringVar(&o.agent, "agent", "", "check this agent entry (default: agents.default)")
	return c
}

func runDoctor(ctx context.Context, env *Env, o *doctorOptions) error {
	cfg, err := env.loadBench(o.benchCfg)
	if err != nil {
		fmt.Fprintf(env.Stdout, "✗ config: %v\n", err)
		return err
	}
	where := cfg.bench.Path
	if where == "" {
		where = "no bench.yaml, defaults"
	}
	fmt.Fprintf(env.Stdout, "✓ config: %s\n", where)
	var a *config.Agent
	if o.agent != "" || cfg.bench.Agents.Default != "" {
		if a, err = cfg.bench.Agent(o.agent); err != nil {
			fmt.Fprintf(env.Stdout, "✗ agent: %v\n", err)
			return err
		}
	}
	if _, ok := doctor.Run(ctx, doctor.Checks(doctor.Input{Bench: cfg.bench, Agent: a}), env.Stdout); !ok {
		return errFailed
	}
	return nil
}
