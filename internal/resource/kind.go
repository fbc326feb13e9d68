// Package resource is privlink's generic ARM engine: GET, PUT, PATCH, DELETE,
// list and POST actions for every resource type, with ETags, parent checks,
// api-version checks, systemData and long-running operations. A resource
// type plugs in as a Kind: a small set of rules (validation, defaults, side
// effects) that the engine calls inside the request's one transaction.
package resource

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/privlink/privlink/internal/arm"
)

// Scope says where a top-level type lives.
type Scope int

// Scopes of top-level types. Child types live under their parent type.
const (
	ScopeResourceGroup Scope = iota
	ScopeSubscription
	ScopeTenant
)

// Scopes is a set of places where a type's resources may live, for types
// that live in more than one (Kind.Scopes). The bits are those of bicep's
// ScopeType, which the catalog reads them from.
type Scopes uint8

// The places a resource may live.
const (
	// InTenant: /providers/{ns}/{type}/{name}.
	InTenant Scopes = 1 << iota
	// InManagementGroup: below a Microsoft.Management/managementGroups resource.
	InManagementGroup
	// InSubscription: /subscriptions/{s}/providers/{ns}/{type}/{name}.
	InSubscription
	// InResourceGroup: /subscriptions/{s}/resourceGroups/{g}/providers/{ns}/{type}/{name}.
	InResourceGroup
	// InExtension: {any resource id}/providers/{ns}/{type}/{name}, an
	// extension resource (role assignments, locks, diagnostic settings),
	// removed with the resource it extends.
	InExtension
)

// Kind is one resource type's rules. Only Type and APIVersions are required;
// every hook is optional.
type Kind struct {
	// Type is the canonical type, e.g. "Microsoft.Kusto/clusters/managedPrivateEndpoints".
	Type string
	// WireType is the "type" served in bodies when it differs from Type
	// (Kusto answers "Microsoft.Kusto/Clusters/ManagedPrivateEndpoints").
	WireType string
	// IDTypes spells the type segments in served ids (e.g. "Clusters",
	// "ManagedPrivateEndpoints"); nil keeps Type's spelling.
	IDTypes []string
	// APIVersions lists the accepted api-versions.
	APIVersions []string
	// ARMOwned types (Microsoft.Resources) answer a bad api-version with
	// InvalidApiVersionParameter instead of NoRegisteredProviderFound.
	ARMOwned bool
	// Scope is where a top-level type lives (default: a resource group).
	Scope Scope
	// AlsoSubscription lets a resource-group type live directly in a
	// subscription as well (Microsoft.Resources/deployments exist at both).
	AlsoSubscription bool
	// Scopes, when not 0, is where the type lives instead of Scope: types
	// that live at several scopes, extension types among them. For a child
	// type it is where its top-level ancestor lives.
	Scopes Scopes
	// Tracked resources require a location and carry tags.
	Tracked bool
	// OptionalLocation types carry a location that clients may leave out
	// (a location sent is checked and normalized as a tracked type's is).
	OptionalLocation bool
	// Generic kinds are made from the catalog for the types privlink has no
	// rules of its own for: served with ARM's generic semantics.
	Generic bool
	// ETag resources carry an etag and honour If-Match / If-None-Match.
	ETag bool
	// Pageable lists page with nextLink (only where the clients follow it).
	Pageable bool
	// ListArray lists answer a bare JSON array instead of {"value": [...]}
	// (IoT Hub's private endpoint connections).
	ListArray bool
	// CreatedStatus is the status of a synchronous create (default 201).
	CreatedStatus int
	// Async resources provision through an operation: PUT answers with a
	// non-terminal provisioningState and an Azure-AsyncOperation header;
	// DELETE answers 202.
	Async bool
	// AsyncDelete makes only DELETE asynchronous (resource groups).
	AsyncDelete bool
	// AcceptedWrites answer a synchronous PUT with 202 and polling headers
	// to an operation that has already succeeded: for types whose
	// provisioningState values are not ARM's terminal ones (SQL's "Ready"),
	// which would keep an SDK polling the resource forever.
	AcceptedWrites bool
	// StatusStyle picks the operation status URLs: "" (the RP's
	// operationStatuses), "kusto" (Kusto's operationResults) or "arm" (ARM's
	// own /subscriptions/{s}/operationresults, Location header only).
	StatusStyle string
	// States names the non-terminal states (default Creating/Updating/Deleting).
	States States
	// NoState: the type has no properties.provisioningState.
	NoState bool
	// NoCreate: PUT may only update an existing resource (approval of a
	// private endpoint connection); creation is the business of other rules.
	NoCreate bool
	// ReadOnly types accept no PUT, PATCH or DELETE.
	ReadOnly bool
	// Patchable types accept PATCH.
	Patchable bool
	// View shapes a stored document for the api-version of the request that
	// reads it (a GET, a list, the answer to a PUT or PATCH), for types whose
	// shape differs between api-versions; nil serves the stored bytes. It
	// gets and returns the document's JSON, and must not fail: a document it
	// cannot shape is served as stored.
	View func(apiVersion string, doc []byte) []byte

	// ValidateName checks the last name segment on create.
	ValidateName func(name string) *arm.Error
	// Name computes the served "name" (default: the last name segment).
	Name func(id arm.ResourceID) string
	// Build validates a PUT (or merged PATCH) and shapes w.Doc; it runs
	// after the engine copied the envelope and properties from the input.
	Build func(c *Ctx, w *Write) error
	// AfterWrite runs after the document is stored, in the same transaction.
	AfterWrite func(c *Ctx, w *Write) error
	// Provisioned runs when an asynchronous create or update completes.
	Provisioned func(c *Ctx, d *Doc) error
	// BeforeDelete runs for each resource about to be removed (children first).
	BeforeDelete func(c *Ctx, d *Doc) error

	// ActionType is the type ARM names this type's actions after, when it
	// differs from Type: resource groups are authorized as
	// "Microsoft.Resources/subscriptions/resourceGroups/read".
	ActionType string
	// Authorize, when set, decides whether a request may perform action
	// (the engine's name for it: {ActionType}/read, /write, /delete,
	// /{action}/action) at id, instead of the Authorizer alone: a private
	// endpoint connection may also be written with the approval action on
	// its target, a subscription read with any access in it. It returns
	// nil or the error to answer (AuthorizationFailed).
	Authorize func(ctx context.Context, e *Engine, r *Request, action string, id arm.ResourceID) error

	// ListNeverRefused lists show a principal that may not read their whole
	// scope the items it may read, even none, rather than refusing it
	// (ARM's subscription list).
	ListNeverRefused bool

	// Virtual types are computed, not stored: Get and List produce them.
	Get  func(c *Ctx, id arm.ResourceID) (*Doc, error)
	List func(c *Ctx, parent arm.ResourceID) ([]*Doc, error)
	// Handle overrides the engine for a method entirely (operation status URLs).
	Handle map[string]func(ctx context.Context, e *Engine, r *Request) (*Response, error)
	// Actions are POSTs on an item: {id}/{action}.
	Actions map[string]Action
	// RawActions are POSTs on an item path that the engine hands over
	// whole: no transaction around them and no check that the item exists
	// (a deployment's validate and whatIf name deployments that are not
	// there). Keys are lower case; the api-version is checked first.
	RawActions map[string]func(ctx context.Context, e *Engine, r *Request) (*Response, error)
	// Collections are extra GET lists below an item that are not child types
	// (a resource group's "resources").
	Collections map[string]Action
	// Embeds are child types whose resources a document carries as it is
	// served (a GET, each element of a list, the answer to a PUT or PATCH):
	// read-only members that Azure fills from other records, such as a
	// private link target's properties.privateEndpointConnections.
	Embeds []Embed
}

// Embed is a child type a document carries: properties.{Member} is the
// list of the resource's children of type Type, each as its own GET serves
// it (shaped for the request's api-version), or only the members Keep
// names when it is set (Key Vault's PrivateEndpointConnectionItem is id,
// etag and properties). The list is there, empty, when there are none, as
// Azure serves it (a storage account's "privateEndpointConnections": []),
// and holds at most EmbedMax. A write never stores the member: what a
// client sends in it is dropped. HEAD does not read the children.
type Embed struct {
	Member string
	Type   string
	Keep   []string
}

// Action handles a POST action or an extra collection.
type Action func(c *Ctx, id arm.ResourceID, r *Request) (*Response, error)

// States names a type's non-terminal provisioning states.
type States struct{ Creating, Updating, Deleting string }

func (k *Kind) states() States {
	s := k.States
	if s.Creating == "" {
		s.Creating = arm.StateCreating
	}
	if s.Updating == "" {
		s.Updating = arm.StateUpdating
	}
	if s.Deleting == "" {
		s.Deleting = arm.StateDeleting
	}
	return s
}

// Namespace is the provider namespace, e.g. "Microsoft.Kusto".
func (k *Kind) Namespace() string { ns, _, _ := strings.Cut(k.Type, "/"); return ns }

// typeSegments are the type segments below the namespace.
func (k *Kind) typeSegments() []string {
	_, rest, _ := strings.Cut(k.Type, "/")
	return strings.Split(rest, "/")
}

// Action is ARM's name for verb on resources of kind k ("read", "write",
// "delete", "{action}/action"): "Microsoft.Kusto/clusters/read".
func (k *Kind) Action(verb string) string {
	t := k.ActionType
	if t == "" {
		t = k.Type
	}
	return t + "/" + verb
}

func (k *Kind) wireType() string {
	if k.WireType != "" {
		return k.WireType
	}
	return k.Type
}

func (k *Kind) supports(v string) bool {
	for _, a := range k.APIVersions {
		if strings.EqualFold(a, v) {
			return true
		}
	}
	return false
}

// view is the document as served to r.
func (k *Kind) view(r *Request, doc []byte) []byte {
	if k.View == nil || doc == nil {
		return doc
	}
	return k.View(r.APIVersion, doc)
}

func (k *Kind) isChild() bool { return len(k.typeSegments()) > 1 }

// scopes is where the kind's resources live, as a set.
func (k *Kind) scopes() Scopes {
	if k.Scopes != 0 {
		return k.Scopes
	}
	switch k.Scope {
	case ScopeTenant:
		return InTenant
	case ScopeSubscription:
		return InSubscription
	}
	if k.AlsoSubscription {
		return InResourceGroup | InSubscription
	}
	return InResourceGroup
}

// located reports whether the kind's resources carry a location.
func (k *Kind) located() bool { return k.Tracked || k.OptionalLocation }

// Request is one ARM request as the engine sees it.
type Request struct {
	Method     string
	Path       arm.Path
	Query      url.Values
	APIVersion string
	Body       []byte
	Header     http.Header
	// BaseURL is the scheme and host the client used ("https://127.0.0.1:8443"),
	// for absolute URLs in headers and nextLinks.
	BaseURL   string
	Principal *arm.Principal
}

// Response is what the engine answers; httpapi writes it.
type Response struct {
	Status int
	// Body is raw JSON; nil means no body.
	Body   []byte
	Header http.Header
}

func jsonResponse(status int, body []byte) *Response {
	return &Response{Status: status, Body: body, Header: http.Header{}}
}
