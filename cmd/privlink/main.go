// Command privlink is the one binary: the server (serve), its environment
// (env), and an armclient-style client (login, get, put, patch, post, delete)
// with task commands for managed private endpoints (mpe) and private endpoint
// connections (pec).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// exitError carries a process exit code out of a command.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Main runs the command line and returns the exit code: 0 on success, 1 when
// the server answered with an error, 2 for a usage or local error.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var se *serverError
	if errors.As(err, &se) {
		fmt.Fprintln(stderr, "privlink:", err)
		return 1
	}
	fmt.Fprintln(stderr, "privlink:", err)
	return 2
}

// globals are the options every client command shares.
type globals struct {
	profile string
	verbose bool
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "privlink",
		Short:         "A local Azure Resource Manager for Azure Data Explorer managed private endpoints",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.profile, "profile", "", "profile file written by 'privlink login' (default $PRIVLINK_PROFILE or ~/.config/privlink/profile.json)")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "print the HTTP status and response headers to stderr")
	root.AddCommand(serveCmd(g), envCmd(g), loginCmd(g))
	root.AddCommand(restCmds(g)...)
	root.AddCommand(mpeCmd(g), pecCmd(g))
	return root
}
