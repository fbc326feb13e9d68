// Command privlink is the one binary: the server (serve), its environment
// (env), and an armclient-style client (login, get, put, patch, post, delete)
// with task commands for managed private endpoints (mpe), private endpoint
// connections (pec), deployments (deploy), the directory's service
// principals and users (sp, user), role-based access control (role), and
// the data path (network, egress, backend, diagnose).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

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
	root.SetArgs(hoistClientFlags(root, args))
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
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprint(stderr, "\n"+ue.cmd.UsageString())
	}
	return 2
}

// globals are the options the client commands share.
type globals struct {
	profile string
	verbose bool
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	root := group(&cobra.Command{
		Use:           "privlink",
		Short:         "A local Azure Resource Manager for Azure Data Explorer managed private endpoints",
		SilenceUsage:  true,
		SilenceErrors: true,
	})
	login := loginCmd(g)
	root.AddCommand(serveCmd(g), envCmd(g), login)
	// --profile and --verbose are declared only where they do something:
	// login writes the profile; the client commands read it and print the
	// HTTP exchange with --verbose. serve and env do neither.
	g.profileFlag(login)
	for _, c := range restCmds(g) {
		g.clientFlags(c)
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{mpeCmd(g), pecCmd(g), deployCmd(g), spCmd(g), userCmd(g), roleCmd(g), networkCmd(g), egressCmd(g), backendCmd(g), diagnoseCmd(g)} {
		g.clientFlags(c) // persistent: every sub-command has them
		root.AddCommand(c)
	}
	return root
}

// profileFlag declares --profile on cmd and its sub-commands.
func (g *globals) profileFlag(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&g.profile, "profile", "", "profile file written by 'privlink login' (default $PRIVLINK_PROFILE, else one per server: ~/.config/privlink/profiles/HOST_PORT.json)")
}

// clientFlags declares the client commands' --profile and --verbose on cmd
// and its sub-commands.
func (g *globals) clientFlags(cmd *cobra.Command) {
	g.profileFlag(cmd)
	cmd.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "print the HTTP status and response headers to stderr")
}

// hoistClientFlags moves --profile and --verbose given before the command
// name ("privlink -v get PATH", as they worked when they were global) to
// just after it, where the command that declares them parses them. A command
// that does not declare them then refuses them ("unknown flag"), as it
// should: they would do nothing there.
func hoistClientFlags(root *cobra.Command, args []string) []string {
	var lead []string
	i := 0
	for i < len(args) {
		a := args[i]
		if a == "-v" || a == "--verbose" || strings.HasPrefix(a, "--verbose=") || strings.HasPrefix(a, "--profile=") {
			lead = append(lead, a)
			i++
			continue
		}
		if a == "--profile" && i+1 < len(args) {
			lead = append(lead, a, args[i+1])
			i += 2
			continue
		}
		break
	}
	if len(lead) == 0 {
		return args
	}
	rest := args[i:]
	n := 0 // the words of rest that name a command
	for cmd := root; n < len(rest); n++ {
		next := subCommand(cmd, rest[n])
		if next == nil {
			break
		}
		cmd = next
	}
	out := append([]string(nil), rest[:n]...)
	out = append(out, lead...)
	return append(out, rest[n:]...)
}

// subCommand is cmd's sub-command called name (or one of its aliases), or nil.
func subCommand(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name || c.HasAlias(name) {
			return c
		}
	}
	return nil
}

// usageError is a command line that names no command or takes the wrong
// arguments; Main prints the usage of cmd after it.
type usageError struct {
	cmd *cobra.Command
	msg string
}

func (e *usageError) Error() string { return e.msg }

// group makes cmd a command that only holds sub-commands. Alone it shows its
// help; followed by anything else it is a usage error (exit 2) that suggests
// the sub-command meant. (cobra would print the help of a command without
// Run and succeed, whatever followed it: "privlink mpe bogus" exited 0.)
func group(cmd *cobra.Command) *cobra.Command {
	cmd.DisableFlagsInUseLine = true
	cmd.SuggestionsMinimumDistance = 2 // cobra's default, which it sets for the root only
	// A mistyped sub-command arrives with the flags of the one meant
	// ("mpe lsit --cluster c"): the group must not fail on those flags
	// before it can say which sub-command was meant.
	cmd.FParseErrWhitelist = cobra.FParseErrWhitelist{UnknownFlags: true}
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
		}
		return &usageError{cmd: c, msg: msg}
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	return cmd
}
