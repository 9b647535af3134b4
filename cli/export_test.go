package cli

import (
	"time"

	"github.com/spf13/cobra"
)

// AddCommandsForTest is AddCommands with the environment read from getenv,
// a 1 ms poll interval, and stdin/stdout treated as a terminal or not.
func AddCommandsForTest(root *cobra.Command, getenv func(string) string, terminal bool) {
	AddCommandsForTestBrowser(root, getenv, terminal, nil)
}

// AddCommandsForTestBrowser is AddCommandsForTest with browser opening the
// URLs 'kiln login --oidc' would open.
func AddCommandsForTestBrowser(root *cobra.Command, getenv func(string) string, terminal bool, browser func(string)) {
	e := defaultEnv()
	e.browser = browser
	e.getenv = getenv
	e.pollInterval = time.Millisecond
	e.isTerminal = func(any) bool { return terminal }
	addCommands(root, e)
}
