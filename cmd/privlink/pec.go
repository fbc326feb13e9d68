package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/arm"
	"github.com/spf13/cobra"
)

func pecCmd(g *globals) *cobra.Command {
	cmd := group(&cobra.Command{Use: "pec", Short: "Private endpoint connections on a private link resource (the target's owner side)"})
	cmd.AddCommand(pecList(g),
		pecSet(g, "approve", "Approved", "Approve a pending connection"),
		pecSet(g, "reject", "Rejected", "Reject a connection"),
		pecRemove(g))
	return cmd
}

// connectTarget signs in, parses the target's id and finds the api-version
// of its private endpoint connections.
func connectTarget(g *globals, resource string) (*client, arm.ResourceID, string, error) {
	c, err := g.client()
	if err != nil {
		return nil, arm.ResourceID{}, "", err
	}
	tid, err := targetID(resource)
	if err != nil {
		return nil, arm.ResourceID{}, "", err
	}
	v, err := c.connectionAPIVersion(tid)
	return c, tid, v, err
}

func targetID(s string) (arm.ResourceID, error) {
	id, err := arm.ParseResourceID(s)
	if err != nil || len(id.Types) == 0 {
		return arm.ResourceID{}, fmt.Errorf("--resource must be the resource id of a private link resource, got %q", s)
	}
	return id, nil
}

type connection struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		PrivateEndpoint struct {
			ID string `json:"id"`
		} `json:"privateEndpoint"`
		State struct {
			Status      string `json:"status"`
			Description string `json:"description"`
		} `json:"privateLinkServiceConnectionState"`
		ProvisioningState string `json:"provisioningState"`
	} `json:"properties"`
}

// endpoint is the name of the managed private endpoint that made the
// connection: its private endpoint is named {cluster}.{endpoint}.
func (pc *connection) endpoint() (cluster, endpoint string) {
	pe := pc.Properties.PrivateEndpoint.ID
	pe = pe[strings.LastIndexByte(pe, '/')+1:]
	cluster, endpoint, _ = strings.Cut(pe, ".")
	return cluster, endpoint
}

// listConnections GETs the connections of target. Most types answer
// {"value": [...]}, IoT hubs a bare array: both are read.
func (c *client) listConnections(target arm.ResourceID, version string) ([]connection, error) {
	var raw json.RawMessage
	if err := c.getJSON(withVersion(target.String()+"/privateEndpointConnections", version), &raw); err != nil {
		return nil, err
	}
	var list []connection
	if arm.Kind(raw) == "array" {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("the server's list of connections: %w", err)
		}
		return list, nil
	}
	var page struct {
		Value []connection `json:"value"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return nil, fmt.Errorf("the server's list of connections: %w", err)
	}
	return page.Value, nil
}

// connectionShape is how a connection's name is made, for messages.
const connectionShape = "{cluster}.{endpoint}.{guid}, as 'privlink pec list' shows"

// resolveConnection finds the connection arg names among conns: the
// connection's own name ({cluster}.{endpoint}.{guid}), or the name of the
// managed private endpoint that made it ({endpoint}, or {cluster}.{endpoint})
// when that matches exactly one connection. ok is false when nothing
// matches: the caller sends arg as it is and lets the server answer. Several
// matches are a usage error that lists them.
func resolveConnection(arg string, conns []connection) (name string, ok bool, err error) {
	for _, pc := range conns {
		if strings.EqualFold(pc.Name, arg) {
			return pc.Name, true, nil
		}
	}
	var matches []connection
	for _, pc := range conns {
		cluster, endpoint := pc.endpoint()
		if endpoint != "" && (strings.EqualFold(arg, endpoint) || strings.EqualFold(arg, cluster+"."+endpoint)) {
			matches = append(matches, pc)
		}
	}
	switch len(matches) {
	case 0:
		return arg, false, nil
	case 1:
		return matches[0].Name, true, nil
	}
	return "", false, fmt.Errorf("%q is the managed private endpoint of %d connections here; name one of them (%s):\n%s", arg, len(matches), connectionShape, describeConnections(matches))
}

// describeConnections lists connections one a line, for messages.
func describeConnections(conns []connection) string {
	if len(conns) == 0 {
		return "  (this resource has no connections)"
	}
	var b strings.Builder
	for i, pc := range conns {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "  %s  (%s", pc.Name, pc.Properties.State.Status)
		if cluster, endpoint := pc.endpoint(); endpoint != "" {
			fmt.Fprintf(&b, ", from managed private endpoint '%s' of cluster '%s'", endpoint, cluster)
		}
		b.WriteByte(')')
	}
	return b.String()
}

// noConnection says that target has no connection named arg, what a name
// looks like, and which connections it has.
func noConnection(arg string, target arm.ResourceID, conns []connection) string {
	return fmt.Sprintf("no connection named %q on %s. A connection's name looks like %s; the name of the managed private endpoint works too when it made exactly one connection here. Connections:\n%s",
		arg, target.String(), connectionShape, describeConnections(conns))
}

// linkTarget is a private link resource as its owner's commands see it:
// signed in, with its connections' api-version and its connections.
type linkTarget struct {
	c       *client
	id      arm.ResourceID
	version string
	conns   []connection
	// unlisted is why the connections could not be listed (nil: they
	// were): the signed-in principal may not read them.
	unlisted error
}

// openTarget signs in and lists the connections of the resource --resource
// names. A principal that may not list them may still hold what approving,
// rejecting or removing one takes (the connection's write or delete, or
// privateEndpointConnectionsApproval/action, which grants no read): then
// the connections stay unlisted, NAME is sent as it is, and the server
// decides.
func openTarget(g *globals, resource string) (*linkTarget, error) {
	c, tid, v, err := connectTarget(g, resource)
	if err != nil {
		return nil, err
	}
	conns, err := c.listConnections(tid, v)
	var se *serverError
	if errors.As(err, &se) && se.status == http.StatusForbidden {
		return &linkTarget{c: c, id: tid, version: v, unlisted: err}, nil
	}
	if err != nil {
		return nil, err
	}
	return &linkTarget{c: c, id: tid, version: v, conns: conns}, nil
}

// status is the state of t's connection name as listed ("" when it was
// not).
func (t *linkTarget) status(name string) string {
	for _, pc := range t.conns {
		if strings.EqualFold(pc.Name, name) {
			return pc.Properties.State.Status
		}
	}
	return ""
}

// refusalHint explains a 400 to a change of a connection from state from
// to status want, as azure-cli's storage module explains Microsoft.Storage's
// terse "Values for request parameters are invalid" ("Your connection is
// already approved", "You cannot approve the connection request after
// rejection"); "" when there is nothing to add.
func refusalHint(from, want string) string {
	switch {
	case from == want:
		return "the connection is already " + strings.ToLower(want)
	case from == "Rejected":
		return "the connection was rejected, and a rejected connection cannot change state again (as in Azure): delete the managed private endpoint and create it again to ask anew"
	}
	return ""
}

// noConnection says that t has no connection named arg, as noConnection
// does, or, when t's connections could not be listed, why.
func (t *linkTarget) noConnection(arg string) string {
	if t.unlisted != nil {
		return fmt.Sprintf("no connection named %q on %s (a connection's name looks like %s; its list is not readable here: %v)", arg, t.id.String(), connectionShape, t.unlisted)
	}
	return noConnection(arg, t.id, t.conns)
}

// connectionPath is the path of connection name, with the api-version.
func (t *linkTarget) connectionPath(name string) string {
	return withVersion(t.id.String()+"/privateEndpointConnections/"+name, t.version)
}

// resolve is resolveConnection on t's connections, saying on stderr which
// connection an endpoint's name stood for.
//
// When t's connections could not be listed, only a connection's own name
// is taken: an endpoint's name cannot be resolved, and sent as it is it
// would name nothing, which a DELETE answers with success (204).
func (t *linkTarget) resolve(g *globals, arg string) (name string, found bool, err error) {
	if t.unlisted != nil && !connectionName(arg) {
		return "", false, fmt.Errorf("%q is not a connection's name (%s), and the connections of %s cannot be listed here to find the one it stands for: %v", arg, connectionShape, t.id.String(), t.unlisted)
	}
	name, found, err = resolveConnection(arg, t.conns)
	if found && !strings.EqualFold(name, arg) {
		fmt.Fprintf(g.stderr, "connection of managed private endpoint %q: %s\n", arg, name)
	}
	return name, found, err
}

// connectionName reports whether s has the shape of a connection's name:
// privlink names every connection {private endpoint's name}.{GUID}.
func connectionName(s string) bool {
	i := strings.LastIndexByte(s, '.')
	if i <= 0 {
		return false
	}
	_, err := uuid.Parse(s[i+1:])
	return err == nil && len(s)-i-1 == 36
}

// descriptionWidth is how much of a description 'pec list' shows in its table.
const descriptionWidth = 60

// cell makes s fit a table cell: control characters (a line break would
// break the row) become spaces, and text over width characters is cut with
// an ellipsis; cut reports whether it was.
func cell(s string, width int) (out string, cut bool) {
	r := []rune(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
	if len(r) <= width {
		return string(r), false
	}
	return string(r[:width-1]) + "…", true
}

func pecList(g *globals) *cobra.Command {
	var resource string
	cmd := &cobra.Command{
		Use:   "list --resource RESOURCE_ID",
		Short: "List the private endpoint connections of a resource",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := openTarget(g, resource)
			if err != nil {
				return err
			}
			if t.unlisted != nil {
				return t.unlisted
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATUS\tDESCRIPTION\tPRIVATE ENDPOINT")
			shortened := false
			for _, pc := range t.conns {
				desc, cut := cell(pc.Properties.State.Description, descriptionWidth)
				shortened = shortened || cut
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", pc.Name, pc.Properties.State.Status, desc, pc.Properties.PrivateEndpoint.ID)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if shortened {
				fmt.Fprintf(g.stderr, "note: descriptions over %d characters are shortened; 'privlink get %s' shows them whole\n",
					descriptionWidth, withVersion(t.id.String()+"/privateEndpointConnections", t.version))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&resource, "resource", "", "resource id of the private link resource")
	_ = cmd.MarkFlagRequired("resource")
	return cmd
}

func pecSet(g *globals, verb, status, short string) *cobra.Command {
	var resource, description string
	var wait bool
	cmd := &cobra.Command{
		Use:   verb + " NAME --resource RESOURCE_ID",
		Short: short,
		Long: short + ` on the private link resource --resource. NAME is the connection's name
(` + connectionShape + `), or the name of the managed private endpoint
that made it when that made exactly one connection on the resource.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := openTarget(g, resource)
			if err != nil {
				return err
			}
			name, found, err := t.resolve(g, args[0])
			if err != nil {
				return err
			}
			if description == "" {
				description = status + " with privlink"
			}
			body, _ := arm.Marshal(map[string]any{"properties": map[string]any{
				"privateLinkServiceConnectionState": map[string]string{"status": status, "description": description},
			}})
			path := t.connectionPath(name)
			r, err := t.c.do(http.MethodPut, path, body)
			if err != nil {
				return err
			}
			printJSON(g.stdout, r.Body)
			if !r.OK() {
				if r.Status == http.StatusNotFound && !found {
					fmt.Fprintf(g.stderr, "privlink: %s\n", t.noConnection(args[0]))
				}
				if hint := refusalHint(t.status(name), status); r.Status == http.StatusBadRequest && hint != "" {
					fmt.Fprintf(g.stderr, "privlink: %s\n", hint)
				}
				return &exitError{code: 1}
			}
			if wait {
				return t.c.waitForAnswer(r, path, 10*time.Minute)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&resource, "resource", "", "resource id of the private link resource")
	cmd.Flags().StringVar(&description, "description", "", "the reason, shown with the connection state")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the connection's provisioning ends")
	_ = cmd.MarkFlagRequired("resource")
	return cmd
}

func pecRemove(g *globals) *cobra.Command {
	var resource string
	var wait bool
	cmd := &cobra.Command{
		Use:   "remove NAME --resource RESOURCE_ID",
		Short: "Remove a connection (the managed private endpoint then reads Disconnected)",
		Long: `Remove a connection from the private link resource --resource; the managed private
endpoint that made it then reads Disconnected. NAME is the connection's name
(` + connectionShape + `), or the name of the managed private endpoint
that made it when that made exactly one connection on the resource.

Removing a connection that does not exist succeeds (exit status 0), as ARM's
DELETE does, so that a script can make sure a connection is gone; it says
so on stderr and lists the connections the resource has, in case the name
was mistyped.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := openTarget(g, resource)
			if err != nil {
				return err
			}
			name, _, err := t.resolve(g, args[0])
			if err != nil {
				return err
			}
			// One message when there was nothing to remove (not a second,
			// error-like line after it): the exit status is 0.
			missing := "nothing to remove: " + t.noConnection(args[0])
			_, err = t.c.remove(t.connectionPath(name), missing, "removed "+name, wait)
			return err
		},
	}
	cmd.Flags().StringVar(&resource, "resource", "", "resource id of the private link resource")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the connection is gone")
	_ = cmd.MarkFlagRequired("resource")
	return cmd
}
