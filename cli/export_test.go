package cli

import (
	"time"

	"github.com/spf13/cobra"
)

// AddCommandsForTest is AddCommands with the environment read from getenv,
// a 1 ms poll interval, and stdin/stdout treated as a terminal or not.
func AddCommandsForTest(root *cobra.Command, getenv func(string) string, terminal bool) {
	e := defaultEnv()
	e.getenv = getenv
	e.pollInterval = time.Millisecond
	e.isTerminal = func(any) bool { return terminal }
	addCommands(root, e)
}
