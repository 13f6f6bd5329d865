// Command bench benchmarks AI coding agents on real performance
// optimizations. See the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/perfbench/perfbench/internal/cli"
)

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.Main(ctx, os.Args[1:], cli.OSEnv())
}
