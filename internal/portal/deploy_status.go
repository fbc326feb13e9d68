package portal

// Deployments: the Deployments blade of resource groups and subscriptions,
// and a deployment's own page (its status, each resource's progress, its
// outputs or its error), which follows a running deployment live.

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/arm"
)

// deployAPIVersion is the Deployments API version the portal speaks
// (armresources' too).
const deployAPIVersion = "2021-04-01"

const deployType = "Microsoft.Resources/deployments"

func init() {
	extraBlades = append(extraBlades, func(p *Portal) {
		p.blades["deployments"] = blade{
			title:   "Deployments",
			applies: func(id arm.ResourceID) bool { return id.IsResourceGroup() || id.IsSubscription() },
			get:     p.deployListBlade,
		}
		// A deployment's overview is what happened to its resources, as
		// the Azure portal shows it, not the generic essentials: the
		// overview blade (resource.go's) is wrapped for that one type, so
		// that resource.go needs no change and other types keep theirs.
		ov := p.blades["overview"]
		generic := ov.get
		ov.get = func(c *reqCtx, id arm.ResourceID) (*view, error) {
			if deployIsDeployment(id) {
				return p.deployOverview(c, id)
			}
			return generic(c, id)
		}
		p.blades["overview"] = ov
	})
}

func deployIsDeployment(id arm.ResourceID) bool { return strings.EqualFold(id.Type(), deployType) }

// deployRow is a line of the Deployments blade.
type deployRow struct {
	ID, Name, State, Timestamp, Duration string
	when                                 time.Time
}

type deployListData struct {
	Rows []deployRow
	// Live is set while a deployment runs: the table refreshes itself.
	Live bool
	// URL is the blade's own (what the table polls).
	URL string
	// DeployURL opens Deploy a custom template for this scope.
	DeployURL string
}

// deployListBlade lists a group's or a subscription's deployments, the
// newest first.
func (p *Portal) deployListBlade(c *reqCtx, id arm.ResourceID) (*view, error) {
	d := &deployListData{URL: deployBladeURL(id, "deployments"), DeployURL: "/deploy?subscription=" + urlQueryEscape(id.SubscriptionID())}
	if id.IsResourceGroup() {
		d.DeployURL += "&resourceGroup=" + urlQueryEscape(id.ResourceGroupName())
	}
	v := &view{Page: "deploy_list", Title: deployScopeTitle(c, id) + " | Deployments", Data: d}
	if c.r.Header.Get("HX-Target") == "deployments-live" {
		v.Fragment = "deployments-live"
	}
	items, err := c.api.list(withVersion(id.String()+"/providers/"+deployType, deployAPIVersion))
	if err != nil {
		return v, err
	}
	for _, it := range items {
		var doc deployDoc
		if b, err := json.Marshal(it); err == nil {
			_ = json.Unmarshal(b, &doc)
		}
		r := deployRow{ID: doc.ID, Name: doc.Name, State: doc.Properties.ProvisioningState,
			Duration: deployDuration(doc.Properties.Duration)}
		r.when, r.Timestamp = deployTimestamp(doc.Properties.Timestamp)
		if !deployFinal(r.State) {
			d.Live = true
		}
		d.Rows = append(d.Rows, r)
	}
	sort.SliceStable(d.Rows, func(i, j int) bool { return d.Rows[i].when.After(d.Rows[j].when) })
	return v, nil
}

// deployScopeTitle is how a subscription (its display name) or a group is named.
func deployScopeTitle(c *reqCtx, id arm.ResourceID) string {
	if id.IsSubscription() {
		var sub struct {
			DisplayName string `json:"displayName"`
		}
		if c.api.get(withVersion(id.String(), subscriptionsVersion), &sub) == nil && sub.DisplayName != "" {
			return sub.DisplayName
		}
	}
	return id.Name()
}

func deployBladeURL(id arm.ResourceID, blade string) string {
	return resourceURL(id.String()) + "/" + blade
}

// final reports whether a provisioning state is one a deployment ends in.
func deployFinal(state string) bool {
	switch strings.ToLower(state) {
	case "succeeded", "failed", "canceled", "":
		return true
	}
	return false
}

// deployDoc is what the portal reads of a deployment.
type deployDoc struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Location   string `json:"location"`
	Properties struct {
		ProvisioningState string          `json:"provisioningState"`
		Timestamp         string          `json:"timestamp"`
		Duration          string          `json:"duration"`
		CorrelationID     string          `json:"correlationId"`
		Mode              string          `json:"mode"`
		Outputs           json.RawMessage `json:"outputs"`
		Error             json.RawMessage `json:"error"`
		Dependencies      []struct {
			deployTarget
			DependsOn []deployTarget `json:"dependsOn"`
		} `json:"dependencies"`
	} `json:"properties"`
}

type deployTarget struct {
	ID           string `json:"id"`
	ResourceType string `json:"resourceType"`
	ResourceName string `json:"resourceName"`
}

// deployOperation is a deployment operation: what happened to one resource.
type deployOperation struct {
	OperationID string `json:"operationId"`
	Properties  struct {
		ProvisioningOperation string `json:"provisioningOperation"`
		ProvisioningState     string `json:"provisioningState"`
		Timestamp             string `json:"timestamp"`
		Duration              string `json:"duration"`
		StatusCode            string `json:"statusCode"`
		StatusMessage         struct {
			Status string          `json:"status"`
			Error  json.RawMessage `json:"error"`
		} `json:"statusMessage"`
		TargetResource deployTarget `json:"targetResource"`
	} `json:"properties"`
}

// deployError is an error as ARM writes it, with its details.
type deployError struct {
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Target  string        `json:"target"`
	Details []deployError `json:"details"`
}

// deployResource is a line of Deployment details: one resource, with what
// its deployment operation says or, before it has one, where it stands.
type deployResource struct {
	ID, Type, Name, State, Duration string
	// Linked is set when the resource is there to be opened.
	Linked bool
	// Message says how it went in words; Problems are its errors, ErrorJSON
	// the operation's error as the API wrote it.
	Message   string
	Problems  []string
	ErrorJSON string
}

type deployOutput struct{ Name, Type, Value string }

// deployPage is a deployment's overview.
type deployPage struct {
	ID, Name, Group, Subscription, State, Timestamp, Duration, CorrelationID, Mode string
	URL                                                                            string
	Final                                                                          bool
	Resources                                                                      []deployResource
	Outputs                                                                        []deployOutput
	// Problem says why the deployment failed, Problems lists each failure
	// and ErrorJSON is the deployment's error as the API wrote it.
	Problem   string
	Problems  []string
	ErrorJSON string
}

// deployOverview shows a deployment. While it runs, the page asks for
// its live part every second (htmx) until the deployment ends.
func (p *Portal) deployOverview(c *reqCtx, id arm.ResourceID) (*view, error) {
	d := &deployPage{ID: id.String(), Name: id.Name(), Group: id.ResourceGroupName(), Subscription: id.SubscriptionID(),
		URL: resourceURL(id.String()), Final: true}
	v := &view{Page: "deploy_status", Data: d}
	if c.r.Header.Get("HX-Target") == "deployment-live" {
		v.Fragment = "deployment-live"
	}
	var doc deployDoc
	if err := c.api.get(withVersion(id.String(), deployAPIVersion), &doc); err != nil {
		return v, err
	}
	pr := doc.Properties
	d.State, d.CorrelationID, d.Mode = pr.ProvisioningState, pr.CorrelationID, pr.Mode
	d.Final = deployFinal(d.State)
	_, d.Timestamp = deployTimestamp(pr.Timestamp)
	d.Duration = deployDuration(pr.Duration)
	items, err := c.api.list(withVersion(id.String()+"/operations", deployAPIVersion))
	if err != nil {
		return v, err
	}
	var ops []deployOperation
	for _, it := range items {
		var op deployOperation
		if b, err := json.Marshal(it); err == nil && json.Unmarshal(b, &op) == nil {
			ops = append(ops, op)
		}
	}
	d.Resources = deployResources(c, &doc, ops)
	d.Outputs = deployOutputs(pr.Outputs)
	if len(pr.Error) > 0 && string(pr.Error) != "null" {
		var e deployError
		_ = json.Unmarshal(pr.Error, &e)
		d.Problem, d.Problems = deployFailure(&e, d.State)
		d.ErrorJSON = deployIndentJSON(pr.Error)
	} else if strings.EqualFold(d.State, "Canceled") {
		d.Problem = "The deployment was canceled: the resources it had not started were not deployed."
	}
	return v, nil
}

// deployResources are the rows of Deployment details: one per
// deployment operation (a resource done, in the order they ended), then
// the resources the deployment names in its dependencies that have none
// yet. privlink writes a resource's operation when the resource is done,
// so while the deployment runs the others are shown as running (everything
// they depend on is done) or waiting; a running resource's own
// provisioning state says how far it is.
func deployResources(c *reqCtx, doc *deployDoc, ops []deployOperation) []deployResource {
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Properties.Timestamp < ops[j].Properties.Timestamp })
	var out []deployResource
	done := map[string]string{} // lower-cased id -> provisioningState
	for _, op := range ops {
		p := op.Properties
		t := p.TargetResource
		r := deployResource{ID: t.ID, Type: t.ResourceType, Name: t.ResourceName, State: p.ProvisioningState, Duration: deployDuration(p.Duration),
			Linked: !strings.EqualFold(p.ProvisioningOperation, "Delete")}
		if len(p.StatusMessage.Error) > 0 && string(p.StatusMessage.Error) != "null" {
			var e deployError
			_ = json.Unmarshal(p.StatusMessage.Error, &e)
			r.Problems = deployErrorLines(&e)
			r.ErrorJSON = deployIndentJSON(p.StatusMessage.Error)
		} else {
			r.Message = deployOperationWords(p.ProvisioningOperation, p.StatusCode)
		}
		done[strings.ToLower(t.ID)] = p.ProvisioningState
		out = append(out, r)
	}
	// What each resource waits for, from the deployment's dependencies.
	needs := map[string][]deployTarget{}
	var order []deployTarget
	seen := map[string]bool{}
	add := func(t deployTarget) {
		k := strings.ToLower(t.ID)
		if t.ID == "" || seen[k] {
			return
		}
		seen[k] = true
		order = append(order, t)
	}
	for _, dep := range doc.Properties.Dependencies {
		for _, on := range dep.DependsOn {
			add(on)
		}
		add(dep.deployTarget)
		needs[strings.ToLower(dep.ID)] = dep.DependsOn
	}
	state := doc.Properties.ProvisioningState
	for _, t := range order {
		if _, ok := done[strings.ToLower(t.ID)]; ok {
			continue
		}
		r := deployResource{ID: t.ID, Type: t.ResourceType, Name: t.ResourceName}
		var waiting []string
		failed := false
		for _, on := range needs[strings.ToLower(t.ID)] {
			switch s := done[strings.ToLower(on.ID)]; {
			case strings.EqualFold(s, "Succeeded"):
			case s != "":
				failed = true
			default:
				waiting = append(waiting, deployLastSegment(on.ResourceName))
			}
		}
		switch {
		case strings.EqualFold(state, "Succeeded"):
			// Done without an operation: an existing resource, or one whose
			// condition was false. Nothing was deployed.
			continue
		case deployFinal(state) || failed:
			r.State, r.Message = "Not started", "Not deployed: the deployment ended before it, or something it depends on failed."
			if !deployFinal(state) {
				r.Message = "Will not be deployed: something it depends on failed."
			}
		case strings.EqualFold(state, "Accepted"):
			r.State, r.Message = "Accepted", "The deployment is about to start."
		case len(waiting) > 0:
			r.State, r.Message = "Waiting", "Waiting for "+strings.Join(waiting, ", ")+"."
		default:
			r.State, r.Message, r.Linked = "Running", "Being deployed.", true
			if rid, aerr := arm.ParseResourceID(t.ID); aerr == nil {
				if res, err := c.read(rid); err == nil {
					if s := rowOf(res).State; s != "" && !deployFinal(s) {
						r.Message = "Being deployed (its provisioning state: " + s + ")."
					}
				}
			}
		}
		out = append(out, r)
	}
	return out
}

func deployLastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// deployOperationWords says what a successful operation did.
func deployOperationWords(op, code string) string {
	switch {
	case strings.EqualFold(op, "Delete"):
		return "Deleted (the deployment's Complete mode)."
	case strings.EqualFold(code, "Created"):
		return "Created."
	case strings.EqualFold(op, "Create"):
		return "Created or updated."
	}
	return op
}

// deployFailure says in words why a deployment failed, and lists each
// resource's failure.
func deployFailure(e *deployError, state string) (string, []string) {
	lead := "The deployment failed."
	if strings.EqualFold(state, "Canceled") {
		lead = "The deployment was canceled."
	}
	if e.Code == "DeploymentFailed" && len(e.Details) > 0 {
		n := len(e.Details)
		lead = fmt.Sprintf("The deployment failed: %d resource%s could not be deployed.", n, deployPlural(n))
		return lead, deployErrorLines(e)
	}
	return lead, deployErrorLines(e)
}

func deployPlural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// deployErrorLines are the messages of an error: its details' when it has
// some (ARM's top message then only says to look at them), naming what
// each is about.
func deployErrorLines(e *deployError) []string {
	if len(e.Details) == 0 {
		line := e.Message
		if e.Code != "" {
			line = deployCodeWords(e.Code) + line
		}
		if e.Target != "" {
			line += " (" + deployTargetWords(e.Target) + ")"
		}
		return []string{line}
	}
	var out []string
	for i := range e.Details {
		out = append(out, deployErrorLines(&e.Details[i])...)
	}
	return out
}

// deployCodeWords introduces an error's message by what its code means, for the
// codes whose message does not say it.
func deployCodeWords(code string) string {
	switch code {
	case "AuthorizationFailed", "LinkedAuthorizationFailed":
		return "Permission denied: "
	case "ResourceNotFound", "ResourceGroupNotFound", "ParentResourceNotFound":
		return "Not found: "
	case "Conflict", "AnotherOperationInProgress":
		return "Conflict: "
	case "InvalidTemplate":
		return "The template is not valid: "
	}
	return ""
}

// deployTargetWords names an error's target: a resource by its type and name.
func deployTargetWords(target string) string {
	if rid, aerr := arm.ParseResourceID(target); aerr == nil && !rid.IsRoot() {
		return typeName(rid.Type()) + " " + rid.Name()
	}
	return target
}

// deployOutputs are a deployment's outputs, in the template's order.
func deployOutputs(raw json.RawMessage) []deployOutput {
	if len(raw) == 0 {
		return nil
	}
	o, err := arm.ParseObject(raw)
	if err != nil {
		return nil
	}
	var out []deployOutput
	for _, k := range o.Keys() {
		v, _ := o.Get(k)
		var item struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		}
		_ = json.Unmarshal(v, &item)
		out = append(out, deployOutput{Name: k, Type: item.Type, Value: deployValueText(item.Value)})
	}
	return out
}

// deployValueText shows a JSON value: a string as it is, anything else as JSON.
func deployValueText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	if len(v) == 0 {
		return ""
	}
	return deployIndentJSON(v)
}

func deployIndentJSON(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// deployTimestamp reads ARM's timestamps, and writes them for people (UTC,
// as privlink's log does).
func deployTimestamp(s string) (time.Time, string) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, s
	}
	return t, t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// deployDuration turns ARM's ISO 8601 durations ("PT1.2345678S",
// "PT2M3.5S", "PT1H") into words as the Azure portal writes them.
func deployDuration(iso string) string {
	rest, ok := strings.CutPrefix(strings.ToUpper(iso), "PT")
	if !ok {
		return iso
	}
	d, err := time.ParseDuration(strings.ToLower(rest))
	if err != nil {
		return iso
	}
	var parts []string
	if h := int(d.Hours()); h > 0 {
		parts = append(parts, fmt.Sprintf("%d hour%s", h, deployPlural(h)))
	}
	if m := int(d.Minutes()) % 60; m > 0 {
		parts = append(parts, fmt.Sprintf("%d minute%s", m, deployPlural(m)))
	}
	secs := d.Seconds() - float64(int(d.Minutes())*60)
	switch {
	case len(parts) == 0 && secs < 10:
		parts = append(parts, fmt.Sprintf("%.1f seconds", secs))
	case secs >= 0.5 || len(parts) == 0:
		s := int(secs + 0.5)
		parts = append(parts, fmt.Sprintf("%d second%s", s, deployPlural(s)))
	}
	return strings.Join(parts, " ")
}
