// Command kiln is Kiln in one binary: the server (REST API, worker, portal),
// the command-line client, and the local generator.
package main

import (
	"context"
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
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
	}
	os.Exit(cli.ExitCode(err))
}

// markLocal marks server-side commands, which call no API operation.
func markLocal(c *cobra.Command) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[cli.AnnotationLocal] = "true"
	for _, sub := range c.Commands() {
		markLocal(sub)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "kiln",
		Short: "Kiln turns a plain-language app description into a working, checked, packaged app",
		Long: `Kiln turns a plain-language app description into a working, checked, packaged app.

Run the server (API, build worker and portal in one process, SQLite in ./kiln-data):
  kiln serve

Then, from another terminal:
  kiln signup --email you@example.com      # signs you in too
  kiln apps create "a library API with books (title, author, year) and loans" --wait

Or generate an app on this machine, with no server:
  kiln generate "a library API with books (title, author, year) and loans" --out library`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	local := []*cobra.Command{newServeCmd(), newWorkerCmd(), newMigrateCmd(), newResetSigningKeysCmd(), newConfigCmd(), newGenerateCmd(), newTemplatesCmd()}
	for _, c := range local {
		markLocal(c)
	}
	root.AddCommand(local...)
	cli.AddCommands(root)
	return root
}
