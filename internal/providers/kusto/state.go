package kusto

import (
	"context"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/providers/privatelink"
	"github.com/privlink/privlink/internal/resource"
)

// EndpointState is what privlink knows of a managed private endpoint beyond
// its ARM document: the state of its connection on the target, which the
// Kusto API does not show, and plain-language notes for people.
type EndpointState struct {
	ID                    string   `json:"id"`
	ProvisioningState     string   `json:"provisioningState"`
	PrivateLinkResourceID string   `json:"privateLinkResourceId"`
	GroupID               string   `json:"groupId"`
	ConnectionID          string   `json:"connectionId,omitempty"`
	ConnectionState       string   `json:"connectionState,omitempty"`
	Description           string   `json:"description,omitempty"`
	PrivateEndpointID     string   `json:"privateEndpointId,omitempty"`
	Notes                 []string `json:"notes,omitempty"`
}

// DFSNote is said of a dfs endpoint with no blob endpoint to the same account.
const DFSNote = "dfs traffic to a storage account also needs a managed private endpoint to its 'blob' sub-resource; this cluster has none to this account. Create one with groupId 'blob'."

// Endpoints returns the state of every managed private endpoint of a cluster.
func Endpoints(ctx context.Context, e *resource.Engine, cluster arm.ResourceID) ([]EndpointState, error) {
	var out []EndpointState
	err := e.View(ctx, func(c *resource.Ctx) error {
		if _, err := c.LoadKey(cluster.Key()); err != nil {
			if resource.IsNotFound(err) {
				// What the API says of the cluster: its subscription or
				// group may be what is missing.
				return c.NotFound(cluster)
			}
			return err
		}
		docs, err := c.Children(cluster, EndpointType)
		if err != nil {
			return err
		}
		for _, d := range docs {
			out = append(out, stateOf(d, docs))
		}
		return nil
	})
	return out, err
}

// Endpoint returns the state of one managed private endpoint.
func Endpoint(ctx context.Context, e *resource.Engine, id arm.ResourceID) (EndpointState, error) {
	var out EndpointState
	err := e.View(ctx, func(c *resource.Ctx) error {
		d, err := c.LoadKey(id.Key())
		if resource.IsNotFound(err) {
			return c.NotFound(id)
		}
		if err == nil && !strings.EqualFold(d.Kind.Type, EndpointType) {
			return arm.Errorf(arm.CodeResourceNotFound, "The managed private endpoint '%s' was not found.", id.String())
		}
		if err != nil {
			return err
		}
		siblings, err := c.Children(d.ID.Parent(), EndpointType)
		if err != nil {
			return err
		}
		out = stateOf(d, siblings)
		return nil
	})
	return out, err
}

func stateOf(d *resource.Doc, siblings []*resource.Doc) EndpointState {
	p := d.Props()
	s := EndpointState{ID: d.ID.String(), ProvisioningState: d.State()}
	s.PrivateLinkResourceID, _, _ = p.String("privateLinkResourceId")
	s.GroupID, _, _ = p.String("groupId")
	if l, ok := privatelink.LinkOf(d); ok {
		s.ConnectionID, s.ConnectionState, s.Description, s.PrivateEndpointID = l.Connection, l.Status, l.Description, l.PrivateEndpoint
	}
	// A Disconnected endpoint carries no traffic (its target may be gone):
	// what dfs traffic would need is beside the point then.
	if strings.EqualFold(s.GroupID, "dfs") && s.ConnectionState != privatelink.Disconnected && !hasBlob(s.PrivateLinkResourceID, siblings) {
		s.Notes = append(s.Notes, DFSNote)
	}
	return s
}

func hasBlob(target string, siblings []*resource.Doc) bool {
	for _, o := range siblings {
		t, _, _ := o.Props().String("privateLinkResourceId")
		g, _, _ := o.Props().String("groupId")
		if strings.EqualFold(t, target) && strings.EqualFold(g, "blob") {
			return true
		}
	}
	return false
}
