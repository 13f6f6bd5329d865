package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/agent/openhands"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
)

type openhandsDockerfileOptions struct {
	benchCfg string
	agent    string
	from     string
}

func newOpenhandsCmd(env *System) *cobra.Command {
	c := &cobra.Command{
		Use:   "openhands dockerfile",
		Short: "OpenHands helpers: the Dockerfile of an image for sandbox_runtime: local",
		Long: `OpenHands helpers.

  bench openhands dockerfile   print the Dockerfile of an image for sandbox_runtime: local`,
	}
	o := &openhandsDockerfileOptions{}
	d := &cobra.Command{
		Use:   "dockerfile [--bench-cfg bench.yaml] [--agent NAME] [--from IMAGE]",
		Short: "Print a Dockerfile that adds what sandbox_runtime: local needs to the OpenHands image",
		Long: `Print a Dockerfile built FROM the OpenHands entry's container_image (or
--from IMAGE) that adds what sandbox_runtime: local needs in it: tmux (the
bash tool's session), git, and /app readable by your uid. Build it and point
container_image at the result:

  bench openhands dockerfile | docker build -t IMAGE-local -

The entry is --agent, else agents.default when it is an openhands entry,
else the first openhands entry; OPENHANDS_CONTAINER_IMAGE wins over
container_image, as in prepare.`,
		Args: wrapArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, args []string) error { return runOpenhandsDockerfile(env, o) },
	}
	d.Flags().StringVar(&o.benchCfg, "bench-cfg", "", "bench.yaml (default ./bench.yaml when present)")
	d.Flags().StringVar(&o.agent, "agent", "", "the openhands entry (default: agents.default, else the first openhands entry)")
	d.Flags().StringVar(&o.from, "from", "", "the image to build from, instead of the entry's container_image")
	c.AddCommand(d)
	return c
}

func runOpenhandsDockerfile(env *System, o *openhandsDockerfileOptions) error {
	image := o.from
	if image == "" {
		cfg, err := env.loadBench(o.benchCfg)
		if err != nil {
			return err
		}
		a, err := openhandsEntry(cfg.bench, o.agent)
		if err != nil {
			return err
		}
		s, err := openhands.Resolve(a, env.LookupEnv)
		if err != nil {
			return err
		}
		if s.Mode != openhands.ModeDocker {
			return badinput.Errorf("agent %s (openhands) runs on the host (%s mode): no image to build from; set container_image, or pass --from IMAGE", a.Name, s.Mode)
		}
		image = s.Image
	}
	fmt.Fprint(env.Stdout, openhands.LocalDockerfile(image))
	return nil
}

// openhandsEntry is the entry whose image the recipe builds from.
func openhandsEntry(b *config.Bench, name string) (*config.Agent, error) {
	if name == "" && b.Agents.Default != "" {
		if a := b.Agents.Lookup(b.Agents.Default); a != nil && a.Type == openhands.Kind.Type {
			return a, nil
		}
	}
	if name == "" {
		for _, a := range b.Agents.Entries {
			if a.Type == openhands.Kind.Type {
				return a, nil
			}
		}
		return nil, badinput.Errorf("%s has no openhands entry: pass --agent NAME or --from IMAGE", benchName(b))
	}
	a, err := b.Agent(name)
	if err != nil {
		return nil, err
	}
	if a.Type != openhands.Kind.Type {
		return nil, badinput.Errorf("agent %s is of type %s, not openhands", a.Name, a.Type)
	}
	return a, nil
}

func benchName(b *config.Bench) string {
	if b.Path == "" {
		return "the configuration (no bench.yaml)"
	}
	return b.Path
}
