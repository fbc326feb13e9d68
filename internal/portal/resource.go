package portal

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/privlink/privlink/internal/arm"
)

// bladeOrder is the order of a resource's menu.
var bladeOrder = []string{"overview", "iam", "networking", "deployments", "json"}

// addResourceBlades registers the blades every resource has and those of
// the other files.
func (p *Portal) addResourceBlades() {
	p.blades["overview"] = blade{title: "Overview", applies: func(arm.ResourceID) bool { return true }, get: p.overview}
	p.blades["json"] = blade{title: "JSON View", applies: func(id arm.ResourceID) bool { return !id.IsRoot() }, get: p.jsonView}
	for _, add := range extraBlades {
		add(p)
	}
}

// extraBlades register the blades of other files (networking, access
// control, deployments).
var extraBlades []func(p *Portal)

// resource serves /resource{id}[/{blade}]: an ARM id has an even number of
// segments, so an odd one names the blade.
func (p *Portal) resource(c *reqCtx) (*view, error) {
	segs := strings.Split(strings.Trim(c.r.PathValue("path"), "/"), "/")
	name := "overview"
	if len(segs)%2 == 1 {
		name, segs = segs[len(segs)-1], segs[:len(segs)-1]
	}
	id, aerr := arm.ParseResourceID("/" + strings.Join(segs, "/"))
	if aerr != nil || len(segs) == 0 {
		return nil, &APIError{Status: http.StatusNotFound, Code: "InvalidResourceId", Message: "'/" + strings.Join(segs, "/") + "' is not a resource id."}
	}
	b, ok := p.blades[name]
	if !ok || !b.applies(id) {
		return nil, &APIError{Status: http.StatusNotFound, Code: "NotFound", Message: "A " + typeName(id.Type()) + " has no page '" + name + "'."}
	}
	var v *view
	var err error
	switch {
	case c.r.Method == http.MethodPost && b.post != nil:
		v, err = b.post(c, id)
	case c.r.Method == http.MethodPost:
		return nil, &APIError{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed", Message: "This page changes nothing."}
	default:
		v, err = b.get(c, id)
	}
	if v == nil && err == nil {
		return nil, nil
	}
	if v == nil {
		v = &view{Page: "problem"}
	}
	p.frame(c, v, id, name)
	return v, err
}

// frame gives a resource page its menu, breadcrumbs and titles.
func (p *Portal) frame(c *reqCtx, v *view, id arm.ResourceID, active string) {
	v.Active = active
	if v.Title == "" {
		// "mycluster | Networking", as Azure's portal titles a blade.
		v.Title = id.Name()
		if b, ok := p.blades[active]; ok && active != "overview" {
			v.Title += " | " + b.title
		}
	}
	if v.Subtitle == "" {
		v.Subtitle = typeName(id.Type())
	}
	v.Crumbs = crumbsOf(id)
	// The subscription's crumb reads its display name, as in Azure's
	// portal (its id when the caller may not read it).
	if len(v.Crumbs) > 1 && id.SubscriptionID() != "" {
		var sub struct {
			DisplayName string `json:"displayName"`
		}
		if c.api.get(withVersion("/subscriptions/"+id.SubscriptionID(), "2022-12-01"), &sub) == nil && sub.DisplayName != "" {
			v.Crumbs[1].Label = sub.DisplayName
		}
	}
	v.Menu = nil
	for _, n := range bladeOrder {
		if b, ok := p.blades[n]; ok && b.applies(id) {
			v.Menu = append(v.Menu, menuItem{Label: b.title, Href: resourceURL(id.String()) + "/" + n, Blade: n})
		}
	}
}

// crumbsOf leads from Home through the subscription, the group and the
// parents of id.
func crumbsOf(id arm.ResourceID) []crumb {
	out := []crumb{{"Home", "/"}}
	var chain []arm.ResourceID
	for x := id; !x.IsRoot(); x = x.Parent() {
		chain = append(chain, x)
		if x.IsSubscription() {
			break
		}
	}
	for i := len(chain) - 1; i >= 1; i-- {
		out = append(out, crumb{chain[i].Name(), resourceURL(chain[i].String())})
	}
	return out
}

// Known api-versions the portal reads types with; other types take the
// newest their provider registration lists.
var knownVersions = map[string]string{
	"microsoft.resources/subscriptions":                "2022-12-01",
	"microsoft.resources/resourcegroups":               "2021-04-01",
	"microsoft.resources/deployments":                  "2021-04-01",
	"microsoft.kusto/clusters":                         "2024-04-13",
	"microsoft.kusto/clusters/managedprivateendpoints": "2024-04-13",
	"microsoft.storage/storageaccounts":                "2024-01-01",
	"microsoft.eventhub/namespaces":                    "2024-01-01",
	"microsoft.devices/iothubs":                        "2023-06-30",
	"microsoft.keyvault/vaults":                        "2023-07-01",
	"microsoft.sql/servers":                            "2021-11-01",
	"microsoft.digitaltwins/digitaltwinsinstances":     "2023-01-31",
	"microsoft.managedidentity/userassignedidentities": "2023-01-31",
	"microsoft.authorization/roleassignments":          "2022-04-01",
	"microsoft.authorization/roledefinitions":          "2022-04-01",
}

var versionCache sync.Map // lower-cased type -> api-version

// APIVersionOf is the api-version the portal reads a private link target
// type with: the one it knows for the type, else the newest accepted.
func APIVersionOf(typ string, accepted []string) string {
	if v, ok := knownVersions[strings.ToLower(typ)]; ok {
		return v
	}
	if len(accepted) > 0 {
		return accepted[len(accepted)-1]
	}
	return "2021-04-01"
}

// apiVersion is the api-version to read resources of typ with.
func (c *reqCtx) apiVersion(id arm.ResourceID) string {
	typ := strings.ToLower(id.Type())
	if v, ok := knownVersions[typ]; ok {
		return v
	}
	for _, t := range c.p.cfg.Targets {
		if strings.EqualFold(t.Type, typ) {
			return t.APIVersion
		}
	}
	if v, ok := versionCache.Load(typ); ok {
		return v.(string)
	}
	ns, rest, _ := strings.Cut(id.Type(), "/")
	sub := id.SubscriptionID()
	if sub == "" {
		return "2021-04-01"
	}
	var reg struct {
		ResourceTypes []struct {
			ResourceType string   `json:"resourceType"`
			APIVersions  []string `json:"apiVersions"`
		} `json:"resourceTypes"`
	}
	if err := c.api.get(withVersion("/subscriptions/"+sub+"/providers/"+ns, "2021-04-01"), &reg); err == nil {
		for _, t := range reg.ResourceTypes {
			if strings.EqualFold(t.ResourceType, rest) && len(t.APIVersions) > 0 {
				versionCache.Store(typ, t.APIVersions[0])
				return t.APIVersions[0]
			}
		}
	}
	return "2021-04-01"
}

// read gets a resource's document.
func (c *reqCtx) read(id arm.ResourceID) (map[string]any, error) {
	var doc map[string]any
	err := c.api.get(withVersion(id.String(), c.apiVersion(id)), &doc)
	return doc, err
}

// overviewData is a resource's overview: its essentials, its document,
// and what it holds (a subscription's groups, a group's resources).
type overviewData struct {
	ID, Type, Group, Location, Subscription, State string
	Doc                                            map[string]any
	Children                                       []row
	ChildrenTitle                                  string
	// Extra are a type's own essentials (a managed private endpoint's
	// target and states).
	Extra []essential
}

func (p *Portal) overview(c *reqCtx, id arm.ResourceID) (*view, error) {
	doc, err := c.read(id)
	if err != nil {
		return nil, err
	}
	r := rowOf(doc)
	d := &overviewData{ID: id.String(), Type: id.Type(), Group: r.Group, Location: r.Location, Subscription: id.SubscriptionID(), State: r.State, Doc: doc}
	if id.IsSubscription() {
		d.Type = "Microsoft.Resources/subscriptions"
	}
	switch {
	case id.IsSubscription():
		d.ChildrenTitle = "Resource groups"
		items, err := c.api.list(withVersion(id.String()+"/resourcegroups", groupsVersion))
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			x := rowOf(it)
			x.Type, x.Group = "Microsoft.Resources/resourceGroups", x.Name
			d.Children = append(d.Children, x)
		}
	case id.IsResourceGroup():
		d.ChildrenTitle = "Resources"
		items, err := c.api.list(withVersion(id.String()+"/resources", groupsVersion) + "&$expand=provisioningState")
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			d.Children = append(d.Children, rowOf(it))
		}
	}
	if strings.EqualFold(id.Type(), netEndpointType) {
		d.Extra = c.endpointEssentials(id)
	}
	sortRows(d.Children)
	title := id.Name()
	if id.IsSubscription() {
		if n, _ := doc["displayName"].(string); n != "" {
			title = n
		}
	}
	return &view{Page: "overview", Title: title, Data: d}, nil
}

// jsonView shows the resource's document as the API answers it.
func (p *Portal) jsonView(c *reqCtx, id arm.ResourceID) (*view, error) {
	rec, err := c.api.do(http.MethodGet, withVersion(id.String(), c.apiVersion(id)), nil)
	if err != nil {
		return nil, err
	}
	var pretty any
	_ = json.Unmarshal(rec.body.Bytes(), &pretty)
	return &view{Page: "json", Data: map[string]any{"Doc": pretty, "ID": id.String(), "Version": c.apiVersion(id)}}, nil
}

// essential is one line of a resource's essentials.
type essential struct {
	Label, Value, Href string
	// State shows Value as a state (coloured).
	State bool
}

// endpointEssentials are a managed private endpoint's target, sub-resource
// and states, the last read from the target's connection as the cluster's
// Networking page shows them.
func (c *reqCtx) endpointEssentials(id arm.ResourceID) []essential {
	for _, s := range c.netEndpointStates(id.Parent()) {
		if !strings.EqualFold(s.ID, id.String()) {
			continue
		}
		target := essential{Label: "Target resource", Value: s.PrivateLinkResourceID}
		if tid, err := arm.ParseResourceID(s.PrivateLinkResourceID); err == nil {
			target.Value, target.Href = tid.Name()+" ("+typeName(tid.Type())+")", resourceURL(tid.String())
		}
		out := []essential{target, {Label: "Target sub-resource", Value: s.GroupID},
			{Label: "Connection state", Value: s.ConnectionState, State: true}}
		if s.Description != "" {
			out = append(out, essential{Label: "Description", Value: s.Description})
		}
		// The data path's view of it (privlink's own endpoint: ARM's
		// schema has no such property): its private address and the
		// names that resolve to it from the cluster.
		var n struct {
			PrivateIPAddress string `json:"privateIPAddress"`
			CustomDNSConfigs []struct {
				FQDN string `json:"fqdn"`
			} `json:"customDnsConfigs"`
		}
		if c.api.get("/_privlink/network?id="+url.QueryEscape(id.String()), &n) == nil && n.PrivateIPAddress != "" {
			out = append(out, essential{Label: "Private IP address", Value: n.PrivateIPAddress})
			var names []string
			for _, d := range n.CustomDNSConfigs {
				names = append(names, d.FQDN)
			}
			if len(names) > 0 {
				out = append(out, essential{Label: "DNS names (from the cluster)", Value: strings.Join(names, ", ")})
			}
		}
		return out
	}
	return nil
}
