package main

import (
	"fmt"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/privlink/privlink/internal/arm"
	"github.com/spf13/cobra"
)

func pecCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "pec", Short: "Private endpoint connections on a private link resource (the target's owner side)"}
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

func pecList(g *globals) *cobra.Command {
	var resource string
	cmd := &cobra.Command{
		Use:   "list --resource RESOURCE_ID",
		Short: "List the private endpoint connections of a resource",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tid, v, err := connectTarget(g, resource)
			if err != nil {
				return err
			}
			var out struct {
				Value []connection `json:"value"`
			}
			if err := c.getJSON(withVersion(tid.String()+"/privateEndpointConnections", v), &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATUS\tDESCRIPTION\tPRIVATE ENDPOINT")
			for _, pc := range out.Value {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", pc.Name, pc.Properties.State.Status, pc.Properties.State.Description, pc.Properties.PrivateEndpoint.ID)
			}
			return tw.Flush()
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
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, tid, v, err := connectTarget(g, resource)
			if err != nil {
				return err
			}
			if description == "" {
				description = status + " with privlink"
			}
			body, _ := arm.Marshal(map[string]any{"properties": map[string]any{
				"privateLinkServiceConnectionState": map[string]string{"status": status, "description": description},
			}})
			path := withVersion(tid.String()+"/privateEndpointConnections/"+args[0], v)
			r, err := c.do(http.MethodPut, path, body)
			if err != nil {
				return err
			}
			printJSON(g.stdout, r.Body)
			if !r.OK() {
				return &exitError{code: 1}
			}
			if wait {
				return c.waitFor(path, false, 10*time.Minute)
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
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, tid, v, err := connectTarget(g, resource)
			if err != nil {
				return err
			}
			return c.remove(withVersion(tid.String()+"/privateEndpointConnections/"+args[0], v), "no such connection: nothing to remove", "removed "+args[0], wait)
		},
	}
	cmd.Flags().StringVar(&resource, "resource", "", "resource id of the private link resource")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the connection is gone")
	_ = cmd.MarkFlagRequired("resource")
	return cmd
}
