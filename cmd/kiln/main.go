// Command kiln is Kiln in one binary: the server (REST API, worker, portal),
// the command-line client, and the local generator.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	err := root.ExecuteContext(ctx)
	if err != nil && !errors.Is(err, errSilent) {
		fmt.Fprintln(os.Stderr, "Error:", err)
	}
	os.Exit(cli.ExitCode(err))
}

// errSilent ends a command with exit status 1 after it already said why.
var errSilent = errors.New("failed")

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "kiln",
		Short: "Kiln turns a plain-language app description into a working, checked, packaged app",
		Long: `Kiln turns a plain-language app description into a working, checked, packaged app.

Run the server (API, build worker and portal in one process, SQLite in ./kiln-data):
  kiln serve

Then, from another terminal:
  kiln signup --email you@example.com
  kiln login --email you@example.com
  kiln apps create "a library API with books (title, author, year) and loans" --wait`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newWorkerCmd(), newMigrateCmd(), newConfigCmd())
	cli.AddCommands(root)
	return root
}
