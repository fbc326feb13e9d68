// Package privatelink is the connection state machine that every private-link
// target type shares: the Pending connection a managed private endpoint
// places on its target, the owner's approval, rejection or removal, and the
// privateEndpointConnections and privateLinkResources types of each target.
package privatelink

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/resource"
)

// Connection states, as the target's privateLinkServiceConnectionState.status.
const (
	Pending      = "Pending"
	Approved     = "Approved"
	Rejected     = "Rejected"
	Disconnected = "Disconnected"
)

// Group is one sub-resource of a target (a privateLinkResource).
type Group struct {
	ID              string
	RequiredMembers []string
	ZoneNames       []string
}

// Target describes a type that accepts private endpoint connections.
type Target struct {
	// Type is the target type, e.g. "Microsoft.Storage/storageAccounts".
	Type string
	// APIVersions are the target type's api-versions. Its connection and
	// link-resource types accept them, and the catalog's versions of their
	// own types: clients reach them with the target's api-version (an SDK
	// has one per service), and Azure's sources list some of them (most
	// privateLinkResources) only as collections or only at some versions.
	APIVersions []string
	// Groups are its sub-resources, as privateLinkResources lists them.
	Groups []Group
	// GroupsOf, when set, computes the groups of one target instead
	// (Kusto's depend on the cluster's region).
	GroupsOf func(target *resource.Doc) []Group
	// Managed are the groupIds a Kusto managed private endpoint may ask for.
	Managed []string
	// GroupIDs is how connections show their group: "" (not at all),
	// "array" (properties.groupIds) or "single" (properties.groupId).
	GroupIDs string
	// ConnectionState is the provisioningState of a connection ("" for none).
	ConnectionState string
	// ETag: connections carry etags (Key Vault).
	ETag bool
	// AcceptedWrites: approvals answer 202 with polling headers (SQL, whose
	// "Ready" state is not one an SDK poller recognizes as terminal).
	AcceptedWrites bool
	// ConnectionListArray: connection lists are a bare JSON array (IoT Hub).
	ConnectionListArray bool
	// ConnectionWireType / LinkResourceWireType are the served "type"s when
	// they differ from the canonical ones.
	ConnectionWireType   string
	LinkResourceWireType string
	// LinkResourceIDTypes spells the type segments in link resource ids.
	LinkResourceIDTypes []string
	// Transitions are the target's own rules for its owner's changes of a
	// connection's state, with its own error codes (nil: DefaultTransitions).
	Transitions *Transitions
	// StateActions is the member of a connection's
	// privateLinkServiceConnectionState that says what actions it needs:
	// "" for "actionsRequired" (the common types from v2 on, and most
	// targets' specs), "actionRequired" (Storage, on the common types' v1),
	// or NoStateActions (Event Hubs' ConnectionState has none).
	StateActions string
	// EmbeddedMembers are the members of each connection that the target's
	// own document lists in properties.privateEndpointConnections (nil:
	// the whole connection, as its GET serves it). Key Vault's spec lists
	// PrivateEndpointConnectionItems (id, etag, properties), SQL's
	// ServerPrivateEndpointConnections (id, properties).
	EmbeddedMembers []string
}

// NoStateActions is Target.StateActions for a state without the member.
const NoStateActions = "-"

// stateActions is the member of t's connection states that says what
// actions they need ("" for none).
func (t *Target) stateActions() string {
	switch t.StateActions {
	case "":
		return "actionsRequired"
	case NoStateActions:
		return ""
	}
	return t.StateActions
}

// ConnectionType is the canonical type of the target's connections.
func (t *Target) ConnectionType() string { return t.Type + "/privateEndpointConnections" }

// LinkResourceType is the canonical type of the target's link resources.
func (t *Target) LinkResourceType() string { return t.Type + "/privateLinkResources" }

// groups returns the sub-resources of one target.
func (t *Target) groups(target *resource.Doc) []Group {
	if t.GroupsOf != nil {
		return t.GroupsOf(target)
	}
	return t.Groups
}

// ManagedGroup reports whether a managed private endpoint may ask for group g
// (matched case-insensitively) on target, and returns the target's own
// spelling of that sub-resource.
func (t *Target) ManagedGroup(target *resource.Doc, g string) (string, bool) {
	for _, m := range t.Managed {
		if strings.EqualFold(m, g) {
			for _, gr := range t.groups(target) {
				if strings.EqualFold(gr.ID, g) {
					return gr.ID, true
				}
			}
			return m, true
		}
	}
	return "", false
}

// Registry holds the targets, by type, and what the types of endpoints
// that connect to them do when a connection's state changes.
type Registry struct {
	targets   map[string]*Target
	endpoints map[string]func(c *resource.Ctx, endpoint *resource.Doc) error
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{targets: map[string]*Target{}, endpoints: map[string]func(*resource.Ctx, *resource.Doc) error{}}
}

// Add registers t and its connection and link-resource kinds with e.
func (r *Registry) Add(e *resource.Engine, t *Target) {
	if err := t.transitions().Check(); err != nil {
		panic("privatelink: " + t.Type + ": " + err.Error())
	}
	r.targets[arm.KeyOf(t.Type)] = t
	e.Register(connectionKind(r, t), linkResourceKind(t))
	// Every target's spec has properties.privateEndpointConnections on the
	// target itself, which clients read (az storage account show --query
	// privateEndpointConnections; templates that approve what reference()
	// lists there). It is read-only in most of them; IoT Hub's, Event
	// Hubs' and Digital Twins' specs leave it writable, but connections
	// are made by private endpoints, so privlink ignores it on writes of
	// every target.
	k := e.Kind(t.Type)
	if k == nil {
		panic("privatelink: register the kind of " + t.Type + " before its connections")
	}
	k.Embeds = append(k.Embeds, resource.Embed{Member: "privateEndpointConnections", Type: t.ConnectionType(), Keep: t.EmbeddedMembers})
}

// OnChange registers what an endpoint type does when the state of one of
// its connections changes (approval, rejection, removal by the target's
// owner): reflect is given the endpoint with its links updated, before it
// is saved. Managed private endpoints need none (their state is only in
// their links); Microsoft.Network's private endpoints show it in their
// document.
func (r *Registry) OnChange(endpointType string, reflect func(c *resource.Ctx, endpoint *resource.Doc) error) {
	r.endpoints[arm.KeyOf(endpointType)] = reflect
}

// Lookup returns the target for a type, or nil.
func (r *Registry) Lookup(typ string) *Target { return r.targets[arm.KeyOf(typ)] }

// Types lists the target types, sorted.
func (r *Registry) Types() []string {
	var out []string
	for _, t := range r.targets {
		out = append(out, t.Type)
	}
	sort.Strings(out)
	return out
}

// Link is an endpoint's side of a connection, kept in the endpoint's Meta:
// it survives the target removing the connection (the endpoint then reads
// Disconnected). A managed private endpoint has one; a Microsoft.Network
// private endpoint one per connection it asks for, named as it names them.
type Link struct {
	Name            string `json:"name,omitempty"`
	Target          string `json:"target"`
	GroupID         string `json:"groupId"`
	Connection      string `json:"connection"`
	PrivateEndpoint string `json:"privateEndpoint"`
	Status          string `json:"status"`
	Description     string `json:"description,omitempty"`
}

const (
	linkExt     = "privatelink.link"
	linksExt    = "privatelink.links"
	endpointExt = "privatelink.endpoint"
)

// LinkOf returns the endpoint's link, if it has one.
func LinkOf(endpoint *resource.Doc) (Link, bool) {
	raw, ok := endpoint.ExtRaw(linkExt)
	if !ok {
		return Link{}, false
	}
	if l, ok := parseLink(raw); ok {
		return l, true
	}
	var l Link
	return l, json.Unmarshal(raw, &l) == nil
}

// parseLink reads a link as privlink stores it (compact JSON, every
// member a string), without encoding/json's validation and reflection:
// the data path reads every endpoint's link on each of its changes, and
// json.Unmarshal was 3% of a durable create's CPU. ok is false for
// anything else, which json.Unmarshal then reads.
func parseLink(raw []byte) (l Link, ok bool) {
	o, err := arm.ParseTrustedObject(raw)
	if err != nil {
		return Link{}, false
	}
	for _, f := range []struct {
		name string
		to   *string
	}{{"name", &l.Name}, {"target", &l.Target}, {"groupId", &l.GroupID}, {"connection", &l.Connection},
		{"privateEndpoint", &l.PrivateEndpoint}, {"status", &l.Status}, {"description", &l.Description}} {
		if *f.to, _, err = o.String(f.name); err != nil {
			return Link{}, false
		}
	}
	return l, true
}

// LinksOf returns the links of an endpoint with several (SetLinks).
func LinksOf(endpoint *resource.Doc) []Link {
	var ls []Link
	endpoint.Ext(linksExt, &ls)
	return ls
}

// SetLinks records the links of an endpoint with several; the caller saves it.
func SetLinks(endpoint *resource.Doc, ls []Link) {
	if len(ls) == 0 {
		endpoint.SetExt(linksExt, nil)
		return
	}
	endpoint.SetExt(linksExt, ls)
}

// Connect places a connection from endpoint (whose managed private
// endpoint is privateEndpoint) on target for group, and links the endpoint
// to it: Approved at once when the principal of the request may approve
// connections on the target (MayApprove), Pending with the request message
// otherwise, for the target's owner to decide. The caller saves endpoint.
//
// The seed's "Automatic approval": "You can automatically approve a
// managed private endpoint if the requesting identity has the
// Microsoft.<Provider>/<ResourceType>/privateEndpointConnectionsApproval/action
// permission on the target resource". The requesting identity is the
// request's, whichever front it came through: the SDKs, the CLI, a template
// deployment (run as its deployer) or the portal.
func Connect(c *resource.Ctx, t *Target, target, endpoint *resource.Doc, privateEndpoint, group, message string) error {
	status := Pending
	if ok, err := MayApprove(c, t, target); err != nil {
		return err
	} else if ok {
		status = Approved
	}
	l, err := Place(c, t, target, endpoint.ID, privateEndpoint, group, message, status)
	if err != nil {
		return err
	}
	endpoint.SetExt(linkExt, l)
	return nil
}

// ApprovalAction is the action whose permission on a target lets a private
// endpoint's automatic connection be approved at once, as Azure's
// documentation of the approval workflow describes
// (learn.microsoft.com/azure/private-link/private-endpoint-overview,
// "Access to a private link resource using approval workflow").
func ApprovalAction(t *Target) string {
	return t.Type + "/privateEndpointConnectionsApproval/action"
}

// MayApprove reports whether the principal of c's request may approve
// connections on target: it holds the target type's approval action there
// (Owner and Contributor through "*", or a role naming the action). Outside
// a request (an operation step) nobody may.
func MayApprove(c *resource.Ctx, t *Target, target *resource.Doc) (bool, error) {
	if c.Req == nil || c.Req.Principal == nil {
		return false, nil
	}
	err := c.E.Authorize(c, c.Req, ApprovalAction(t), target.ID)
	if err == nil {
		return true, nil
	}
	if ae := arm.AsError(err); ae != nil && ae.Code == arm.CodeAuthorizationFailed {
		return false, nil
	}
	return false, err
}

// AutoApprove decides the state of a new automatic connection to target
// from endpoint (a Microsoft.Network private endpoint's
// privateLinkServiceConnections; manual ones are always Pending): Approved
// when the caller may approve connections on the target, as Azure does;
// otherwise the request fails with LinkedAuthorizationFailed (403), as
// Azure refuses an automatic connection its creator may not approve
// (manual connections are the way to ask), naming the action as Azure's
// message does (MicrosoftDocs/azure-docs#96892).
func AutoApprove(c *resource.Ctx, t *Target, target *resource.Doc, endpoint arm.ResourceID, endpointAction string) (string, error) {
	ok, err := MayApprove(c, t, target)
	switch {
	case err != nil:
		return "", err
	case ok:
		return Approved, nil
	case c.Req == nil || c.Req.Principal == nil:
		return Pending, nil // outside a request: nobody to refuse
	}
	p := c.Req.Principal
	return "", arm.Errorf(arm.CodeLinkedAuthorizationFailed, "The client '%s' with object id '%s' has permission to perform action '%s' on scope '%s'; however, it does not have permission to perform action 'PrivateEndpointConnectionsApproval/action' on the linked scope(s) '%s' or the linked scope(s) are invalid.",
		p.Name, p.ObjectID, endpointAction, endpoint.String(), target.ID.String())
}

// Place writes a connection in state status from the endpoint endpointID
// (whose private endpoint is privateEndpoint: the same resource for a
// Microsoft.Network private endpoint, the one Azure makes in the cluster's
// managed network for a Kusto managed private endpoint) on target for
// group, and returns the endpoint's side of it, for the caller to keep.
func Place(c *resource.Ctx, t *Target, target *resource.Doc, endpointID arm.ResourceID, privateEndpoint, group, message, status string) (Link, error) {
	k := c.Kind(t.ConnectionType())
	name := privateEndpointName(privateEndpoint) + "." + c.E.NewID()
	id := target.ID.Child("privateEndpointConnections", name)
	pec := c.NewDoc(k, id)
	if t.ETag {
		pec.Obj.SetValue("etag", `"`+c.E.NewID()+`"`)
	}
	p := pec.Props()
	p.SetValue("privateEndpoint", idRef{ID: privateEndpoint})
	switch t.GroupIDs {
	case "array":
		p.SetValue("groupIds", []string{group})
	case "single":
		p.SetValue("groupId", group)
	}
	desc := message
	if status == Approved {
		// What Azure writes of automatic approvals: "Auto-approved" in the
		// answers of the service (az network private-endpoint show of a
		// SQL, Event Grid or Search target), where the specs' examples
		// spell "Auto-Approved".
		desc = "Auto-approved"
	}
	p.SetValue("privateLinkServiceConnectionState", connState{Status: status, Description: desc, ActionsRequired: "None", actions: t.stateActions()})
	if t.ConnectionState != "" {
		p.SetValue("provisioningState", t.ConnectionState)
	}
	pec.SetExt(endpointExt, endpointID.String())
	c.StampSystemData(pec, nil)
	if err := c.Save(pec); err != nil {
		return Link{}, err
	}
	return Link{Target: target.ID.String(), GroupID: group, Connection: pec.ID.String(), PrivateEndpoint: privateEndpoint, Status: status, Description: desc}, nil
}

// GroupsOfTarget returns the sub-resources (privateLinkResources) of one target.
func (t *Target) GroupsOfTarget(target *resource.Doc) []Group { return t.groups(target) }

func privateEndpointName(id string) string {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// Release removes the connection of an endpoint that is going away.
func Release(c *resource.Ctx, endpoint *resource.Doc) error {
	l, ok := LinkOf(endpoint)
	if !ok {
		return nil
	}
	return ReleaseLink(c, l)
}

// ReleaseLink removes the connection on the target side of link l.
func ReleaseLink(c *resource.Ctx, l Link) error {
	if l.Connection == "" {
		return nil
	}
	pec, err := c.LoadKey(arm.KeyOf(l.Connection))
	if resource.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	// Unlink first so that the connection's own delete rule leaves the endpoint alone.
	pec.SetExt(endpointExt, nil)
	if err := c.Save(pec); err != nil {
		return err
	}
	return c.Remove(pec)
}

// UpdateRequest changes a still-Pending connection's description to a new
// request message.
func UpdateRequest(c *resource.Ctx, endpoint *resource.Doc, message string) error {
	l, ok := LinkOf(endpoint)
	if !ok || l.Status != Pending {
		return nil
	}
	pec, err := c.LoadKey(arm.KeyOf(l.Connection))
	if resource.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	st := stateOf(pec)
	st.Description = message
	pec.Props().SetValue("privateLinkServiceConnectionState", st)
	if err := c.Save(pec); err != nil {
		return err
	}
	l.Description = message
	endpoint.SetExt(linkExt, l)
	return nil
}

// connState is a connection's privateLinkServiceConnectionState.
type connState struct {
	Status          string
	Description     string
	ActionsRequired string
	// actions is the member that holds ActionsRequired in the target's
	// spec ("" for none: Target.StateActions).
	actions string
}

// AppendJSON writes s (arm.JSONAppender): every connection placed or
// changed sets it.
func (s connState) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	b = arm.AppendMember(b, "status", s.Status, false)
	b = arm.AppendMember(b, "description", s.Description, false)
	if s.actions != "" {
		b = arm.AppendMember(b, s.actions, s.ActionsRequired, false)
	}
	return append(b, '}')
}

// idRef is a reference to another resource: {"id": ...}.
type idRef struct {
	ID string `json:"id"`
}

// AppendJSON writes r as encoding/json writes its field (arm.JSONAppender).
func (r idRef) AppendJSON(b []byte) []byte {
	return append(arm.AppendMember(append(b, '{'), "id", r.ID, false), '}')
}

// stateOf reads pec's state, keeping the member its actions are in.
func stateOf(pec *resource.Doc) connState {
	var st connState
	if o, err := pec.Props().Object("privateLinkServiceConnectionState"); err == nil && o != nil {
		st.Status, _, _ = o.String("status")
		st.Description, _, _ = o.String("description")
		for _, m := range []string{"actionsRequired", "actionRequired"} {
			if a, ok, _ := o.String(m); ok {
				st.ActionsRequired, st.actions = a, m
			}
		}
	}
	if st.ActionsRequired == "" {
		st.ActionsRequired = "None"
	}
	return st
}

// connectionKind is a target's privateEndpointConnections type: listed, read,
// PUT to approve or reject, DELETE to remove. Connections are created only by
// Connect.
func connectionKind(r *Registry, t *Target) *resource.Kind {
	return &resource.Kind{
		// Approving, rejecting or removing a connection needs its write or
		// delete, or the approval action on the target: either lets the
		// target's owner decide (Owner, Contributor, or a role with only
		// the approval action).
		Authorize: func(ctx context.Context, e *resource.Engine, r *resource.Request, action string, id arm.ResourceID) error {
			err := e.Authorize(ctx, r, action, id)
			if err == nil || strings.HasSuffix(strings.ToLower(action), "/read") {
				return err
			}
			if e.Authorize(ctx, r, ApprovalAction(t), id.Parent()) == nil {
				return nil
			}
			return err
		},
		Type:           t.ConnectionType(),
		WireType:       t.ConnectionWireType,
		APIVersions:    catalog.Accept(t.ConnectionType(), t.APIVersions...),
		ETag:           t.ETag,
		AcceptedWrites: t.AcceptedWrites,
		ListArray:      t.ConnectionListArray,
		NoCreate:       true,
		NoState:        t.ConnectionState == "",
		Build: func(c *resource.Ctx, w *resource.Write) error {
			in := w.Doc.Props()
			st, err := resource.ObjectProp(in, "privateLinkServiceConnectionState", "properties.privateLinkServiceConnectionState")
			if err != nil {
				return err
			}
			if st == nil {
				return resource.MissingProperty("properties.privateLinkServiceConnectionState")
			}
			status, ok, err := resource.StringProp(st, "status", "properties.privateLinkServiceConnectionState.status")
			if err != nil {
				return err
			}
			if !ok {
				return resource.MissingProperty("properties.privateLinkServiceConnectionState.status")
			}
			// The owner's description has no bound: neither the Network spec
			// (PrivateLinkServiceConnectionState in privateLinkService.json)
			// nor the common types or the targets' specs give description a
			// length, unlike the requestMessage it replaces (140, see
			// kusto.requestMessageMax). Only the 4 MB body limit applies.
			desc, _, err := resource.StringProp(st, "description", "properties.privateLinkServiceConnectionState.description")
			if err != nil {
				return err
			}
			cur := stateOf(w.Old)
			next, err := t.transitions().Next(cur.Status, status)
			if err != nil {
				return err
			}
			// The stored connection keeps its own fields; only the state changes.
			props := w.Old.Props().Clone()
			props.SetValue("privateLinkServiceConnectionState", connState{Status: next, Description: desc, ActionsRequired: "None", actions: t.stateActions()})
			if t.ConnectionState != "" {
				props.SetValue("provisioningState", t.ConnectionState)
			}
			w.Doc.SetProps(props)
			return nil
		},
		AfterWrite: func(c *resource.Ctx, w *resource.Write) error {
			st := stateOf(w.Doc)
			return r.updateEndpoint(c, w.Doc, st.Status, st.Description)
		},
		BeforeDelete: func(c *resource.Ctx, d *resource.Doc) error {
			why := "The connection was removed by the owner of the private link resource."
			if c.RemovedWithAncestor(d) {
				why = "The private link resource was deleted."
			}
			return r.updateEndpoint(c, d, Disconnected, why)
		},
	}
}

// updateEndpoint mirrors a connection's state onto the endpoint that asked for it.
func (r *Registry) updateEndpoint(c *resource.Ctx, pec *resource.Doc, status, desc string) error {
	var eid string
	if !pec.Ext(endpointExt, &eid) || eid == "" {
		return nil
	}
	ep, err := c.LoadKey(arm.KeyOf(eid))
	if resource.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	found := false
	if l, ok := LinkOf(ep); ok && strings.EqualFold(l.Connection, pec.ID.String()) {
		l.Status, l.Description = status, desc
		ep.SetExt(linkExt, l)
		found = true
	}
	ls := LinksOf(ep)
	for i := range ls {
		if strings.EqualFold(ls[i].Connection, pec.ID.String()) {
			ls[i].Status, ls[i].Description = status, desc
			found = true
		}
	}
	if !found {
		return nil
	}
	SetLinks(ep, ls)
	if reflect := r.endpoints[arm.KeyOf(ep.Kind.Type)]; reflect != nil {
		if err := reflect(c, ep); err != nil {
			return err
		}
	}
	return c.Save(ep)
}

// linkResourceKind is a target's privateLinkResources: computed from its groups.
func linkResourceKind(t *Target) *resource.Kind {
	k := &resource.Kind{
		Type:        t.LinkResourceType(),
		WireType:    t.LinkResourceWireType,
		IDTypes:     t.LinkResourceIDTypes,
		APIVersions: catalog.Accept(t.LinkResourceType(), t.APIVersions...),
		ReadOnly:    true,
		NoState:     true,
	}
	doc := func(c *resource.Ctx, target arm.ResourceID, g Group) *resource.Doc {
		d := c.NewDoc(k, target.Child("privateLinkResources", g.ID))
		p := d.Props()
		p.SetValue("groupId", g.ID)
		p.SetValue("requiredMembers", nonNil(g.RequiredMembers))
		p.SetValue("requiredZoneNames", nonNil(g.ZoneNames))
		return d
	}
	k.Get = func(c *resource.Ctx, id arm.ResourceID) (*resource.Doc, error) {
		p, err := c.LoadKey(id.Parent().Key())
		if err != nil {
			return nil, err
		}
		for _, g := range t.groups(p) {
			if strings.EqualFold(g.ID, id.Name()) {
				return doc(c, p.ID, g), nil
			}
		}
		return nil, resource.ErrNotFound
	}
	k.List = func(c *resource.Ctx, parent arm.ResourceID) ([]*resource.Doc, error) {
		p, err := c.LoadKey(parent.Key())
		if err != nil {
			return nil, err
		}
		var out []*resource.Doc
		for _, g := range t.groups(p) {
			out = append(out, doc(c, p.ID, g))
		}
		return out, nil
	}
	return k
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ListResponse is a 200 list body, for rules answering lists themselves.
func ListResponse(docs []*resource.Doc) *resource.Response {
	return &resource.Response{Status: http.StatusOK, Body: resource.ListBody(docs), Header: http.Header{}}
}
