package deploy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/deploy/plan"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/operation"
	"github.com/privlink/privlink/internal/resource"
	"github.com/privlink/privlink/internal/store"
)

// request is a deployment request's body (Deployment in the Deployments API):
// what PUT, validate and whatIf take.
type request struct {
	Location     string
	Tags         json.RawMessage
	Mode         string
	Template     json.RawMessage
	TemplateLink json.RawMessage
	Parameters   json.RawMessage
	// Passed are the request's properties other than template and
	// parameters, echoed in the deployment (debugSetting, onErrorDeployment...).
	Passed *arm.Object
}

// parseRequest reads a Deployment body. subscriptionScope says the
// deployment is at a subscription, where a location is required.
func (d *Engine) parseRequest(body []byte, subscriptionScope bool) (*request, error) {
	in, err := resource.ParseBody(body)
	if err != nil {
		return nil, err
	}
	props, err := resource.ObjectProp(in, "properties", "properties")
	if err != nil {
		return nil, err
	}
	if props == nil {
		return nil, arm.InvalidContent("Required property 'properties' not found in JSON. Path ''.")
	}
	r := &request{Passed: &arm.Object{}}
	if l, ok, err := resource.StringProp(in, "location", "location"); err != nil {
		return nil, err
	} else if ok {
		r.Location = l
	}
	if subscriptionScope && r.Location == "" {
		return nil, arm.Errorf(arm.CodeLocationRequired, "The location property is required for this definition.")
	}
	if t, ok := in.Get("tags"); ok && arm.Kind(t) != "null" {
		if arm.Kind(t) != "object" {
			return nil, resource.InvalidProperty("tags", "Object", arm.Kind(t))
		}
		r.Tags = t
	}
	mode, ok, err := resource.StringProp(props, "mode", "properties.mode")
	if err != nil {
		return nil, err
	}
	switch {
	case !ok:
		return nil, arm.InvalidContent("Required property 'mode' not found in JSON. Path 'properties'.")
	case strings.EqualFold(mode, "Incremental"):
		r.Mode = "Incremental"
	case strings.EqualFold(mode, "Complete"):
		r.Mode = "Complete"
	default:
		return nil, arm.InvalidContent("Error converting value \"" + mode + "\" to type 'DeploymentMode'. Path 'properties.mode'.")
	}
	for _, k := range props.Keys() {
		v, _ := props.Get(k)
		switch strings.ToLower(k) {
		case "mode":
		case "template":
			if arm.Kind(v) != "null" {
				r.Template = v
				if sent, ok := sentTemplate(body, v); ok {
					r.Template = sent
				}
			}
		case "templatelink":
			if arm.Kind(v) != "null" {
				r.TemplateLink = v
			}
		case "parameters":
			if arm.Kind(v) != "null" {
				if arm.Kind(v) != "object" {
					return nil, resource.InvalidProperty("properties.parameters", "Object", arm.Kind(v))
				}
				r.Parameters = v
			}
		case "parameterslink":
			if arm.Kind(v) == "null" {
				continue
			}
			if r.Parameters != nil {
				return nil, arm.Errorf(arm.CodeInvalidRequestContent, "The deployment has both 'parameters' and 'parametersLink'; give one of them.")
			}
			p, err := d.fetchParameters(v)
			if err != nil {
				return nil, err
			}
			r.Parameters = p
			r.Passed.Set(k, v)
		default:
			r.Passed.Set(k, v)
		}
	}
	switch {
	case r.Template != nil && r.TemplateLink != nil:
		return nil, arm.Errorf(arm.CodeInvalidRequestContent, "The deployment has both 'template' and 'templateLink'; give one of them.")
	case r.Template == nil && r.TemplateLink == nil:
		return nil, arm.Errorf(arm.CodeInvalidRequestContent, "The deployment has neither 'template' nor 'templateLink'.")
	case r.Template != nil && arm.Kind(r.Template) != "object":
		return nil, arm.Errorf(arm.CodeInvalidTemplate, "The template must be a JSON object.")
	case r.TemplateLink != nil:
		t, err := d.fetchTemplate(r.TemplateLink)
		if err != nil {
			return nil, err
		}
		r.Template = t
	}
	return r, nil
}

// fetchTemplate reads the template a templateLink names.
func (d *Engine) fetchTemplate(link json.RawMessage) (json.RawMessage, error) {
	var l struct {
		URI          string `json:"uri"`
		ID           string `json:"id"`
		RelativePath string `json:"relativePath"`
	}
	if err := json.Unmarshal(link, &l); err != nil {
		return nil, arm.InvalidContent("properties.templateLink: " + err.Error())
	}
	if l.URI == "" {
		return nil, arm.Errorf(arm.CodeInvalidRequestContent, "The templateLink of a deployment request needs a 'uri' (template specs are not served).")
	}
	return d.fetch(l.URI, "template")
}

// fetchParameters reads a parameters file a parametersLink names and
// returns its "parameters" object.
func (d *Engine) fetchParameters(link json.RawMessage) (json.RawMessage, error) {
	var l struct {
		URI string `json:"uri"`
	}
	if err := json.Unmarshal(link, &l); err != nil || l.URI == "" {
		return nil, arm.InvalidContent("properties.parametersLink needs a 'uri'.")
	}
	b, err := d.fetch(l.URI, "parameters")
	if err != nil {
		return nil, err
	}
	var file struct {
		Parameters json.RawMessage `json:"parameters"`
	}
	if err := json.Unmarshal(b, &file); err != nil || file.Parameters == nil {
		return nil, arm.Errorf(arm.CodeInvalidTemplateDeployment, "The parameters file at '%s' is not a deployment parameters file.", l.URI)
	}
	return file.Parameters, nil
}

func (d *Engine) fetch(uri, what string) (json.RawMessage, error) {
	if d.cfg.Links == nil {
		return nil, arm.Errorf(arm.CodeInvalidTemplateDeployment, "Unable to download the deployment %s from '%s': linked templates are read from local files; start privlink serve with --template-root DIR.", what, uri)
	}
	b, err := d.cfg.Links(uri)
	if err != nil {
		return nil, arm.Errorf(arm.CodeInvalidTemplateDeployment, "Unable to download the deployment %s from '%s': %v.", what, uri, err)
	}
	if !json.Valid(b) {
		return nil, arm.Errorf(arm.CodeInvalidTemplate, "The %s at '%s' is not valid JSON.", what, uri)
	}
	return b, nil
}

// scope loads what a deployment's plan scope needs: the subscription and
// resource group the deployment runs in.
func (d *Engine) scope(c *resource.Ctx, id arm.ResourceID, st *state, name string) (plan.Scope, error) {
	s := plan.Scope{
		TenantID:        st.Principal.TenantID,
		SubscriptionID:  id.Subscription,
		Location:        st.Location,
		DeploymentName:  name,
		Mode:            st.Mode,
		TemplateLink:    st.TemplateLink,
		Now:             st.Started,
		ResourceManager: resourceManager(st.BaseURL),
		Deployer:        plan.Principal{ObjectID: st.Principal.ObjectID, TenantID: st.Principal.TenantID},
	}
	if s.TenantID == "" {
		s.TenantID = identity.DefaultTenantID
	}
	if st.Principal.Type == arm.PrincipalUser {
		s.Deployer.UserPrincipalName = st.Principal.Name
	}
	if err := c.CheckScope(id); err != nil {
		return s, err
	}
	sub, err := c.Load(arm.ResourceID{Subscription: id.Subscription})
	if err == nil {
		s.SubscriptionDisplayName = sub.Str("displayName")
	}
	if id.ResourceGroup != "" {
		g, err := c.Load(arm.ResourceID{Subscription: id.Subscription, ResourceGroup: id.ResourceGroup})
		if err != nil {
			return s, err
		}
		rg := &plan.ResourceGroup{ID: g.Str("id"), Name: g.Str("name"), Location: g.Str("location"), ManagedBy: g.Str("managedBy")}
		if tags, err := g.Obj.Object("tags"); err == nil && tags != nil {
			rg.Tags = map[string]string{}
			for _, k := range tags.Keys() {
				v, _, _ := tags.String(k)
				rg.Tags[k] = v
			}
		}
		s.ResourceGroup = rg
	}
	return s, nil
}

// resourceManager is the Resource Manager URL environment() reports: Azure's
// for a client that reached privlink under Azure's names, else privlink's.
func resourceManager(base string) string {
	u, err := url.Parse(base)
	if err != nil || identity.PublicHost(u.Host) || base == "" {
		return "https://management.azure.com/"
	}
	return strings.TrimSuffix(base, "/") + "/"
}

// put serves a deployment's create or update: the template is bound (every
// template and parameter error answers 400 here, before anything is
// written), the deployment stored as Accepted with an operation that runs it.
func (d *Engine) put(ctx context.Context, e *resource.Engine, r *resource.Request) (*resource.Response, error) {
	id := r.Path.ID
	if err := e.Authorize(ctx, r, Type+"/write", id); err != nil {
		return nil, err
	}
	if err := validateName(id.Name()); err != nil {
		return nil, err
	}
	req, err := d.parseRequest(r.Body, id.ResourceGroup == "")
	if err != nil {
		return nil, err
	}
	st := &state{
		Template: req.Template, Parameters: req.Parameters, TemplateLink: req.TemplateLink, Mode: req.Mode,
		Principal: *r.Principal, BaseURL: r.BaseURL, Started: e.Now().UTC(), Location: req.Location,
		CorrelationID: r.Header.Get("x-ms-correlation-request-id"),
	}
	if st.CorrelationID == "" {
		st.CorrelationID = uuid.NewString()
	}
	p, err := d.bind(ctx, id, st)
	if err != nil {
		return nil, err
	}
	if err := d.preflight(ctx, r, p); err != nil {
		return nil, err
	}
	full, err := d.admit(ctx, id, r)
	if err != nil {
		return nil, err
	}
	var (
		status = http.StatusCreated
		opID   string
		body   []byte
	)
	err = e.Update(ctx, func(c *resource.Ctx) error {
		doc, replaced, err := d.newRecord(c, id, p, st, "Accepted")
		if err != nil {
			return err
		}
		if replaced {
			status = http.StatusOK
		}
		if req.Location != "" {
			doc.Obj.SetAfter("type", "location", mustJSON(resource.NormalizeLocation(req.Location)))
		}
		if req.Tags != nil {
			doc.Obj.SetAfter("location", "tags", req.Tags)
		}
		props := doc.Props()
		if req.TemplateLink != nil {
			props.Set("templateLink", req.TemplateLink)
		}
		for _, k := range req.Passed.Keys() {
			v, _ := req.Passed.Get(k)
			props.Set(k, v)
		}
		op := &store.Operation{ID: uuid.Must(uuid.NewV7()).String(), Kind: opRun, Resource: id.Key(), Due: c.Now}
		if err := e.Operations().Start(c.Tx, op, &operation.Doc{
			StartTime: c.Now.UTC(), Action: "deploy", ResourceID: id.String(), Subscription: id.Subscription, Namespace: "Microsoft.Resources",
		}); err != nil {
			return err
		}
		doc.Meta.Op, doc.Meta.OpAction = op.ID, "deploy"
		opID = op.ID
		if err := c.Save(doc); err != nil {
			return err
		}
		body = doc.Body()
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.Operations().Wake()
	if full {
		d.trim(ctx, scopeOf(id), r)
	}
	resp := &resource.Response{Status: status, Body: body, Header: http.Header{}}
	resp.Header.Set("Azure-AsyncOperation", statusURL(r, id, opID))
	resp.Header.Set("Retry-After", "0")
	return resp, nil
}

// newRecord starts the record of a deployment (state: its first
// provisioningState) in c's transaction, replacing the one of the same name,
// which must have ended: a deployment replaced keeps no history of the one
// before (its operations go with it). It reports whether one was replaced.
// The caller adds what else it has and saves it.
func (d *Engine) newRecord(c *resource.Ctx, id arm.ResourceID, p plan.Plan, st *state, state string) (*resource.Doc, bool, error) {
	if err := c.CheckScope(id); err != nil {
		return nil, false, err
	}
	replaced := false
	old, err := c.LoadKey(id.Key())
	switch {
	case resource.IsNotFound(err):
	case err != nil:
		return nil, false, err
	default:
		if s, _, _ := old.Props().String("provisioningState"); !terminal(s) {
			return nil, false, deploymentActive(id.Name(), s)
		}
		if err := c.Remove(old); err != nil {
			return nil, false, err
		}
		replaced = true
	}
	doc := c.NewDoc(d.res.Kind(Type), id)
	props := doc.Props()
	props.SetValue("templateHash", p.Hash())
	props.Set("parameters", p.Parameters())
	props.SetValue("mode", p.Mode())
	props.SetValue("provisioningState", state)
	props.SetValue("timestamp", arm.FormatTime(c.Now))
	props.SetValue("duration", "PT0S")
	props.SetValue("correlationId", st.CorrelationID)
	props.SetValue("providers", providers(p))
	props.SetValue("dependencies", dependencies(p))
	doc.SetExt(extState, st)
	doc.SetExt(extPlace, newPlace())
	return doc, replaced, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := arm.Marshal(v)
	if err != nil {
		panic(err) // only privlink's own values
	}
	return b
}

// statusURL is a deployment operation's Azure-AsyncOperation URL, as ARM
// writes it: {deployment}/operationStatuses/{id}.
func statusURL(r *resource.Request, id arm.ResourceID, opID string) string {
	return r.BaseURL + id.String() + "/operationStatuses/" + opID + "?api-version=" + url.QueryEscape(r.APIVersion)
}

func deploymentActive(name, state string) *arm.Error {
	return arm.Errorf(arm.CodeDeploymentActive, "Unable to edit or replace deployment '%s': previous deployment from '%s' is still active (state: %s). Please see https://aka.ms/arm-deploy for usage details.", name, time.Now().UTC().Format("1/2/2006 3:04:05 PM"), state)
}

// bind binds a deployment's template in its scope.
func (d *Engine) bind(ctx context.Context, id arm.ResourceID, st *state) (plan.Plan, error) {
	if d.cfg.Binder == nil {
		return nil, arm.Errorf(arm.CodeInvalidTemplateDeployment, "This privlink serves no template language.")
	}
	var s plan.Scope
	err := d.res.View(ctx, func(c *resource.Ctx) error {
		var err error
		s, err = d.scope(c, id, st, id.Name())
		return err
	})
	if err != nil {
		return nil, err
	}
	p := st.Principal
	rt := &runtime{ctx: ctx, e: d.res, principal: &p, baseURL: st.BaseURL, secrets: d.cfg.Secrets}
	return d.cfg.Binder.Bind(st.Template, st.Parameters, s, rt)
}

// providers is properties.providers: the namespaces and types a plan deploys.
func providers(p plan.Plan) []map[string]any {
	type key struct{ ns, typ string }
	seen := map[key]bool{}
	var order []string
	byNS := map[string][]map[string]any{}
	for _, r := range p.Resources() {
		if !r.Condition || r.Existing {
			continue
		}
		ns, typ, _ := strings.Cut(r.Type, "/")
		k := key{strings.ToLower(ns), strings.ToLower(typ)}
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, ok := byNS[ns]; !ok {
			order = append(order, ns)
		}
		byNS[ns] = append(byNS[ns], map[string]any{"resourceType": typ, "locations": []string{}})
	}
	out := []map[string]any{}
	for _, ns := range order {
		out = append(out, map[string]any{"namespace": ns, "resourceTypes": byNS[ns]})
	}
	return out
}

// dependencies is properties.dependencies: each resource with what it depends on.
func dependencies(p plan.Plan) []map[string]any {
	res := p.Resources()
	out := []map[string]any{}
	for _, r := range res {
		if len(r.DependsOn) == 0 || !r.Condition {
			continue
		}
		var on []map[string]any
		for _, i := range r.DependsOn {
			dep := res[i]
			on = append(on, map[string]any{"id": dep.ID, "resourceType": dep.Type, "resourceName": dep.Name})
		}
		out = append(out, map[string]any{"dependsOn": on, "id": r.ID, "resourceType": r.Type, "resourceName": r.Name})
	}
	return out
}
