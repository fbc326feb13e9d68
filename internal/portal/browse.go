package portal

import (
	"net/http"
	"sort"
	"strings"
)

// API versions of ARM's own lists.
const (
	subscriptionsVersion = "2022-12-01"
	groupsVersion        = "2021-04-01"
)

// row is a line of a list of resources.
type row struct {
	ID, Name, Type, Group, Location, Subscription, State string
}

func rowOf(m map[string]any) row {
	s := func(k string) string { v, _ := m[k].(string); return v }
	r := row{ID: s("id"), Name: s("name"), Type: s("type"), Location: s("location")}
	// A resources list has provisioningState on top when asked for
	// ($expand, as Azure's portal asks); other lists have it in properties.
	r.State, _ = m["provisioningState"].(string)
	if p, ok := m["properties"].(map[string]any); ok && r.State == "" {
		r.State, _ = p["provisioningState"].(string)
	}
	if i := strings.Index(strings.ToLower(r.ID), "/resourcegroups/"); i >= 0 {
		rest := r.ID[i+len("/resourcegroups/"):]
		r.Group, _, _ = strings.Cut(rest, "/")
	}
	if strings.HasPrefix(strings.ToLower(r.ID), "/subscriptions/") {
		r.Subscription, _, _ = strings.Cut(r.ID[len("/subscriptions/"):], "/")
	}
	return r
}

type subscriptionRow struct{ ID, Name, SubscriptionID, State string }

// subscriptionsOf lists the caller's subscriptions.
func (c *reqCtx) subscriptionsOf() ([]subscriptionRow, error) {
	items, err := c.api.list(withVersion("/subscriptions", subscriptionsVersion))
	if err != nil {
		return nil, err
	}
	out := make([]subscriptionRow, 0, len(items))
	for _, it := range items {
		s := func(k string) string { v, _ := it[k].(string); return v }
		out = append(out, subscriptionRow{ID: s("id"), Name: s("displayName"), SubscriptionID: s("subscriptionId"), State: s("state")})
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out, nil
}

// home is the start page: the services a person reaches for.
func (p *Portal) home(c *reqCtx) (*view, error) {
	subs, err := c.subscriptionsOf()
	if err != nil {
		return nil, err
	}
	return &view{Page: "home", Title: "Home", Data: subs}, nil
}

func (p *Portal) subscriptions(c *reqCtx) (*view, error) {
	subs, err := c.subscriptionsOf()
	if err != nil {
		return nil, err
	}
	return &view{Page: "subscriptions", Title: "Subscriptions", Crumbs: []crumb{{"Home", "/"}}, Data: subs}, nil
}

// resourceGroups lists the groups the caller may read, in every
// subscription it sees.
func (p *Portal) resourceGroups(c *reqCtx) (*view, error) {
	subs, err := c.subscriptionsOf()
	if err != nil {
		return nil, err
	}
	var rows []row
	var problems []string
	for _, s := range subs {
		items, err := c.api.list(withVersion(s.ID+"/resourcegroups", groupsVersion))
		if err != nil {
			problems = append(problems, s.Name+": "+plain(err))
			continue
		}
		for _, it := range items {
			r := rowOf(it)
			r.Type, r.Group = "Microsoft.Resources/resourceGroups", r.Name
			rows = append(rows, r)
		}
	}
	sortRows(rows)
	return &view{Page: "resources", Title: "Resource groups", Crumbs: []crumb{{"Home", "/"}},
		Data: resourcesData{Rows: rows, Kind: "groups"}, Notice: strings.Join(problems, " ")}, nil
}

// resourcesData is a list of resources, with the filter typed into it.
type resourcesData struct {
	Rows []row
	// Kind is "groups" or "resources".
	Kind string
	// Filter is the text typed in the filter box.
	Filter string
	// Scope is the subscription or group listed ("" for all).
	Scope string
}

// allResources lists every resource the caller may read.
func (p *Portal) allResources(c *reqCtx) (*view, error) {
	subs, err := c.subscriptionsOf()
	if err != nil {
		return nil, err
	}
	var rows []row
	var problems []string
	for _, s := range subs {
		items, err := c.api.list(withVersion(s.ID+"/resources", groupsVersion) + "&$expand=provisioningState")
		if err != nil {
			problems = append(problems, s.Name+": "+plain(err))
			continue
		}
		for _, it := range items {
			rows = append(rows, rowOf(it))
		}
	}
	rows = filterRows(rows, c.r.URL.Query().Get("filter"))
	sortRows(rows)
	return &view{Page: "resources", Title: "All resources", Crumbs: []crumb{{"Home", "/"}},
		Data: resourcesData{Rows: rows, Kind: "resources", Filter: c.r.URL.Query().Get("filter")}, Notice: strings.Join(problems, " ")}, nil
}

func filterRows(rows []row, f string) []row {
	f = strings.ToLower(strings.TrimSpace(f))
	if f == "" {
		return rows
	}
	var out []row
	for _, r := range rows {
		if strings.Contains(strings.ToLower(r.Name+" "+r.Type+" "+r.Group), f) {
			out = append(out, r)
		}
	}
	return out
}

// sortRows orders rows by name, as Azure's lists are, then by id.
func sortRows(rows []row) {
	sort.Slice(rows, func(i, j int) bool {
		a, b := strings.ToLower(rows[i].Name), strings.ToLower(rows[j].Name)
		if a != b {
			return a < b
		}
		return strings.ToLower(rows[i].ID) < strings.ToLower(rows[j].ID)
	})
}

// redirect answers a redirect (htmx follows HX-Redirect).
func (c *reqCtx) redirect(to string) (*view, error) {
	if c.r.Header.Get("HX-Request") == "true" {
		c.w.Header().Set("HX-Redirect", to)
		c.w.WriteHeader(http.StatusNoContent)
		return nil, nil
	}
	http.Redirect(c.w, c.r, to, http.StatusSeeOther)
	return nil, nil
}
