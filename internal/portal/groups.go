package portal

import (
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Create a resource group: the page behind Resource groups' Create, as in
// Azure's portal (Subscription, Resource group, Region, then Review +
// create is folded into one Create: a group has nothing else to review).
// It PUTs the group through the API, so the name rules, the access check
// and the answer are the API's.
func init() {
	extraRoutes = append(extraRoutes, func(p *Portal, m *http.ServeMux) {
		m.HandleFunc("GET /browse/resourcegroups/create", p.signedIn(p.groupCreate))
		m.HandleFunc("POST /browse/resourcegroups/create", p.signedIn(p.groupCreate))
	})
}

// groupForm is the form's state.
type groupForm struct {
	Subscriptions                       []subscriptionRow
	Regions                             []region
	Subscription, Name, Region          string
	SubscriptionErr, NameErr, RegionErr string
	ProblemJSON                         string
}

// region is one of the subscription's locations.
type region struct{ Name, DisplayName string }

// groupNameRule is ARM's rule for resource group names (1 to 90
// characters: letters, digits, '_', '-', '.', '(' and ')', not ending
// with a period), said before the API is asked.
var groupNameRule = regexp.MustCompile(`^[-\w._()]{1,90}$`)

func (p *Portal) groupCreate(c *reqCtx) (*view, error) {
	subs, err := c.subscriptionsOf()
	if err != nil {
		return nil, err
	}
	f := &groupForm{Subscriptions: subs, Subscription: c.r.FormValue("subscription"), Name: strings.TrimSpace(c.r.FormValue("name")), Region: c.r.FormValue("region")}
	if f.Subscription == "" && len(subs) > 0 {
		f.Subscription = subs[0].SubscriptionID
	}
	f.Regions = c.regionsOf(f.Subscription)
	if f.Region == "" {
		f.Region = "westus"
	}
	v := &view{Page: "group_create", Title: "Create a resource group", Crumbs: []crumb{{"Home", "/"}, {"Resource groups", "/browse/resourcegroups"}}, Data: f}
	if c.r.Method != http.MethodPost {
		return v, nil
	}
	switch {
	case f.Name == "":
		f.NameErr = "Enter a name for the resource group."
	case !groupNameRule.MatchString(f.Name) || strings.HasSuffix(f.Name, "."):
		f.NameErr = "The name must be 1 to 90 letters, digits, '_', '-', '.', '(' or ')', and must not end with a period."
	}
	if f.Subscription == "" {
		f.SubscriptionErr = "Choose a subscription."
	}
	if f.NameErr != "" || f.SubscriptionErr != "" {
		v.Status = http.StatusBadRequest
		return v, nil
	}
	path := "/subscriptions/" + url.PathEscape(f.Subscription) + "/resourcegroups/" + url.PathEscape(f.Name)
	// An existing group would be updated by the PUT; Azure's portal says
	// the name is taken instead.
	if _, err := c.api.do(http.MethodGet, withVersion(path, groupsVersion), nil); err == nil {
		f.NameErr = "A resource group named " + f.Name + " exists in this subscription already."
		v.Status = http.StatusConflict
		return v, nil
	}
	if _, err := c.api.do(http.MethodPut, withVersion(path, groupsVersion), map[string]any{"location": f.Region}); err != nil {
		v.Problem = "Resource group " + f.Name + " was not created. " + plain(err)
		if ae, ok := err.(*APIError); ok {
			v.ProblemJSON = ae.Raw
			v.Status = ae.Status
			if ae.Code == "LocationNotAvailableForResourceGroup" || strings.Contains(strings.ToLower(ae.Message), "location") {
				f.RegionErr = ae.Message
			}
		}
		return v, nil
	}
	return c.redirect(resourceURL(path))
}

// regionsOf lists a subscription's locations, by display name.
func (c *reqCtx) regionsOf(sub string) []region {
	if sub == "" {
		return nil
	}
	items, err := c.api.list(withVersion("/subscriptions/"+url.PathEscape(sub)+"/locations", subscriptionsVersion))
	if err != nil {
		return nil
	}
	out := make([]region, 0, len(items))
	for _, it := range items {
		n, _ := it["name"].(string)
		d, _ := it["displayName"].(string)
		if n != "" {
			out = append(out, region{Name: n, DisplayName: d})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DisplayName < out[j].DisplayName })
	return out
}
