// Package resources holds the rules of ARM's own types: subscriptions (and
// Microsoft.Subscription aliases that create them), resource groups, and
// resource provider registrations.
package resources

import (
	"context"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/resource"
	"github.com/privlink/privlink/internal/store"
)

// APIVersions are the api-versions of ARM's own endpoints (resource groups,
// providers, subscriptions) that privlink accepted before the catalog,
// oldest first. Each of those types accepts these and the catalog's
// versions of its type.
var APIVersions = []string{
	"2014-04-01", "2014-04-01-preview", "2015-01-01", "2015-11-01", "2016-02-01", "2016-06-01", "2016-07-01", "2016-09-01",
	"2017-05-10", "2017-06-01", "2017-08-01", "2018-01-01", "2018-02-01", "2018-05-01", "2018-06-01", "2019-03-01",
	"2019-05-01", "2019-05-10", "2019-06-01", "2019-07-01", "2019-08-01", "2019-10-01", "2019-11-01", "2020-01-01",
	"2020-06-01", "2020-08-01", "2020-10-01", "2021-01-01", "2021-04-01", "2022-01-01", "2022-09-01", "2022-12-01",
	"2023-07-01", "2024-03-01", "2024-07-01", "2024-11-01", "2025-01-01", "2025-03-01", "2025-04-01",
}

// AliasAPIVersions are Microsoft.Subscription's alias api-versions, oldest
// first: the catalog's and those privlink accepted before it.
var AliasAPIVersions = catalog.Accept(aliasType, "2019-10-01-preview", "2020-09-01", "2021-10-01")

// The types of ARM's own kinds.
const (
	subscriptionType  = "Microsoft.Resources/subscriptions"
	resourceGroupType = "Microsoft.Resources/resourceGroups"
	aliasType         = "Microsoft.Subscription/aliases"
)

// Builtin namespaces are registered in every subscription from its start.
var Builtin = []string{
	"Microsoft.Resources", "Microsoft.Authorization", "Microsoft.Subscription", "Microsoft.Features",
	"Microsoft.Billing", "Microsoft.Consumption", "Microsoft.CostManagement", "Microsoft.ResourceGraph",
	"Microsoft.ResourceHealth", "Microsoft.Portal", "Microsoft.MarketplaceOrdering", "Microsoft.SerialConsole",
	"Microsoft.Support", "Microsoft.ADHybridHealthService", "Microsoft.Advisor", "Microsoft.ClassicSubscription",
	"Microsoft.Commerce", "Microsoft.GuestConfiguration", "Microsoft.PolicyInsights", "Microsoft.Security",
}

// Known are namespaces privlink does not serve but that subscriptions may
// register (Terraform registers a set of them at start).
var Known = []string{
	"Microsoft.Network", "Microsoft.Compute", "Microsoft.ContainerService", "Microsoft.ContainerRegistry",
	"Microsoft.Web", "Microsoft.Insights", "Microsoft.OperationalInsights", "Microsoft.OperationsManagement",
	"Microsoft.ManagedIdentity", "Microsoft.DBforPostgreSQL", "Microsoft.DBforMySQL", "Microsoft.DocumentDB",
	"Microsoft.ServiceBus", "Microsoft.Cache", "Microsoft.ApiManagement", "Microsoft.AppConfiguration",
	"Microsoft.AppPlatform", "Microsoft.Automation", "Microsoft.Batch", "Microsoft.Cdn", "Microsoft.CognitiveServices",
	"Microsoft.ContainerInstance", "Microsoft.DataFactory", "Microsoft.DataLakeStore", "Microsoft.DataLakeAnalytics",
	"Microsoft.DataMigration", "Microsoft.DataProtection", "Microsoft.DesktopVirtualization", "Microsoft.EventGrid",
	"Microsoft.HDInsight", "Microsoft.HealthcareApis", "Microsoft.Logic", "Microsoft.MachineLearningServices",
	"Microsoft.Maintenance", "Microsoft.ManagedServices", "Microsoft.Management", "Microsoft.Maps",
	"Microsoft.Media", "Microsoft.NotificationHubs", "Microsoft.PowerBIDedicated", "Microsoft.RecoveryServices",
	"Microsoft.Relay", "Microsoft.Search", "Microsoft.SecurityInsights", "Microsoft.ServiceFabric",
	"Microsoft.SignalRService", "Microsoft.StreamAnalytics", "Microsoft.Synapse", "Microsoft.Purview",
	"Microsoft.AlertsManagement", "Microsoft.App", "Microsoft.Databricks", "Microsoft.DevTestLab",
	"Microsoft.GuestConfiguration", "Microsoft.KubernetesConfiguration", "Microsoft.Kubernetes", "Microsoft.BotService",
}

// Register adds ARM's own kinds to e and declares the namespaces above.
// created runs in the transaction that creates a subscription through an
// alias (access control makes the creator its Owner there); nil for none.
func Register(e *resource.Engine, created func(c *resource.Ctx, subscription string) error) {
	for _, ns := range Builtin {
		e.AddNamespaces(resource.Namespace{Name: ns, Builtin: true})
	}
	for _, ns := range Known {
		e.AddNamespaces(resource.Namespace{Name: ns, Default: true})
	}
	e.Register(subscriptions(), resourceGroups(), providers(), aliases(created))
}

// anyAccess lets a principal read a subscription (and its provider
// registrations) when it holds any role assignment in it, above it or below
// it: ARM lists and shows the subscriptions where a principal has some
// access, whatever its roles (a Reader of one resource group sees its
// subscription). Other actions, and reads of the tenant root, need the
// action itself.
func anyAccess(ctx context.Context, e *resource.Engine, r *resource.Request, action string, id arm.ResourceID) error {
	if id.Subscription != "" && (strings.HasSuffix(strings.ToLower(action), "/read")) && e.Reach(ctx, r, arm.ResourceID{Subscription: id.Subscription}) != 0 {
		return nil
	}
	return e.Authorize(ctx, r, action, id)
}

func subscriptions() *resource.Kind {
	return &resource.Kind{
		Type:        subscriptionType,
		APIVersions: catalog.Accept(subscriptionType, APIVersions...),
		ARMOwned:    true,
		Scope:       resource.ScopeTenant,
		ReadOnly:    true,
		NoState:     true,
		Pageable:    true,
		Authorize: func(ctx context.Context, e *resource.Engine, r *resource.Request, action string, id arm.ResourceID) error {
			if id.IsSubscription() && strings.EqualFold(action, subscriptionType+"/read") {
				return anyAccess(ctx, e, r, action, id)
			}
			return e.Authorize(ctx, r, action, id)
		},
		// GET /subscriptions lists the subscriptions where the caller has
		// some access; one with none gets an empty list, not a refusal.
		ListNeverRefused: true,
		Collections: map[string]resource.Action{
			"resources": listResources,
			"locations": listLocations,
		},
	}
}

var groupName = regexp.MustCompile(`^[-\w\._\(\)]{1,90}$`)

func resourceGroups() *resource.Kind {
	return &resource.Kind{
		Type: resourceGroupType,
		// ARM's actions on groups: Microsoft.Resources/subscriptions/resourceGroups/read, ...
		ActionType:  "Microsoft.Resources/subscriptions/resourceGroups",
		APIVersions: catalog.Accept(resourceGroupType, APIVersions...),
		ARMOwned:    true,
		Scope:       resource.ScopeSubscription,
		Tracked:     true,
		Pageable:    true,
		Patchable:   true,
		AsyncDelete: true,
		StatusStyle: "arm",
		ValidateName: func(name string) *arm.Error {
			if !groupName.MatchString(name) || strings.HasSuffix(name, ".") {
				return arm.Errorf(arm.CodeInvalidResourceGroupName, "The resource group name '%s' is invalid. It must be 1 to 90 characters of letters, digits, '_', '-', '.', '(' or ')', and not end in '.'.", name)
			}
			return nil
		},
		Build: func(c *resource.Ctx, w *resource.Write) error {
			// A resource group's properties hold only its provisioningState.
			w.Doc.Props().Delete("provisioningState")
			for _, k := range w.Doc.Props().Keys() {
				w.Doc.Props().Delete(k)
			}
			if mb, ok := w.Input.Get("managedBy"); ok {
				w.Doc.Obj.Set("managedBy", mb)
			}
			return nil
		},
		Collections: map[string]resource.Action{"resources": listResources},
	}
}

// listResources lists the tracked resources in a subscription or group
// (GET {scope}/resources), with ARM's GenericResourceExpanded shape (no
// properties: azure-cli's table of 'az resource list' breaks on them), a
// page at a time: the store picks the tracked types' keys in the scope from
// an index, in key order, and only the page's resources are loaded, so a
// page costs about the same however many endpoints and connections the
// scope holds. $filter takes what azure-cli and the SDKs send
// (resourceFilter); $expand adds createdTime, changedTime and
// provisioningState.
func listResources(c *resource.Ctx, id arm.ResourceID, r *resource.Request) (*resource.Response, error) {
	size, after, err := c.E.Page(r)
	if err != nil {
		return nil, err
	}
	f, err := parseResourceFilter(r.Query.Get("$filter"))
	if err != nil {
		return nil, err
	}
	scope, types := id, c.E.TrackedTypes()
	if f.group != "" {
		if id.ResourceGroup != "" && !strings.EqualFold(id.ResourceGroup, f.group) {
			return &resource.Response{Status: http.StatusOK, Body: resource.ListBodies(r, nil, ""), Header: http.Header{}}, nil
		}
		scope = arm.ResourceID{Subscription: id.Subscription, ResourceGroup: f.group}
	}
	if f.typ != "" {
		k := c.Kind(f.typ)
		if k == nil || !k.Tracked || k.ARMOwned {
			return &resource.Response{Status: http.StatusOK, Body: resource.ListBodies(r, nil, ""), Header: http.Header{}}, nil
		}
		types = []string{arm.KeyOf(k.Type)} // TrackedTypes spells them so
	}
	expand := map[string]bool{}
	for _, e := range strings.Split(r.Query.Get("$expand"), ",") {
		expand[strings.ToLower(strings.TrimSpace(e))] = true
	}
	var bodies [][]byte
	next, last := "", ""
scan:
	for {
		// One more than a page tells whether another page follows.
		recs, err := c.Tx.List(store.Query{Prefix: scope.Key(), Types: types, After: after, Limit: size + 1, KeysOnly: true})
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			after = rec.Key()
			k := c.Kind(rec.Type)
			if k == nil || !k.Tracked || k.ARMOwned {
				continue
			}
			d, err := c.LoadKey(after)
			if err != nil {
				return nil, err
			}
			if !c.Readable(d) || !f.keeps(d) {
				continue // a caller with access to part of the scope sees that part
			}
			if len(bodies) == size {
				next = last
				break scan
			}
			bodies = append(bodies, genericResource(d, expand))
			last = after
		}
		if len(recs) <= size {
			break
		}
	}
	return &resource.Response{Status: http.StatusOK, Body: resource.ListBodies(r, bodies, next), Header: http.Header{}}, nil
}

// genericMembers are the members of ARM's GenericResourceExpanded that a
// document may hold.
var genericMembers = []string{"id", "name", "type", "kind", "location", "extendedLocation", "managedBy", "sku", "plan", "identity", "zones", "tags"}

// genericResource is d as GET {scope}/resources lists it, with the members
// $expand asks for.
func genericResource(d *resource.Doc, expand map[string]bool) []byte {
	out := d.Obj.Only(genericMembers...)
	sd, _ := d.Obj.Object("systemData")
	if expand["createdtime"] && sd != nil {
		if v, ok, _ := sd.String("createdAt"); ok {
			out.SetValue("createdTime", v)
		}
	}
	if expand["changedtime"] && sd != nil {
		if v, ok, _ := sd.String("lastModifiedAt"); ok {
			out.SetValue("changedTime", v)
		}
	}
	if expand["provisioningstate"] {
		if st := d.State(); st != "" {
			out.SetValue("provisioningState", st)
		}
	}
	b, _ := out.MarshalJSON()
	return b
}

// resourceFilter is the $filter of GET {scope}/resources: terms joined
// with "and", each resourceType, resourceGroup, name or location "eq
// 'value'", tagName eq (with tagValue eq), or substringof('text', name),
// as ARM's Resources - List documents them and azure-cli sends them ('az
// resource list -g/--resource-type/-n/-l/--tag', 'az keyvault list').
type resourceFilter struct {
	group, typ, name, location, tagName, tagValue, nameHas string
	tagValueSet                                            bool
}

var resourceSubstring = regexp.MustCompile(`(?i)^substringof\(\s*'((?:[^']|'')*)'\s*,\s*name\s*\)$`)

// parseResourceFilter reads f, or refuses what ARM's list does not take
// (UnsupportedFilter).
func parseResourceFilter(f string) (resourceFilter, error) {
	var out resourceFilter
	for _, t := range arm.FilterTerms(f) {
		if m := resourceSubstring.FindStringSubmatch(t); m != nil {
			out.nameHas = strings.ToLower(arm.Unquote(m[1]))
			continue
		}
		n, v, ok := arm.FilterEq(t)
		if !ok {
			return out, arm.Errorf(arm.CodeUnsupportedFilter, "The filter '%s' is not supported.", f)
		}
		switch strings.ToLower(n) {
		case "resourcegroup":
			out.group = v
		case "resourcetype":
			out.typ = v
		case "name":
			out.name = v
		case "location":
			out.location = v
		case "tagname":
			out.tagName = v
		case "tagvalue":
			out.tagValue, out.tagValueSet = v, true
		default:
			return out, arm.Errorf(arm.CodeUnsupportedFilter, "The filter '%s' is not supported.", f)
		}
	}
	return out, nil
}

// keeps reports whether d passes the filter's terms that its scope and
// types do not already apply.
func (f resourceFilter) keeps(d *resource.Doc) bool {
	name := d.ID.Name()
	if f.name != "" && !strings.EqualFold(name, f.name) {
		return false
	}
	if f.nameHas != "" && !strings.Contains(strings.ToLower(name), f.nameHas) {
		return false
	}
	if f.location != "" && !strings.EqualFold(resource.NormalizeLocation(d.Str("location")), resource.NormalizeLocation(f.location)) {
		return false
	}
	if f.tagName != "" {
		tags, _ := d.Obj.Object("tags")
		if tags == nil {
			return false
		}
		for _, k := range tags.Keys() {
			if strings.EqualFold(k, f.tagName) {
				v, _, _ := tags.String(k)
				return !f.tagValueSet || v == f.tagValue
			}
		}
		return false
	}
	return true
}

type location struct {
	ID                  string `json:"id"`
	Name                string `json:"name"`
	Type                string `json:"type"`
	DisplayName         string `json:"displayName"`
	RegionalDisplayName string `json:"regionalDisplayName"`
}

func listLocations(c *resource.Ctx, id arm.ResourceID, r *resource.Request) (*resource.Response, error) {
	var out struct {
		Value []location `json:"value"`
	}
	for _, reg := range resource.Regions {
		out.Value = append(out.Value, location{ID: id.String() + "/locations/" + reg[0], Name: reg[0], Type: "Region", DisplayName: reg[1], RegionalDisplayName: reg[1]})
	}
	b, _ := arm.Marshal(out)
	return &resource.Response{Status: http.StatusOK, Body: b, Header: http.Header{}}, nil
}

// providers serves /subscriptions/{s}/providers[/{namespace}]: every known
// namespace with its registration state and, for the served ones, their
// resource types.
func providers() *resource.Kind {
	k := &resource.Kind{
		Type:        resource.ProviderType,
		APIVersions: catalog.Accept(resource.ProviderType, APIVersions...),
		ARMOwned:    true,
		Scope:       resource.ScopeSubscription,
		ReadOnly:    true,
		NoState:     true,
		ActionType:  "Microsoft.Resources/subscriptions/providers",
		// Registering a namespace is its own action at the subscription
		// ({ns}/register/action, which Contributor holds through "*");
		// reading registrations needs any access in the subscription.
		Authorize: func(ctx context.Context, e *resource.Engine, r *resource.Request, action string, id arm.ResourceID) error {
			for _, verb := range []string{"register", "unregister"} {
				if strings.HasSuffix(strings.ToLower(action), "/"+verb+"/action") {
					return e.Authorize(ctx, r, id.Namespace+"/"+verb+"/action", arm.ResourceID{Subscription: id.Subscription})
				}
			}
			return anyAccess(ctx, e, r, action, id)
		},
	}
	k.Get = func(c *resource.Ctx, id arm.ResourceID) (*resource.Doc, error) {
		n := c.E.Namespace(id.Namespace)
		if n == nil {
			return nil, arm.Errorf(arm.CodeInvalidResourceNamespace, "The resource namespace '%s' is invalid.", id.Namespace)
		}
		return providerDoc(c, k, id.Subscription, n)
	}
	k.List = func(c *resource.Ctx, sub arm.ResourceID) ([]*resource.Doc, error) {
		var out []*resource.Doc
		for _, n := range c.E.Namespaces() {
			d, err := providerDoc(c, k, sub.Subscription, n)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		return out, nil
	}
	set := func(state string) resource.Action {
		return func(c *resource.Ctx, id arm.ResourceID, r *resource.Request) (*resource.Response, error) {
			if err := c.SetRegistration(id.Subscription, id.Namespace, state); err != nil {
				return nil, err
			}
			d, err := k.Get(c, id)
			if err != nil {
				return nil, err
			}
			return &resource.Response{Status: http.StatusOK, Body: d.Body(), Header: http.Header{}}, nil
		}
	}
	k.Actions = map[string]resource.Action{"register": set(resource.Registered), "unregister": set(resource.Unregistered)}
	return k
}

type providerType struct {
	ResourceType string   `json:"resourceType"`
	Locations    []string `json:"locations"`
	APIVersions  []string `json:"apiVersions"`
	Capabilities string   `json:"capabilities,omitempty"`
}

func providerDoc(c *resource.Ctx, k *resource.Kind, sub string, n *resource.Namespace) (*resource.Doc, error) {
	state, err := c.RegistrationState(sub, n.Name)
	if err != nil {
		return nil, err
	}
	id := arm.ResourceID{Subscription: sub, Namespace: n.Name}
	d := &resource.Doc{Kind: k, ID: id, Obj: &arm.Object{}}
	d.Obj.SetValue("id", id.String())
	d.Obj.SetValue("namespace", n.Name)
	d.Obj.SetValue("registrationState", state)
	d.Obj.SetValue("registrationPolicy", "RegistrationRequired")
	types := []providerType{}
	for _, kk := range c.E.Kinds(n.Name) {
		_, rest, _ := strings.Cut(kk.Type, "/")
		pt := providerType{ResourceType: rest, APIVersions: resource.Newest(kk.APIVersions), Locations: []string{}}
		if kk.Tracked {
			for _, r := range resource.Regions {
				pt.Locations = append(pt.Locations, r[1])
			}
			pt.Capabilities = "SupportsTags, SupportsLocation"
		}
		types = append(types, pt)
	}
	sort.Slice(types, func(i, j int) bool { return types[i].ResourceType < types[j].ResourceType })
	d.Obj.SetValue("resourceTypes", types)
	return d, nil
}

// aliases are Microsoft.Subscription/aliases: creating one creates a
// subscription (or names an existing one given in properties.subscriptionId).
func aliases(created func(c *resource.Ctx, subscription string) error) *resource.Kind {
	return &resource.Kind{
		Type:        aliasType,
		APIVersions: AliasAPIVersions,
		Scope:       resource.ScopeTenant,
		// Creating a subscription is a billing right in Azure (an
		// enrollment account's or billing profile's), not a role
		// assignment: privlink grants it to every principal of its tenant,
		// and makes the creator the new subscription's Owner.
		Authorize: func(ctx context.Context, e *resource.Engine, r *resource.Request, action string, id arm.ResourceID) error {
			return nil
		},
		Build: func(c *resource.Ctx, w *resource.Write) error {
			p := w.Doc.Props()
			if w.Old != nil {
				// An alias is immutable: it keeps naming its subscription.
				old := w.Old.Props()
				sid, _, _ := old.String("subscriptionId")
				p.SetValue("subscriptionId", sid)
				return nil
			}
			sid, ok, err := resource.StringProp(p, "subscriptionId", "properties.subscriptionId")
			if err != nil {
				return err
			}
			display, _, err := resource.StringProp(p, "displayName", "properties.displayName")
			if err != nil {
				return err
			}
			if display == "" {
				display = w.ID.Name()
			}
			if !ok || sid == "" {
				sid = c.E.NewID()
			} else if _, err := c.Tx.Get(arm.ResourceID{Subscription: sid}.Key()); err == nil {
				p.SetValue("subscriptionId", sid)
				return nil
			}
			tenant := ""
			if c.Principal != nil {
				tenant = c.Principal.TenantID
			}
			if err := CreateSubscription(c, sid, tenant, display, false); err != nil {
				return err
			}
			if created != nil {
				if err := created(c, sid); err != nil {
					return err
				}
			}
			p.SetValue("subscriptionId", sid)
			return nil
		},
	}
}

// Subscription is the served document of a subscription.
type Subscription struct {
	ID                   string   `json:"id"`
	AuthorizationSource  string   `json:"authorizationSource"`
	ManagedByTenants     []any    `json:"managedByTenants"`
	SubscriptionID       string   `json:"subscriptionId"`
	TenantID             string   `json:"tenantId"`
	DisplayName          string   `json:"displayName"`
	State                string   `json:"state"`
	SubscriptionPolicies policies `json:"subscriptionPolicies"`
}

type policies struct {
	LocationPlacementID string `json:"locationPlacementId"`
	QuotaID             string `json:"quotaId"`
	SpendingLimit       string `json:"spendingLimit"`
}

// CreateSubscription writes a subscription and its initial provider
// registrations: the builtin namespaces, plus every known one when
// registerAll (the default subscription, ready for the seed's scenarios).
func CreateSubscription(c *resource.Ctx, id, tenant, display string, registerAll bool) error {
	sid := arm.ResourceID{Subscription: id}
	body, _ := arm.Marshal(Subscription{
		ID: sid.String(), AuthorizationSource: "RoleBased", ManagedByTenants: []any{}, SubscriptionID: id,
		TenantID: tenant, DisplayName: display, State: "Enabled",
		SubscriptionPolicies: policies{LocationPlacementID: "Public_2014-09-01", QuotaID: "PayAsYouGo_2014-09-01", SpendingLimit: "Off"},
	})
	if err := c.Tx.Create(&store.Record{ID: sid.String(), Type: "Microsoft.Resources/subscriptions", Body: body, Updated: c.Now}); err != nil {
		return err
	}
	for _, n := range c.E.Namespaces() {
		if n.Builtin || registerAll {
			if err := c.SetRegistration(id, n.Name, resource.Registered); err != nil {
				return err
			}
		}
	}
	return nil
}

// Bootstrap makes sure the default subscription exists, fully registered.
func Bootstrap(ctx context.Context, e *resource.Engine, tenant, subscription, display string) error {
	return e.Update(ctx, func(c *resource.Ctx) error {
		if _, err := c.Tx.Get(arm.ResourceID{Subscription: subscription}.Key()); err == nil {
			return nil
		}
		return CreateSubscription(c, subscription, tenant, display, true)
	})
}
