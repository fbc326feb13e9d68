package portal

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/privlink/privlink/internal/arm"
)

// The Networking blade of clusters and of the private link target types:
// a cluster's managed private endpoints (list, add through the New managed
// private endpoint pane, delete) and every target's private endpoint
// connections (approve, reject, remove), as the seed's portal steps walk
// them. Everything is read and written through the API as the signed-in
// principal; the states shown are the API's, polled while they change.
//
// One URL, /resource{id}/networking, with query parameters:
//
//	tab=managed|connections      the tab shown
//	tab=managed&pane=add         the New managed private endpoint pane
//	tab=managed&delete={name}    the confirmation of a deletion
//	part=endpoints|connections   the live part of a tab (htmx polling)
//	part=resources|groups        the pane's dependent fields (htmx)
//
// and POSTs with an "action" field: next, back, create (the pane), delete
// (a managed private endpoint), approve, reject, remove (connections).

func init() {
	extraBlades = append(extraBlades, func(p *Portal) {
		p.blades["networking"] = blade{title: "Networking", applies: func(id arm.ResourceID) bool { return p.netTarget(id) != nil },
			get: p.networking, post: p.networkingPost}
	})
}

const (
	netClusterType  = "Microsoft.Kusto/clusters"
	netEndpointType = "Microsoft.Kusto/clusters/managedPrivateEndpoints"
	// netEndpointVersion is the api-version of managed private endpoints.
	netEndpointVersion = "2024-04-13"
	// netPolls is how many times a tab polls after an action although
	// nothing it shows is changing, for what follows the action elsewhere
	// (the other side of a connection) to show without a refresh.
	netPolls = 3
)

// netNameRule is the rule of managed private endpoint names (the API's:
// that of the Microsoft.Network private endpoint each stands for).
var netNameRule = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,78}[a-zA-Z0-9_])?$`)

const netNameRuleText = "The name must be 1 to 80 characters of letters, digits, '_', '.' and '-', start with a letter or digit, and end with a letter, digit or '_'."

// netTarget is the private link target type of id, or nil when id is not a
// target (clusters are targets too).
func (p *Portal) netTarget(id arm.ResourceID) *Target {
	if id.IsRoot() || id.IsSubscription() || id.IsResourceGroup() || id.IsProvider() {
		return nil
	}
	return p.netTargetType(id.Type())
}

func (p *Portal) netTargetType(typ string) *Target {
	for i := range p.cfg.Targets {
		if strings.EqualFold(p.cfg.Targets[i].Type, typ) {
			return &p.cfg.Targets[i]
		}
	}
	return nil
}

func netIsCluster(id arm.ResourceID) bool { return strings.EqualFold(id.Type(), netClusterType) }

// netBase is the URL of id's Networking blade.
func netBase(id arm.ResourceID) string { return resourceURL(id.String()) + "/networking" }

// netTypeLabel names a target type for people, with the type itself.
func netTypeLabel(typ string) string {
	if n := typeName(typ); n != typ {
		return n + " (" + typ + ")"
	}
	return typ
}

// netData is the Networking page's.
type netData struct {
	URL  string
	Tabs []netTab
	// One of these is set: the tab or step shown.
	Managed   *netManaged
	Pane      *netPane
	Delete    *netDelete
	Conns     *netConns
	Endpoints *netEndpoints
	Resource  *netResourceField
	Group     *netGroupField
}

type netTab struct {
	Label, Href string
	Active      bool
}

func (p *Portal) netTabs(id arm.ResourceID, active string) []netTab {
	base := netBase(id)
	var tabs []netTab
	if netIsCluster(id) {
		tabs = append(tabs, netTab{"Managed private endpoints", base + "?tab=managed", active == "managed"})
	}
	return append(tabs, netTab{"Private endpoint connections", base + "?tab=connections", active == "connections"})
}

// networking serves the blade's GETs.
func (p *Portal) networking(c *reqCtx, id arm.ResourceID) (*view, error) {
	q := c.r.URL.Query()
	frag := func(name string, d *netData) (*view, error) {
		return &view{Page: "networking", Fragment: name, Data: d}, nil
	}
	switch q.Get("part") {
	case "endpoints":
		e := p.netEndpointsOf(c, id, netMore(q))
		e.follow(q.Get("created"), q.Get("deleted"), false)
		return frag("net-frag-endpoints", &netData{Endpoints: e})
	case "connections":
		conns := p.netConnectionsOf(c, id, q["connection"])
		conns.poll(netMore(q))
		return frag("net-frag-conn-live", &netData{Conns: conns})
	case "resources":
		f := p.netResourceFieldOf(c, id, q.Get("subscription"), q.Get("type"), "", "")
		return frag("net-frag-resource", &netData{Resource: f})
	case "groups":
		g := p.netGroupFieldOf(c, q.Get("type"), q.Get("resource"), "")
		return frag("net-frag-group", &netData{Group: g})
	}
	// A principal that may not read the resource is told so by the API,
	// whatever the tab.
	if _, err := c.read(id); err != nil {
		return nil, err
	}
	tab := q.Get("tab")
	if tab != "connections" && tab != "managed" || tab == "managed" && !netIsCluster(id) {
		tab = "connections"
		if netIsCluster(id) {
			tab = "managed"
		}
	}
	d := &netData{URL: netBase(id), Tabs: p.netTabs(id, tab)}
	v := &view{Page: "networking", Data: d}
	if tab == "connections" {
		d.Conns = p.netConnectionsOf(c, id, nil)
		d.Conns.poll(0)
		return v, nil
	}
	switch {
	case q.Get("pane") == "add":
		d.Pane = p.netNewPane(c, id, netPaneValues{Subscription: id.SubscriptionID(), Type: q.Get("type"), Resource: q.Get("resource"), Group: q.Get("group")})
	case q.Get("delete") != "":
		d.Delete = p.netDeleteOf(c, id, q.Get("delete"))
	default:
		more := 0
		if q.Get("created") != "" || q.Get("deleted") != "" {
			more = netPolls
		}
		d.Managed = p.netManagedOf(c, id, more)
		if d.Managed.Endpoints != nil {
			d.Managed.Endpoints.follow(q.Get("created"), q.Get("deleted"), true)
		}
	}
	return v, nil
}

// netMore is the number of polls left after an action.
func netMore(q url.Values) int {
	n, _ := strconv.Atoi(q.Get("more"))
	if n < 0 || n > netPolls {
		return 0
	}
	return n
}

// networkingPost serves the blade's POSTs. Answers to htmx requests are the
// part of the page they replace; without htmx, the whole page.
func (p *Portal) networkingPost(c *reqCtx, id arm.ResourceID) (*view, error) {
	htmx := c.r.Header.Get("HX-Request") == "true"
	action := c.r.PostFormValue("action")
	d := &netData{URL: netBase(id)}
	v := &view{Page: "networking", Data: d}
	switch action {
	case "next", "back", "create":
		if !netIsCluster(id) {
			return nil, &APIError{Status: http.StatusNotFound, Code: "NotFound", Message: "Only a cluster has managed private endpoints."}
		}
		d.Tabs = p.netTabs(id, "managed")
		pane, done := p.netPaneStep(c, id, action)
		if done != "" {
			return c.redirect(netBase(id) + "?tab=managed&created=" + url.QueryEscape(done))
		}
		d.Pane = pane
		if htmx {
			v.Fragment = "net-frag-pane"
		}
		return v, nil
	case "delete":
		name := c.r.PostFormValue("name")
		_, err := c.api.do(http.MethodDelete, withVersion(id.String()+"/managedPrivateEndpoints/"+url.PathEscape(name), netEndpointVersion), nil)
		if err == nil {
			return c.redirect(netBase(id) + "?tab=managed&deleted=" + url.QueryEscape(name))
		}
		d.Tabs = p.netTabs(id, "managed")
		d.Delete = p.netDeleteOf(c, id, name)
		d.Delete.Problem = "Managed private endpoint " + name + " was not deleted. " + plain(err)
		if ae, ok := err.(*APIError); ok {
			d.Delete.ProblemJSON = ae.Raw
		}
		return v, nil
	case "approve", "reject", "remove", "cancel":
		d.Tabs = p.netTabs(id, "connections")
		d.Conns = p.netConnectionAction(c, id, action)
		if htmx {
			v.Fragment = "net-frag-connections"
		}
		return v, nil
	}
	return nil, &APIError{Status: http.StatusBadRequest, Code: "BadRequest", Message: "The page sent no action this page knows ('" + action + "')."}
}

// --- the cluster's managed private endpoints ---

// netManaged is the Managed private endpoints tab.
type netManaged struct {
	URL       string
	CanAdd    netAllowed
	Endpoints *netEndpoints
}

// netEndpoints is the tab's live part: the table and its warnings.
type netEndpoints struct {
	URL      string
	Rows     []netEndpointRow
	Warnings []netWarning
	// Poll is the URL polled for the next state ("" once all are final).
	Poll      string
	Status    string
	CanDelete netAllowed
	// For the "messages" partial.
	Notice, Problem, ProblemJSON string
	// FocusNotice puts the keyboard's focus on the notice.
	FocusNotice bool
}

// follow says how the endpoint just created or deleted stands, in the
// live part of the page so that the words change with the table, and
// keeps the name in the poll's URL. focus moves the keyboard's focus to
// the words on the page's first render (not on polls, which would take
// it away from where the person is).
func (e *netEndpoints) follow(created, deleted string, focus bool) {
	var row *netEndpointRow
	name := created + deleted
	if name == "" || e.Problem != "" {
		return
	}
	for i := range e.Rows {
		if strings.EqualFold(e.Rows[i].Name, name) {
			row = &e.Rows[i]
		}
	}
	switch {
	case created != "" && row == nil:
		e.Notice = "Managed private endpoint " + created + " is not there (any more)."
	case created != "" && !netFinal(row.State):
		e.Notice = "Creating managed private endpoint " + created + ". Its states update here as they change."
	case created != "":
		e.Notice = "Managed private endpoint " + created + ": " + row.State + "; its connection is " + row.ConnState + "."
	case row != nil:
		e.Notice = "Deleting managed private endpoint " + deleted + "."
	default:
		e.Notice = "Managed private endpoint " + deleted + " was deleted."
	}
	e.FocusNotice = focus
	if e.Poll != "" {
		if created != "" {
			e.Poll += "&created=" + url.QueryEscape(created)
		} else {
			e.Poll += "&deleted=" + url.QueryEscape(deleted)
		}
	}
}

type netEndpointRow struct {
	Name, ID, Target, TargetName, TargetType, Group, State, ConnState, Description string
}

type netWarning struct{ Name, Text string }

// netEndpointState is an item of GET /_privlink/endpoints.
type netEndpointState struct {
	ID                    string   `json:"id"`
	ProvisioningState     string   `json:"provisioningState"`
	PrivateLinkResourceID string   `json:"privateLinkResourceId"`
	GroupID               string   `json:"groupId"`
	ConnectionState       string   `json:"connectionState"`
	Description           string   `json:"description"`
	Notes                 []string `json:"notes"`
}

func (p *Portal) netManagedOf(c *reqCtx, id arm.ResourceID, more int) *netManaged {
	perms := c.netPermissions(id.String())
	m := &netManaged{URL: netBase(id), CanAdd: netAllowed{OK: true}}
	if !perms.may(netEndpointType + "/write") {
		m.CanAdd = netAllowed{Reason: "You may not add managed private endpoints to " + id.Name() + ": none of your roles there grants " + netEndpointType + "/write (the Owner and Contributor roles do)."}
	}
	m.Endpoints = p.netEndpointsOfPerms(c, id, more, perms)
	return m
}

func (p *Portal) netEndpointsOf(c *reqCtx, id arm.ResourceID, more int) *netEndpoints {
	return p.netEndpointsOfPerms(c, id, more, c.netPermissions(id.String()))
}

// netEndpointsOfPerms reads the cluster's endpoints with privlink's view
// of their connections (the state the target holds, which the Kusto API
// does not show).
func (p *Portal) netEndpointsOfPerms(c *reqCtx, id arm.ResourceID, more int, perms netPerms) *netEndpoints {
	e := &netEndpoints{URL: netBase(id), CanDelete: netAllowed{OK: true}}
	if !perms.may(netEndpointType + "/delete") {
		e.CanDelete = netAllowed{Reason: "You may not delete managed private endpoints of " + id.Name() + ": none of your roles there grants " + netEndpointType + "/delete (the Owner and Contributor roles do)."}
	}
	states, err := c.netEndpointStatesErr(id)
	if err != nil {
		e.Problem = "The managed private endpoints could not be read. " + plain(err)
		if ae, ok := err.(*APIError); ok {
			e.ProblemJSON = ae.Raw
		}
		return e
	}
	changing := 0
	for _, s := range states {
		r := netEndpointRow{Name: lastSegment(s.ID), ID: s.ID, Target: s.PrivateLinkResourceID, Group: s.GroupID,
			State: s.ProvisioningState, ConnState: s.ConnectionState, Description: s.Description}
		if tid, err := arm.ParseResourceID(s.PrivateLinkResourceID); err == nil {
			r.TargetName, r.TargetType = tid.Name(), typeName(tid.Type())
		} else {
			r.TargetName = s.PrivateLinkResourceID
		}
		if !netFinal(r.State) {
			changing++
		}
		for _, n := range s.Notes {
			e.Warnings = append(e.Warnings, netWarning{Name: r.Name, Text: n})
		}
		e.Rows = append(e.Rows, r)
	}
	sort.Slice(e.Rows, func(i, j int) bool { return strings.ToLower(e.Rows[i].Name) < strings.ToLower(e.Rows[j].Name) })
	switch {
	case changing > 0:
		e.Status = plural(changing, "managed private endpoint is", "managed private endpoints are") + " still changing; this table updates by itself."
		e.Poll = netBase(id) + "?part=endpoints&more=" + strconv.Itoa(netPolls)
	case more > 0:
		e.Poll = netBase(id) + "?part=endpoints&more=" + strconv.Itoa(more-1)
	}
	return e
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// netFinal reports whether a provisioning state no longer changes by itself.
func netFinal(state string) bool {
	switch strings.ToLower(state) {
	case "succeeded", "failed", "canceled", "ready", "":
		return true
	}
	return false
}

// netDelete is the confirmation of a deletion.
type netDelete struct {
	URL, CSRF, Name, TargetName, TypeName, Group string
	Notice, Problem, ProblemJSON                 string
}

func (p *Portal) netDeleteOf(c *reqCtx, id arm.ResourceID, name string) *netDelete {
	d := &netDelete{URL: netBase(id), CSRF: c.s.CSRF, Name: name}
	var s netEndpointState
	eid := id.String() + "/managedPrivateEndpoints/" + name
	if err := c.api.get("/_privlink/endpoints?id="+url.QueryEscape(eid), &s); err != nil {
		d.Problem = plain(err)
		if ae, ok := err.(*APIError); ok {
			d.ProblemJSON = ae.Raw
		}
		return d
	}
	d.Group = s.GroupID
	if tid, err := arm.ParseResourceID(s.PrivateLinkResourceID); err == nil {
		d.TargetName, d.TypeName = tid.Name(), typeName(tid.Type())
	}
	return d
}

// --- the New managed private endpoint pane ---

// netPaneValues are what the pane's fields hold.
type netPaneValues struct {
	Name, Subscription, Type, Resource, Group, Message string
}

// netPane is the New managed private endpoint pane, at its form or its
// review step.
type netPane struct {
	netPaneValues
	URL, Action, Cancel, CSRF string
	Review                    bool
	CanAdd                    netAllowed
	Subscriptions, Types      []netOption
	Res                       *netResourceField
	// Errors are said next to their fields ("name", "subscription",
	// "type", "message"; the resource's and the group's are in Res).
	Errors map[string]string
	// Focus is the field to focus (the first with an error).
	Focus string
	// The review step.
	ClusterName, SubscriptionName, TypeLabel, ResourceName, Approval string
	// DfsWarning is said on review when a dfs endpoint will have no blob
	// endpoint to the same account beside it.
	DfsWarning                   string
	Notice, Problem, ProblemJSON string
}

type netOption struct {
	Value, Label string
	Selected     bool
}

// netResourceField is the Resource name field, which holds the Target
// sub-resource field: both follow from the subscription and type chosen.
type netResourceField struct {
	URL, Value, Hint, Error string
	Options                 []netOption
	Group                   *netGroupField
}

type netGroupField struct {
	Value, Hint, Error string
	Options            []netOption
}

func (p *Portal) netNewPane(c *reqCtx, id arm.ResourceID, in netPaneValues) *netPane {
	base := netBase(id)
	pn := &netPane{netPaneValues: in, URL: base, Action: base + "?tab=managed&pane=add", Cancel: base + "?tab=managed",
		CSRF: c.s.CSRF, ClusterName: id.Name(), Errors: map[string]string{}, CanAdd: netAllowed{OK: true}}
	if !c.netPermissions(id.String()).may(netEndpointType + "/write") {
		pn.CanAdd = netAllowed{Reason: "None of your roles at " + id.Name() + " grants " + netEndpointType + "/write (the Owner and Contributor roles do): privlink will refuse to create it."}
	}
	subs, err := c.subscriptionsOf()
	if err != nil {
		pn.Errors["subscription"] = "Your subscriptions could not be listed. " + plain(err)
	}
	for _, s := range subs {
		pn.Subscriptions = append(pn.Subscriptions, netOption{Value: s.SubscriptionID, Label: s.Name, Selected: strings.EqualFold(s.SubscriptionID, in.Subscription)})
		if strings.EqualFold(s.SubscriptionID, in.Subscription) {
			pn.SubscriptionName = s.Name
		}
	}
	for _, t := range p.cfg.Targets {
		sel := strings.EqualFold(t.Type, in.Type)
		pn.Types = append(pn.Types, netOption{Value: t.Type, Label: netTypeLabel(t.Type), Selected: sel})
		if sel {
			pn.TypeLabel = netTypeLabel(t.Type)
		}
	}
	pn.Res = p.netResourceFieldOf(c, id, in.Subscription, in.Type, in.Resource, in.Group)
	return pn
}

// netResourceFieldOf lists the resources of type typ in subscription sub
// that the principal sees, and the sub-resources of the one chosen.
func (p *Portal) netResourceFieldOf(c *reqCtx, cluster arm.ResourceID, sub, typ, resource, group string) *netResourceField {
	f := &netResourceField{URL: netBase(cluster), Value: resource}
	t := p.netTargetType(typ)
	switch {
	case sub == "" && t == nil:
		f.Hint = "Choose a subscription and a resource type first."
	case sub == "":
		f.Hint = "Choose a subscription first."
	case t == nil:
		f.Hint = "Choose a resource type first."
	}
	if f.Hint != "" {
		f.Value = ""
		f.Group = &netGroupField{Hint: "Choose a resource first."}
		return f
	}
	items, err := c.api.list(withVersion("/subscriptions/"+url.PathEscape(sub)+"/providers/"+t.Type, t.APIVersion))
	if err != nil {
		f.Error = "The " + typeName(t.Type) + " resources of this subscription could not be listed. " + plain(err)
	}
	names := map[string]int{}
	var rows []row
	for _, it := range items {
		r := rowOf(it)
		rows = append(rows, r)
		names[strings.ToLower(r.Name)]++
	}
	sortRows(rows)
	found := false
	for _, r := range rows {
		label := r.Name
		if names[strings.ToLower(r.Name)] > 1 {
			label += " (resource group " + r.Group + ")"
		}
		sel := strings.EqualFold(r.ID, resource)
		found = found || sel
		f.Options = append(f.Options, netOption{Value: r.ID, Label: label, Selected: sel})
	}
	if err == nil && len(rows) == 0 {
		f.Hint = "You can see no " + typeName(t.Type) + " in this subscription: there is none, or none of your roles lets you read one."
	}
	if !found {
		f.Value, resource = "", ""
	}
	f.Group = p.netGroupFieldOf(c, t.Type, resource, group)
	return f
}

// netGroupFieldOf lists the sub-resources that resource offers (its
// privateLinkResources) and a managed private endpoint may ask for.
func (p *Portal) netGroupFieldOf(c *reqCtx, typ, resource, group string) *netGroupField {
	g := &netGroupField{Value: group}
	t := p.netTargetType(typ)
	rid, aerr := arm.ParseResourceID(resource)
	if t == nil || resource == "" || aerr != nil || !strings.EqualFold(rid.Type(), t.Type) {
		g.Value, g.Hint = "", "Choose a resource first."
		return g
	}
	var offered []string
	items, err := c.api.list(withVersion(rid.String()+"/privateLinkResources", t.APIVersion))
	if err != nil {
		// The API decides on Create; offer what a managed private
		// endpoint may ask for of such a resource.
		g.Hint = "The sub-resources of " + rid.Name() + " could not be read (" + plain(err) + "); these are the ones a managed private endpoint may ask for."
		offered = t.Managed
	} else {
		for _, it := range items {
			gid := strOf(it, "properties", "groupId")
			for _, m := range t.Managed {
				if strings.EqualFold(m, gid) {
					offered = append(offered, gid)
				}
			}
		}
	}
	if len(offered) == 1 && group == "" {
		group = offered[0]
	}
	found := false
	for _, o := range offered {
		sel := strings.EqualFold(o, group)
		found = found || sel
		g.Options = append(g.Options, netOption{Value: o, Label: o, Selected: sel})
	}
	g.Value = ""
	if found {
		g.Value = group
	}
	if err == nil && len(offered) == 0 {
		g.Hint = rid.Name() + " offers no sub-resource that a managed private endpoint may ask for."
	}
	return g
}

// strOf is the string at a path of keys in a JSON document ("" when it
// is missing or no string).
func strOf(m map[string]any, keys ...string) string {
	s, _ := valueAt(m, keys...).(string)
	return s
}

// valueAt is the value at a path of keys in a JSON document, or nil.
func valueAt(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// netPaneStep handles the pane's Next, Back and Create: it returns the
// pane to show, or the name of the endpoint created.
func (p *Portal) netPaneStep(c *reqCtx, id arm.ResourceID, action string) (*netPane, string) {
	f := c.r.PostFormValue
	in := netPaneValues{Name: strings.TrimSpace(f("name")), Subscription: f("subscription"), Type: f("type"),
		Resource: f("resource"), Group: f("group"), Message: f("message")}
	pn := p.netNewPane(c, id, in)
	if action == "back" {
		return pn, ""
	}
	if !p.netValidate(c, id, pn) {
		pn.Problem = "Some fields need attention; each says what is wrong."
		return pn, ""
	}
	if action == "next" {
		pn.Review = true
		pn.ResourceName = lastSegment(in.Resource)
		pn.Approval = p.netApprovalText(c, in)
		if strings.EqualFold(in.Group, "dfs") && !p.netHasBlob(c, id, in.Resource) {
			pn.DfsWarning = "dfs traffic to a storage account also needs a managed private endpoint to its 'blob' sub-resource; " +
				"this cluster has none to " + pn.ResourceName + " yet: add one too."
		}
		return pn, ""
	}
	props := map[string]string{"privateLinkResourceId": in.Resource, "groupId": in.Group}
	if in.Message != "" {
		props["requestMessage"] = in.Message
	}
	_, err := c.api.do(http.MethodPut, withVersion(id.String()+"/managedPrivateEndpoints/"+url.PathEscape(in.Name), netEndpointVersion),
		map[string]any{"properties": props})
	if err == nil {
		return nil, in.Name
	}
	pn.Problem = "Managed private endpoint " + in.Name + " was not created. " + plain(err)
	if ae, ok := err.(*APIError); ok {
		pn.ProblemJSON = ae.Raw
		// Said next to the field it is about, too.
		switch ae.Code {
		case "RequestMessageTooLong":
			pn.Errors["message"] = ae.Message
		case "InvalidResourceName":
			pn.Errors["name"] = ae.Message
		case "InvalidGroupId":
			pn.Res.Group.Error = ae.Message
		case "PrivateLinkResourceNotFound", "LinkedInvalidPropertyID", "PrivateLinkResourceTypeNotSupported":
			pn.Res.Error = ae.Message
		}
		pn.Focus = netFirstError(pn)
	}
	return pn, ""
}

// netValidate checks the pane's fields, as far as the portal can before
// the API decides: every field chosen, the name's rule, and (the API's
// answer) whether the name is free in this cluster.
func (p *Portal) netValidate(c *reqCtx, id arm.ResourceID, pn *netPane) bool {
	in := pn.netPaneValues
	switch {
	case in.Name == "":
		pn.Errors["name"] = "Enter a name for the managed private endpoint."
	case !netNameRule.MatchString(in.Name):
		pn.Errors["name"] = netNameRuleText
	default:
		var res struct {
			NameAvailable bool   `json:"nameAvailable"`
			Message       string `json:"message"`
		}
		rec, err := c.api.do(http.MethodPost, withVersion(id.String()+"/managedPrivateEndpointsCheckNameAvailability", netEndpointVersion),
			map[string]string{"name": in.Name, "type": netEndpointType})
		if err == nil && json.Unmarshal(rec.body.Bytes(), &res) == nil && !res.NameAvailable {
			pn.Errors["name"] = res.Message
		}
	}
	if in.Subscription == "" {
		pn.Errors["subscription"] = "Choose the subscription of the resource to connect to."
	}
	if p.netTargetType(in.Type) == nil {
		pn.Errors["type"] = "Choose the type of the resource to connect to."
	}
	if pn.Res.Value == "" && pn.Res.Error == "" && pn.Errors["type"] == "" && in.Subscription != "" {
		pn.Res.Error = "Choose the resource to connect to."
	}
	if pn.Res.Group.Value == "" && pn.Res.Value != "" {
		pn.Res.Group.Error = "Choose the sub-resource of " + lastSegment(pn.Res.Value) + " to connect to."
	}
	pn.Focus = netFirstError(pn)
	return pn.Focus == ""
}

// netFirstError is the first field, in the pane's order, with an error.
func netFirstError(pn *netPane) string {
	for _, k := range []string{"name", "subscription", "type"} {
		if pn.Errors[k] != "" {
			return k
		}
	}
	switch {
	case pn.Res.Error != "":
		return "resource"
	case pn.Res.Group.Error != "":
		return "group"
	case pn.Errors["message"] != "":
		return "message"
	}
	return ""
}

// netHasBlob reports whether cluster has a managed private endpoint to the
// blob sub-resource of account (the seed: dfs needs blob beside it).
func (p *Portal) netHasBlob(c *reqCtx, cluster arm.ResourceID, account string) bool {
	for _, s := range c.netEndpointStates(cluster) {
		if strings.EqualFold(s.PrivateLinkResourceID, account) && strings.EqualFold(s.GroupID, "blob") {
			return true
		}
	}
	return false
}

// netEndpointStates are the cluster's endpoints with the states read from
// their targets (nil when they cannot be read).
func (c *reqCtx) netEndpointStates(cluster arm.ResourceID) []netEndpointState {
	states, _ := c.netEndpointStatesErr(cluster)
	return states
}

// netEndpointStatesErr is netEndpointStates with the API's refusal.
func (c *reqCtx) netEndpointStatesErr(cluster arm.ResourceID) ([]netEndpointState, error) {
	var out struct {
		Value []netEndpointState `json:"value"`
	}
	err := c.api.get("/_privlink/endpoints?cluster="+url.QueryEscape(cluster.String()), &out)
	return out.Value, err
}

// netApprovalText says what will become of the new endpoint's connection:
// approved at once when the principal may approve connections on the
// target (the API decides; this reads the same permissions), else Pending.
func (p *Portal) netApprovalText(c *reqCtx, in netPaneValues) string {
	t := p.netTargetType(in.Type)
	name := lastSegment(in.Resource)
	if t != nil && c.netPermissions(in.Resource).may(t.Type+"/privateEndpointConnectionsApproval/action") {
		return "You may approve connections to " + name + ", so the connection is approved at once."
	}
	return "The connection waits (Pending) until the owner of " + name + " approves it on " + name + "'s Networking page, under Private endpoint connections."
}

// --- a target's private endpoint connections ---

// netConns is the Private endpoint connections tab.
type netConns struct {
	URL, CSRF, Target, TypeName string
	Rows                        []netConnRow
	Poll, Status                string
	Approve, Remove             netAllowed
	// Reasons are the paragraphs saying why buttons are disabled.
	Reasons                               []netReason
	ApproveDescribedBy, RemoveDescribedBy string
	Results                               []netResult
	Failed                                bool
	Description                           string
	// Confirm asks before a rejection or a removal, as Azure's portal
	// does: neither can be undone from the target's side.
	Confirm                           *netConfirm
	Notice, Problem, ProblemJSON      string
	selected                          map[string]bool
	base                              string
	hasGroups, hasProvisioning, known bool
}

type netReason struct{ ID, Text string }

type netConnRow struct {
	Name, Key, ID, State, Description, PrivateEndpoint, Group, Provisioning string
	Selected                                                                bool
}

type netResult struct {
	Name, Text, JSON string
	OK               bool
}

// netConfirm is the question asked before rejecting or removing.
type netConfirm struct {
	Action, Verb, Question, Consequence string
	Names                               []string
}

// Done and Refused split the results of an action, so that what worked
// is not lost in the red box of what did not.
func (cs *netConns) Done() []netResult    { return cs.filter(true) }
func (cs *netConns) Refused() []netResult { return cs.filter(false) }

func (cs *netConns) filter(ok bool) []netResult {
	var out []netResult
	for _, r := range cs.Results {
		if r.OK == ok {
			out = append(out, r)
		}
	}
	return out
}

// netConnectionsOf lists the connections of target id.
func (p *Portal) netConnectionsOf(c *reqCtx, id arm.ResourceID, selected []string) *netConns {
	t := p.netTarget(id)
	cs := &netConns{URL: netBase(id), CSRF: c.s.CSRF, Target: id.Name(), TypeName: typeName(t.Type), base: netBase(id),
		selected: map[string]bool{}, Approve: netAllowed{OK: true}, Remove: netAllowed{OK: true}}
	for _, s := range selected {
		cs.selected[strings.ToLower(s)] = true
	}
	perms := c.netPermissions(id.String())
	conn, approval := t.Type+"/privateEndpointConnections", t.Type+"/privateEndpointConnectionsApproval/action"
	cs.Approve.OK = perms.mayAny(conn+"/write", approval)
	cs.Remove.OK = perms.mayAny(conn+"/delete", approval)
	switch {
	case !cs.Approve.OK && !cs.Remove.OK:
		r := netReason{"conn-reason", "You may not approve, reject or remove the connections of " + id.Name() + ": none of your roles there grants " +
			conn + "/write or /delete, or " + approval + " (the Owner and Contributor roles do)."}
		cs.Reasons, cs.ApproveDescribedBy, cs.RemoveDescribedBy = []netReason{r}, r.ID, r.ID
	case !cs.Approve.OK:
		r := netReason{"conn-approve-reason", "You may not approve or reject the connections of " + id.Name() + ": none of your roles there grants " +
			conn + "/write or " + approval + " (the Owner and Contributor roles do)."}
		cs.Reasons, cs.ApproveDescribedBy = []netReason{r}, r.ID
	case !cs.Remove.OK:
		r := netReason{"conn-remove-reason", "You may not remove the connections of " + id.Name() + ": none of your roles there grants " +
			conn + "/delete or " + approval + " (the Owner and Contributor roles do)."}
		cs.Reasons, cs.RemoveDescribedBy = []netReason{r}, r.ID
	}
	items, err := c.netListAny(withVersion(id.String()+"/privateEndpointConnections", t.APIVersion))
	if err != nil {
		cs.Problem = "The private endpoint connections could not be read. " + plain(err)
		if ae, ok := err.(*APIError); ok {
			cs.ProblemJSON = ae.Raw
		}
		return cs
	}
	cs.known = true
	for _, it := range items {
		r := netConnRow{Name: strOf(it, "name"), ID: strOf(it, "id"),
			State:        strOf(it, "properties", "privateLinkServiceConnectionState", "status"),
			Description:  strOf(it, "properties", "privateLinkServiceConnectionState", "description"),
			Provisioning: strOf(it, "properties", "provisioningState"),
			Group:        strOf(it, "properties", "groupId"),
		}
		if r.Name == "" {
			r.Name = lastSegment(r.ID)
		}
		r.Key = netKey(r.Name)
		if pe := strOf(it, "properties", "privateEndpoint", "id"); pe != "" {
			r.PrivateEndpoint = lastSegment(pe)
		}
		props, _ := it["properties"].(map[string]any)
		if gs, ok := props["groupIds"].([]any); ok && r.Group == "" {
			var names []string
			for _, g := range gs {
				if s, ok := g.(string); ok {
					names = append(names, s)
				}
			}
			r.Group = strings.Join(names, ", ")
		}
		r.Selected = cs.selected[strings.ToLower(r.Name)]
		cs.hasGroups = cs.hasGroups || r.Group != ""
		cs.hasProvisioning = cs.hasProvisioning || r.Provisioning != ""
		cs.Rows = append(cs.Rows, r)
	}
	sort.Slice(cs.Rows, func(i, j int) bool { return strings.ToLower(cs.Rows[i].Name) < strings.ToLower(cs.Rows[j].Name) })
	return cs
}

// HasGroups and HasProvisioning say whether the table shows those columns
// (connections of some types carry neither).
func (cs *netConns) HasGroups() bool       { return cs.hasGroups }
func (cs *netConns) HasProvisioning() bool { return cs.hasProvisioning }

// poll sets the URL the table polls while a connection's provisioning
// changes, or for more polls after an action.
func (cs *netConns) poll(more int) {
	changing := 0
	for _, r := range cs.Rows {
		if !netFinal(r.Provisioning) {
			changing++
		}
	}
	switch {
	case !cs.known:
	case changing > 0:
		cs.Status = plural(changing, "connection is", "connections are") + " still changing; this table updates by itself."
		cs.Poll = cs.base + "?part=connections&more=" + strconv.Itoa(netPolls)
	case more > 0:
		cs.Poll = cs.base + "?part=connections&more=" + strconv.Itoa(more-1)
	}
}

// netKey makes a connection name into a piece of an element id.
func netKey(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// netListAny lists a collection whose answer is {"value": [...]} with
// nextLinks, or a bare array (IoT Hub's connections).
func (c *reqCtx) netListAny(path string) ([]map[string]any, error) {
	rec, err := c.api.do(http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	body := strings.TrimSpace(rec.body.String())
	if strings.HasPrefix(body, "[") {
		var out []map[string]any
		err := json.Unmarshal([]byte(body), &out)
		return out, err
	}
	return c.api.list(path)
}

// netConnectionAction approves, rejects or removes the connections chosen,
// one API call each, and says how each went.
func (p *Portal) netConnectionAction(c *reqCtx, id arm.ResourceID, action string) *netConns {
	t := p.netTarget(id)
	if err := c.r.ParseForm(); err != nil {
		cs := p.netConnectionsOf(c, id, nil)
		cs.Problem = "The form could not be read: " + err.Error()
		return cs
	}
	names := c.r.PostForm["connection"]
	desc := c.r.PostFormValue("description")
	if len(names) == 0 {
		cs := p.netConnectionsOf(c, id, nil)
		cs.Description = desc
		cs.Problem = "Select one or more connections first (the check boxes in the table), then " + strings.ToUpper(action[:1]) + action[1:] + "."
		return cs
	}
	if action == "cancel" {
		cs := p.netConnectionsOf(c, id, names)
		cs.Description = desc
		return cs
	}
	if (action == "reject" || action == "remove") && c.r.PostFormValue("confirm") != action {
		cs := p.netConnectionsOf(c, id, names)
		cs.Description = desc
		what := plural(len(names), "connection", "connections")
		cf := &netConfirm{Action: action, Names: names}
		if action == "reject" {
			cf.Verb, cf.Question = "Yes, reject", "Reject "+what+"?"
			cf.Consequence = "A rejected connection cannot be approved again: the cluster's administrator has to delete the managed private endpoint and create it anew."
		} else {
			cf.Verb, cf.Question = "Yes, remove", "Remove "+what+"?"
			cf.Consequence = "The connection is deleted; the managed private endpoint that asked for it stays, Disconnected, until its cluster deletes it."
		}
		cs.Confirm = cf
		return cs
	}
	// The states before, to say in plain words what a refused change was.
	before := map[string]string{}
	for _, r := range p.netConnectionsOf(c, id, nil).Rows {
		before[strings.ToLower(r.Name)] = r.State
	}
	verb := map[string]string{"approve": "approved", "reject": "rejected", "remove": "removed"}[action]
	var results []netResult
	var failed []string
	for _, n := range names {
		path := withVersion(id.String()+"/privateEndpointConnections/"+url.PathEscape(n), t.APIVersion)
		var err error
		var done string
		switch action {
		case "remove":
			_, err = c.api.do(http.MethodDelete, path, nil)
			done = "Removed."
		default:
			status := map[string]string{"approve": "Approved", "reject": "Rejected"}[action]
			_, err = c.api.do(http.MethodPut, path, map[string]any{"properties": map[string]any{
				"privateLinkServiceConnectionState": map[string]string{"status": status, "description": desc}}})
			done = status + "."
		}
		if err != nil {
			text := "Not " + verb + ". " + plain(err)
			to := map[string]string{"approve": "Approved", "reject": "Rejected"}[action]
			if ae, ok := err.(*APIError); ok && ae.Status == http.StatusBadRequest && to != "" && before[strings.ToLower(n)] != "" {
				text = "Not " + verb + ": " + id.Name() + " (" + typeName(t.Type) + ") does not let a connection go from " +
					before[strings.ToLower(n)] + " to " + to + ". The API says: " + ae.Message
				if before[strings.ToLower(n)] == "Rejected" {
					text += " A rejected connection stays rejected: to connect again, the cluster's administrator deletes the managed private endpoint and creates it anew."
				}
			}
			r := netResult{Name: n, Text: text}
			if ae, ok := err.(*APIError); ok {
				r.JSON = ae.Raw
			}
			results = append(results, r)
			failed = append(failed, n)
			continue
		}
		results = append(results, netResult{Name: n, Text: done, OK: true})
	}
	cs := p.netConnectionsOf(c, id, failed)
	cs.Results = results
	cs.Failed = len(failed) > 0
	if cs.Failed {
		cs.Description = desc
	}
	// A change of a connection is done when the API answers, on both sides:
	// no polls after it (a poll could undo check boxes ticked meanwhile).
	cs.poll(0)
	return cs
}
