package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/deploy/plan"
	"github.com/privlink/privlink/internal/resource"
)

func deploymentNotFound(name string) *arm.Error {
	return arm.Errorf(arm.CodeDeploymentNotFound, "Deployment '%s' could not be found.", name)
}

// load reads a deployment in a View, with ARM's answer when it is missing.
func (d *Engine) load(ctx context.Context, id arm.ResourceID) (*resource.Doc, error) {
	var doc *resource.Doc
	err := d.res.View(ctx, func(c *resource.Ctx) error {
		var err error
		doc, err = c.LoadKey(id.Key())
		if resource.IsNotFound(err) {
			if err := c.CheckScope(id); err != nil {
				return err
			}
			return deploymentNotFound(id.Name())
		}
		return err
	})
	return doc, err
}

func jsonResponse(status int, body []byte) *resource.Response {
	return &resource.Response{Status: status, Body: body, Header: http.Header{}}
}

// get serves GET and HEAD of a deployment.
func (d *Engine) get(ctx context.Context, e *resource.Engine, r *resource.Request) (*resource.Response, error) {
	id := r.Path.ID
	if err := e.Authorize(ctx, r, Type+"/read", id); err != nil {
		return nil, err
	}
	doc, err := d.load(ctx, id)
	if r.Method == http.MethodHead {
		if ae := arm.AsError(err); ae != nil && ae.HTTPStatus() == http.StatusNotFound {
			return &resource.Response{Status: http.StatusNotFound, Header: http.Header{}}, nil
		}
		if err != nil {
			return nil, err
		}
		return &resource.Response{Status: http.StatusNoContent, Header: http.Header{}}, nil
	}
	if err != nil {
		return nil, err
	}
	return jsonResponse(http.StatusOK, doc.Body()), nil
}

// filterState is the one $filter the Deployments API takes.
var filterState = regexp.MustCompile(`(?i)^\s*provisioningState\s+eq\s+'([^']*)'\s*$`)

// list serves GET {scope}/providers/Microsoft.Resources/deployments with
// $filter=provisioningState eq '{state}' and $top.
func (d *Engine) list(ctx context.Context, e *resource.Engine, r *resource.Request) (*resource.Response, error) {
	scope := arm.ResourceID{Subscription: r.Path.ID.Subscription, ResourceGroup: r.Path.ID.ResourceGroup}
	if err := e.Authorize(ctx, r, Type+"/read", scope); err != nil {
		return nil, err
	}
	want := ""
	if f := r.Query.Get("$filter"); f != "" {
		m := filterState.FindStringSubmatch(f)
		if m == nil {
			return nil, arm.Errorf(arm.CodeInvalidParameter, "The filter '%s' is not supported: the deployments list takes \"provisioningState eq '{state}'\".", f)
		}
		want = m[1]
	}
	top := -1
	if t := r.Query.Get("$top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 {
			return nil, arm.Errorf(arm.CodeInvalidParameter, "The value '%s' of $top is not a positive integer.", t)
		}
		top = n
	}
	var bodies []json.RawMessage
	err := e.View(ctx, func(c *resource.Ctx) error {
		if err := c.CheckScope(scope); err != nil {
			return err
		}
		docs, err := c.Children(scope, Type)
		if err != nil {
			return err
		}
		for _, doc := range docs {
			if s, _, _ := doc.Props().String("provisioningState"); want != "" && !strings.EqualFold(s, want) {
				continue
			}
			if top >= 0 && len(bodies) >= top {
				break
			}
			bodies = append(bodies, doc.Body())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if bodies == nil {
		bodies = []json.RawMessage{}
	}
	b, _ := arm.Marshal(map[string]any{"value": bodies})
	return jsonResponse(http.StatusOK, b), nil
}

// delete removes a deployment's record and its operations (not the
// resources it deployed); a running one cannot be deleted.
func (d *Engine) delete(ctx context.Context, e *resource.Engine, r *resource.Request) (*resource.Response, error) {
	id := r.Path.ID
	if err := e.Authorize(ctx, r, Type+"/delete", id); err != nil {
		return nil, err
	}
	// 204 whether or not it was there: the Deployments API's DELETE answers
	// 202 or 204, and a 202 would need polling headers for an operation
	// that has already ended.
	status := http.StatusNoContent
	err := e.Update(ctx, func(c *resource.Ctx) error {
		doc, err := c.LoadKey(id.Key())
		if resource.IsNotFound(err) {
			return c.CheckScope(id)
		}
		if err != nil {
			return err
		}
		return removeDeployment(c, doc)
	})
	if err != nil {
		return nil, err
	}
	return &resource.Response{Status: status, Header: http.Header{}}, nil
}

// removeDeployment deletes a deployment's record and its operations, what
// both a DELETE and the history's automatic deletions do; a running one
// cannot be deleted (DeploymentActive).
func removeDeployment(c *resource.Ctx, doc *resource.Doc) error {
	if s, _, _ := doc.Props().String("provisioningState"); !terminal(s) {
		return arm.Errorf(arm.CodeDeploymentActive, "The deployment '%s' cannot be deleted while it is active (state: %s). Cancel it first.", doc.ID.Name(), s)
	}
	return c.Remove(doc)
}

// cancel stops a running deployment: resources not yet started are not
// deployed, and it ends Canceled.
func (d *Engine) cancel(ctx context.Context, e *resource.Engine, r *resource.Request) (*resource.Response, error) {
	id := r.Path.ID
	if err := e.Authorize(ctx, r, Type+"/cancel/action", id); err != nil {
		return nil, err
	}
	err := e.Update(ctx, func(c *resource.Ctx) error {
		doc, err := c.LoadKey(id.Key())
		if resource.IsNotFound(err) {
			if err := c.CheckScope(id); err != nil {
				return err
			}
			return deploymentNotFound(id.Name())
		}
		if err != nil {
			return err
		}
		if s, _, _ := doc.Props().String("provisioningState"); terminal(s) {
			return arm.Errorf(arm.CodeDeploymentCannotBeCanceled, "The deployment '%s' cannot be canceled: it is in the terminal state '%s'.", id.Name(), s)
		}
		doc.SetExt(extCancel, true)
		return c.Save(doc)
	})
	if err != nil {
		return nil, err
	}
	return &resource.Response{Status: http.StatusNoContent, Header: http.Header{}}, nil
}

// validate binds a deployment request and runs the preflight checks
// without deploying anything.
func (d *Engine) validate(ctx context.Context, e *resource.Engine, r *resource.Request) (*resource.Response, error) {
	id := r.Path.ID
	if err := e.Authorize(ctx, r, Type+"/validate/action", id); err != nil {
		return nil, err
	}
	// A validate deletes from a full history too (see History).
	defer d.trim(ctx, scopeOf(id), r)
	p, req, err := d.prepare(ctx, id, r)
	if err != nil {
		return nil, err
	}
	var body []byte
	err = e.View(ctx, func(c *resource.Ctx) error {
		doc := c.NewDoc(d.res.Kind(Type), id)
		if req.Location != "" {
			doc.Obj.SetValue("location", resource.NormalizeLocation(req.Location))
		}
		props := doc.Props()
		props.SetValue("templateHash", p.Hash())
		props.Set("parameters", p.Parameters())
		props.SetValue("mode", req.Mode)
		props.SetValue("provisioningState", arm.StateSucceeded)
		props.SetValue("timestamp", arm.FormatTime(c.Now))
		props.SetValue("duration", "PT0S")
		props.SetValue("correlationId", c.E.NewID())
		props.SetValue("providers", providers(p))
		props.SetValue("dependencies", dependencies(p))
		validated := []map[string]string{}
		for _, res := range p.Resources() {
			if res.Condition && !res.Existing {
				validated = append(validated, map[string]string{"id": res.ID})
			}
		}
		props.SetValue("validatedResources", validated)
		body = doc.Body()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jsonResponse(http.StatusOK, body), nil
}

// prepare parses and binds a validate or whatIf request and runs the
// preflight checks.
func (d *Engine) prepare(ctx context.Context, id arm.ResourceID, r *resource.Request) (plan.Plan, *request, error) {
	if err := validateName(id.Name()); err != nil {
		return nil, nil, err
	}
	req, err := d.parseRequest(r.Body, id.ResourceGroup == "")
	if err != nil {
		return nil, nil, err
	}
	st := &state{Template: req.Template, Parameters: req.Parameters, TemplateLink: req.TemplateLink, Mode: req.Mode,
		Principal: *r.Principal, BaseURL: r.BaseURL, Started: d.res.Now().UTC(), Location: req.Location}
	p, err := d.bind(ctx, id, st)
	if err != nil {
		return nil, nil, err
	}
	if err := d.preflight(ctx, r, p); err != nil {
		return nil, nil, err
	}
	return p, req, nil
}

// preflight checks what ARM checks before deploying: every resource's type
// and api-version exist, and the deployer may write every resource it
// deploys (InvalidTemplateDeployment, "Authorization failed for template
// resource ...", one message per refusal, as ARM's preflight answers:
// Azure-Samples/azure-search-openai-demo#1483).
func (d *Engine) preflight(ctx context.Context, r *resource.Request, p plan.Plan) error {
	var details []*arm.Error
	var denied []string
	for _, res := range p.Resources() {
		if !res.Condition || res.Nested != nil || res.Existing {
			continue
		}
		if err := d.knownVersion(res.Type, res.APIVersion); err != nil {
			details = append(details, err.WithTarget(res.ID))
			continue
		}
		if msg := d.mayWrite(ctx, r, res); msg != "" {
			denied = append(denied, msg)
		}
	}
	if len(details) > 0 {
		return &arm.Error{Code: arm.CodeInvalidTemplateDeployment, Message: "The template deployment failed because of policy or preflight validation. Please see details for more information.", Details: details}
	}
	if len(denied) > 0 {
		return arm.Errorf(arm.CodeInvalidTemplateDeployment, "The template deployment failed with error: '%s'.", strings.Join(denied, ":"))
	}
	return nil
}

// mayWrite checks that the deployer of r may write the template resource
// res, and says why not ("" when it may).
func (d *Engine) mayWrite(ctx context.Context, r *resource.Request, res *plan.Resource) string {
	if r == nil || r.Principal == nil {
		return ""
	}
	id, aerr := arm.ParseResourceID(res.ID)
	if aerr != nil {
		return "" // the resource's own request will say what is wrong
	}
	k := d.res.Kind(id.Type())
	if k == nil {
		return ""
	}
	err := d.res.AuthorizeKind(ctx, k, r, "write", id)
	if err == nil {
		return ""
	}
	if ae := arm.AsError(err); ae == nil || ae.Code != arm.CodeAuthorizationFailed {
		return ""
	}
	return fmt.Sprintf("Authorization failed for template resource '%s' of type '%s'. The client '%s' with object id '%s' does not have permission to perform action '%s' at scope '%s'.",
		res.Name, res.Type, r.Principal.Name, r.Principal.ObjectID, k.Action("write"), id.String())
}

// knownVersion says whether privlink serves typ at version, with ARM's
// errors when it does not.
func (d *Engine) knownVersion(typ, version string) *arm.Error {
	var versions []string
	if k := d.res.Kind(typ); k != nil {
		versions = k.APIVersions
	} else {
		versions = catalog.Versions(typ)
	}
	ns, rest, _ := strings.Cut(typ, "/")
	if len(versions) == 0 {
		return arm.Errorf(arm.CodeInvalidResourceType, "The resource type '%s' could not be found in the namespace '%s' for api version '%s'.", rest, ns, version)
	}
	for _, v := range versions {
		if strings.EqualFold(v, version) {
			return nil
		}
	}
	return arm.Errorf(arm.CodeNoRegisteredProviderFound, "No registered resource provider found for location '' and API version '%s' for type '%s'. The supported api-versions are '%s'.", version, rest, strings.Join(resource.Newest(versions), ", "))
}

// exportTemplate answers the template a deployment ran.
func (d *Engine) exportTemplate(ctx context.Context, e *resource.Engine, r *resource.Request) (*resource.Response, error) {
	id := r.Path.ID
	if err := e.Authorize(ctx, r, Type+"/exportTemplate/action", id); err != nil {
		return nil, err
	}
	doc, err := d.load(ctx, id)
	if err != nil {
		return nil, err
	}
	var st state
	doc.Ext(extState, &st)
	b, _ := arm.Marshal(map[string]json.RawMessage{"template": st.Template})
	return jsonResponse(http.StatusOK, b), nil
}

// statusWait is how long a status poll of a running deployment waits for
// its end before answering Running.
const statusWait = 5 * time.Second

// statusKind answers a deployment's Azure-AsyncOperation URL:
// {"status": "Running" | "Succeeded" | "Failed" | "Canceled", "error"?}.
func statusKind(d *Engine) *resource.Kind {
	k := &resource.Kind{Type: StatusType, APIVersions: APIVersions, ARMOwned: true, AlsoSubscription: true, ReadOnly: true, NoState: true}
	k.Handle = map[string]func(context.Context, *resource.Engine, *resource.Request) (*resource.Response, error){
		http.MethodGet: func(ctx context.Context, e *resource.Engine, r *resource.Request) (*resource.Response, error) {
			id := r.Path.ID
			if err := e.Authorize(ctx, r, Type+"/read", id.Parent()); err != nil {
				return nil, err
			}
			ops := e.Operations()
			op, od, err := ops.Get(ctx, id.Name())
			if resource.IsNotFound(err) || (err == nil && !strings.EqualFold(op.Resource, id.Parent().Key())) {
				return nil, arm.Errorf(arm.CodeOperationNotFound, "The operation '%s' could not be found.", id.Name())
			}
			if err != nil {
				return nil, err
			}
			if op.Status == arm.StateRunning {
				// A deployment takes a moment, not the minutes of Azure: the
				// poll waits for its end (a few seconds at most) instead of
				// sending the client off for its default 30-second sleep.
				ops.Await(ctx, op.ID, statusWait)
				if op, od, err = ops.Get(ctx, id.Name()); err != nil {
					return nil, err
				}
			}
			st := map[string]any{"status": op.Status}
			if od.Error != nil {
				st["error"] = od.Error
			}
			b, _ := arm.Marshal(st)
			resp := jsonResponse(http.StatusOK, b)
			if op.Status == arm.StateRunning {
				resp.Header.Set("Retry-After", "1")
			}
			return resp, nil
		},
	}
	return k
}
