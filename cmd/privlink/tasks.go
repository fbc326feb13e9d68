package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/catalog"
	"github.com/spf13/cobra"
)

// endpointAPIVersion is the Kusto api-version the task commands speak.
const endpointAPIVersion = "2024-04-13"

// clusterRef names a cluster by id, or by name with a resource group.
type clusterRef struct{ cluster, group, subscription string }

func (r *clusterRef) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&r.cluster, "cluster", "", "the cluster: a resource id, or a name with --resource-group")
	cmd.Flags().StringVarP(&r.group, "resource-group", "g", "", "the cluster's resource group (when --cluster is a name)")
	cmd.Flags().StringVar(&r.subscription, "subscription", "", "the cluster's subscription (default: the profile's)")
	_ = cmd.MarkFlagRequired("cluster")
}

func (r *clusterRef) id(p *profile) (arm.ResourceID, error) {
	if strings.HasPrefix(r.cluster, "/") {
		id, err := arm.ParseResourceID(r.cluster)
		if err != nil {
			return arm.ResourceID{}, fmt.Errorf("--cluster: %s", err.Message)
		}
		return id, nil
	}
	if r.group == "" {
		return arm.ResourceID{}, fmt.Errorf("--cluster %q is a name: give its --resource-group too, or pass its resource id", r.cluster)
	}
	sub := r.subscription
	if sub == "" {
		sub = p.Subscription
	}
	return arm.ResourceID{Subscription: sub, ResourceGroup: r.group, Namespace: "Microsoft.Kusto", Types: []string{"clusters"}, Names: []string{r.cluster}}, nil
}

// connect signs in and resolves the cluster reference.
func (r *clusterRef) connect(g *globals) (*client, arm.ResourceID, error) {
	c, err := g.client()
	if err != nil {
		return nil, arm.ResourceID{}, err
	}
	id, err := r.id(c.p)
	return c, id, err
}

// remove DELETEs path and, with wait, follows it until it is gone. missing
// is said when there was nothing to delete (existed is false then), done
// when the delete went through.
func (c *client) remove(path, missing, done string, wait bool) (existed bool, err error) {
	r, err := c.do(http.MethodDelete, path, nil)
	if err != nil {
		return false, err
	}
	if !r.OK() {
		printJSON(c.g.stdout, r.Body)
		return false, &exitError{code: 1}
	}
	if r.Status == http.StatusNoContent && r.Resent {
		// The first try's answer was lost, and that try deleted it (a
		// DELETE resent while its deletion runs is answered 202 again).
		fmt.Fprintln(c.g.stderr, "deleted")
		return true, nil
	}
	if r.Status == http.StatusNoContent {
		fmt.Fprintln(c.g.stderr, missing)
		return false, nil
	}
	if wait && r.Status == http.StatusAccepted {
		return true, c.waitFor(path, true, 10*time.Minute)
	}
	fmt.Fprintln(c.g.stderr, done)
	return true, nil
}

func withVersion(id, v string) string { return id + "?api-version=" + url.QueryEscape(v) }

// endpointState is the server's /_privlink/endpoints answer.
type endpointState struct {
	ID                    string   `json:"id"`
	ProvisioningState     string   `json:"provisioningState"`
	PrivateLinkResourceID string   `json:"privateLinkResourceId"`
	GroupID               string   `json:"groupId"`
	ConnectionID          string   `json:"connectionId"`
	ConnectionState       string   `json:"connectionState"`
	Description           string   `json:"description"`
	PrivateEndpointID     string   `json:"privateEndpointId"`
	Notes                 []string `json:"notes"`
}

func (c *client) endpointState(id string) (*endpointState, error) {
	var st endpointState
	if err := c.getJSON("/_privlink/endpoints?id="+url.QueryEscape(id), &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// waitFor polls path until its provisioningState is terminal (or it is gone
// when gone is true), printing each new state.
func (c *client) waitFor(path string, gone bool, timeout time.Duration) error {
	return c.poll(path, "provisioningState", timeout, func(r *response) (string, bool, error) {
		switch {
		case r.Status == http.StatusNotFound && gone:
			fmt.Fprintln(c.g.stderr, "deleted")
			return "", true, nil
		case !r.OK():
			return "", false, armFailure(r)
		}
		var doc struct {
			Properties struct {
				ProvisioningState string `json:"provisioningState"`
			} `json:"properties"`
		}
		_ = json.Unmarshal(r.Body, &doc)
		state := doc.Properties.ProvisioningState
		if gone || !arm.IsTerminal(state) {
			return state, false, nil
		}
		if !strings.EqualFold(state, arm.StateSucceeded) {
			// The server answered 200; the failure is in the document.
			// No HTTP status is made up for it.
			return state, true, &serverError{msg: "provisioning ended in state " + state}
		}
		return state, true, nil
	})
}

// poll GETs url every 250 ms until step says it is done (or fails),
// printing "what: state" on stderr each time the state step read changes,
// and gives up after timeout.
func (c *client) poll(url, what string, timeout time.Duration, step func(r *response) (state string, done bool, err error)) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		r, err := c.do(http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		state, done, err := step(r)
		// A step that ends without a state (a resource gone) says its own.
		if state != last && !(done && state == "") {
			fmt.Fprintf(c.g.stderr, "%s: %s\n", what, state)
			last = state
		}
		if done || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up waiting after %s (%s %q)", timeout, what, state)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitForAnswer follows what an accepted write answered until it ends:
// its operation's status URL (Azure-AsyncOperation) when the answer names
// one, as the SDKs' pollers do, else the resource's provisioningState at
// path. A SQL server's connection answers 202 with an operation and keeps
// provisioningState "Ready", which is none of ARM's terminal states: only
// its operation says when it is done.
func (c *client) waitForAnswer(r *response, path string, timeout time.Duration) error {
	op := r.Header.Get("Azure-AsyncOperation")
	if op == "" {
		return c.waitFor(path, false, timeout)
	}
	return c.poll(op, "operation", timeout, func(r *response) (string, bool, error) {
		if !r.OK() {
			return "", false, armFailure(r)
		}
		var st struct {
			Status string `json:"status"`
			Error  struct {
				Code, Message string
			} `json:"error"`
		}
		_ = json.Unmarshal(r.Body, &st)
		if !arm.IsTerminal(st.Status) {
			return st.Status, false, nil
		}
		if !strings.EqualFold(st.Status, arm.StateSucceeded) {
			return st.Status, true, &serverError{msg: "the operation ended " + st.Status + ": " + st.Error.Code + ": " + st.Error.Message}
		}
		return st.Status, true, nil
	})
}

func mpeCmd(g *globals) *cobra.Command {
	cmd := group(&cobra.Command{Use: "mpe", Short: "Managed private endpoints of a Kusto cluster"})
	cmd.AddCommand(mpeCreate(g), mpeList(g), mpeShow(g), mpeDelete(g))
	return cmd
}

func mpeCreate(g *globals) *cobra.Command {
	var ref clusterRef
	var target, group, message, region string
	var wait bool
	cmd := &cobra.Command{
		Use:   "create NAME --cluster CLUSTER --target RESOURCE_ID --group-id GROUP",
		Short: "Create a managed private endpoint (approved at once if you may approve on the target, else Pending for its owner)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cid, err := ref.connect(g)
			if err != nil {
				return err
			}
			props := map[string]string{"privateLinkResourceId": target, "groupId": group}
			if message != "" {
				props["requestMessage"] = message
			}
			if region != "" {
				props["privateLinkResourceRegion"] = region
			}
			body, _ := arm.Marshal(map[string]any{"properties": props})
			id := cid.String() + "/managedPrivateEndpoints/" + args[0]
			r, err := c.do(http.MethodPut, withVersion(id, endpointAPIVersion), body)
			if err == nil {
				r, err = c.afterLostPut(r, withVersion(id, endpointAPIVersion))
			}
			if err != nil {
				return err
			}
			if !r.OK() {
				printJSON(g.stdout, r.Body)
				return &exitError{code: 1}
			}
			if wait {
				if err := c.waitFor(withVersion(id, endpointAPIVersion), false, 10*time.Minute); err != nil {
					return err
				}
				if r, err = c.do(http.MethodGet, withVersion(id, endpointAPIVersion), nil); err != nil {
					return err
				}
			}
			printJSON(g.stdout, r.Body)
			return c.printNotes(id)
		},
	}
	ref.flags(cmd)
	cmd.Flags().StringVar(&target, "target", "", "resource id of the private link resource (storage account, Event Hubs namespace, ...)")
	cmd.Flags().StringVar(&group, "group-id", "", "sub-resource: blob, dfs, namespace, iotHub, vault, sqlServer, cluster or digitaltwinsinstance")
	cmd.Flags().StringVar(&message, "message", "", "request message the target's owner sees")
	cmd.Flags().StringVar(&region, "region", "", "region of the private link resource")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until provisioning ends, showing progress")
	_ = cmd.MarkFlagRequired("target")
	_ = cmd.MarkFlagRequired("group-id")
	return cmd
}

// printNotes prints the connection state and the server's notes about an endpoint to stderr.
func (c *client) printNotes(id string) error {
	st, err := c.endpointState(id)
	if err != nil {
		return err
	}
	if st.ConnectionState != "" {
		fmt.Fprintf(c.g.stderr, "connection: %s on %s\n", st.ConnectionState, st.PrivateLinkResourceID)
	}
	for _, n := range st.Notes {
		fmt.Fprintf(c.g.stderr, "note: %s\n", n)
	}
	return nil
}

func mpeList(g *globals) *cobra.Command {
	var ref clusterRef
	cmd := &cobra.Command{
		Use:   "list --cluster CLUSTER",
		Short: "List a cluster's managed private endpoints with their connection states",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, cid, err := ref.connect(g)
			if err != nil {
				return err
			}
			var out struct {
				Value []endpointState `json:"value"`
			}
			if err := c.getJSON("/_privlink/endpoints?cluster="+url.QueryEscape(cid.String()), &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tGROUP\tPROVISIONING\tCONNECTION\tTARGET")
			for _, e := range out.Value {
				name := e.ID[strings.LastIndexByte(e.ID, '/')+1:]
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, e.GroupID, e.ProvisioningState, e.ConnectionState, e.PrivateLinkResourceID)
			}
			tw.Flush()
			for _, e := range out.Value {
				for _, n := range e.Notes {
					fmt.Fprintf(g.stderr, "note (%s): %s\n", e.ID[strings.LastIndexByte(e.ID, '/')+1:], n)
				}
			}
			return nil
		},
	}
	ref.flags(cmd)
	return cmd
}

func mpeShow(g *globals) *cobra.Command {
	var ref clusterRef
	cmd := &cobra.Command{
		Use:   "show NAME --cluster CLUSTER",
		Short: "Show a managed private endpoint; the \"privlink\" member adds its connection state, notes and network details (address, customDnsConfigs)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cid, err := ref.connect(g)
			if err != nil {
				return err
			}
			id := cid.String() + "/managedPrivateEndpoints/" + args[0]
			// The document in ARM's order, as GET serves it.
			var doc arm.Object
			if err := c.getJSON(withVersion(id, endpointAPIVersion), &doc); err != nil {
				return err
			}
			st, err := c.endpointState(id)
			if err != nil {
				return err
			}
			// privlink's view: the connection state and notes, and the
			// endpoint's network details (its private address and
			// customDnsConfigs), which the Kusto API does not have.
			var extra arm.Object
			sb, _ := json.Marshal(st)
			_ = json.Unmarshal(sb, &extra)
			if st.Notes == nil {
				extra.SetValue("notes", []string{})
			}
			var network json.RawMessage
			if err := c.getJSON("/_privlink/network?id="+url.QueryEscape(id), &network); err == nil {
				extra.Set("network", network)
			}
			doc.SetObject("privlink", &extra)
			b, _ := doc.MarshalJSON()
			printJSON(g.stdout, b)
			for _, n := range st.Notes {
				fmt.Fprintf(g.stderr, "note: %s\n", n)
			}
			return nil
		},
	}
	ref.flags(cmd)
	return cmd
}

func mpeDelete(g *globals) *cobra.Command {
	var ref clusterRef
	var wait bool
	cmd := &cobra.Command{
		Use:   "delete NAME --cluster CLUSTER",
		Short: "Delete a managed private endpoint (its connection leaves the target)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cid, err := ref.connect(g)
			if err != nil {
				return err
			}
			_, err = c.remove(withVersion(cid.String()+"/managedPrivateEndpoints/"+args[0], endpointAPIVersion), "no such managed private endpoint: nothing to delete", "deletion accepted", wait)
			return err
		},
	}
	ref.flags(cmd)
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the endpoint is gone")
	return cmd
}

// connectionAPIVersion finds the newest api-version the server offers for a
// target type's privateEndpointConnections, as az does from the provider.
func (c *client) connectionAPIVersion(target arm.ResourceID) (string, error) {
	var prov struct {
		ResourceTypes []struct {
			ResourceType string   `json:"resourceType"`
			APIVersions  []string `json:"apiVersions"`
		} `json:"resourceTypes"`
	}
	path := "/subscriptions/" + target.SubscriptionID() + "/providers/" + target.Namespace + "?api-version=2021-04-01"
	want := strings.Join(target.Types, "/") + "/privateEndpointConnections"
	if err := c.getJSON(path, &prov); err != nil {
		// A principal may hold rights on the target alone (its
		// connections' approval, say) and none to read the
		// subscription's providers. Azure's own versions of the type (the
		// catalog) stand in, so that the request the principal may make is
		// made, and answered.
		var se *serverError
		if errors.As(err, &se) && se.status == http.StatusForbidden {
			if v := newestStable(catalog.Versions(target.Namespace + "/" + want)); v != "" {
				return v, nil
			}
		}
		return "", err
	}
	for _, rt := range prov.ResourceTypes {
		if strings.EqualFold(rt.ResourceType, want) && len(rt.APIVersions) > 0 {
			return newestStable(rt.APIVersions), nil
		}
	}
	return "", fmt.Errorf("%s does not accept private endpoint connections", target.Type())
}

// newestStable is the newest of versions that is not a preview, else the
// newest preview ("" when versions is empty).
func newestStable(versions []string) string {
	if len(versions) == 0 {
		return ""
	}
	vs := append([]string(nil), versions...)
	sort.Sort(sort.Reverse(sort.StringSlice(vs)))
	for _, v := range vs {
		if !strings.Contains(v, "preview") {
			return v
		}
	}
	return vs[0]
}
