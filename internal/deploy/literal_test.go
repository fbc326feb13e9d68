package deploy_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/deploy/plan"
)

// literal is a test-only plan.Binder for templates without expressions:
// what the engine is tested with, apart from the template language (which
// internal/deploy/template implements and tests). It reads a template's
// resources (type, apiVersion, name, dependsOn by name or id, condition as a
// JSON bool, copy with count, mode and batchSize, "{i}" in names standing for
// the copy index, inline nested deployments with resourceGroup), and its
// outputs' literal values. A resource's other members are its body.
type literal struct{}

type litTemplate struct {
	Resources []json.RawMessage `json:"resources"`
	Outputs   map[string]struct {
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	} `json:"outputs"`
}

type litResource struct {
	Type          string   `json:"type"`
	APIVersion    string   `json:"apiVersion"`
	Name          string   `json:"name"`
	DependsOn     []string `json:"dependsOn"`
	Condition     *bool    `json:"condition"`
	ResourceGroup string   `json:"resourceGroup"`
	Copy          *struct {
		Name      string `json:"name"`
		Count     int    `json:"count"`
		Mode      string `json:"mode"`
		BatchSize int    `json:"batchSize"`
	} `json:"copy"`
}

type litPlan struct {
	template json.RawMessage
	params   json.RawMessage
	mode     string
	res      []*plan.Resource
	bodies   []json.RawMessage
	nested   []json.RawMessage
	outputs  json.RawMessage
}

func (literal) Bind(template, parameters json.RawMessage, s plan.Scope, _ plan.Runtime) (plan.Plan, error) {
	var t litTemplate
	if err := json.Unmarshal(template, &t); err != nil {
		return nil, arm.Errorf(arm.CodeInvalidTemplate, "Deployment template parse failed: %v", err)
	}
	scope := "/subscriptions/" + s.SubscriptionID
	if s.ResourceGroup != nil {
		scope += "/resourceGroups/" + s.ResourceGroup.Name
	}
	p := &litPlan{template: template, params: parameters, mode: s.Mode}
	if p.params == nil {
		p.params = json.RawMessage("{}")
	}
	byName := map[string][]int{}
	var deps [][]string
	for _, raw := range t.Resources {
		var lr litResource
		if err := json.Unmarshal(raw, &lr); err != nil {
			return nil, arm.Errorf(arm.CodeInvalidTemplate, "bad resource: %v", err)
		}
		body := map[string]json.RawMessage{}
		_ = json.Unmarshal(raw, &body)
		for _, k := range []string{"type", "apiVersion", "name", "dependsOn", "condition", "copy", "resourceGroup"} {
			delete(body, k)
		}
		n, loop := 1, ""
		serial, batch := false, 0
		if lr.Copy != nil {
			n, loop = lr.Copy.Count, lr.Copy.Name
			serial, batch = strings.EqualFold(lr.Copy.Mode, "serial"), lr.Copy.BatchSize
		}
		for i := 0; i < n; i++ {
			name := strings.ReplaceAll(lr.Name, "{i}", fmt.Sprint(i))
			r := &plan.Resource{Index: len(p.res), Copy: loop, CopyIndex: i, Serial: serial, BatchSize: batch,
				Type: lr.Type, APIVersion: lr.APIVersion, Name: name, Condition: lr.Condition == nil || *lr.Condition}
			var nested json.RawMessage
			if strings.EqualFold(lr.Type, "Microsoft.Resources/deployments") {
				r.Nested = &plan.NestedTarget{SubscriptionID: s.SubscriptionID, ResourceGroup: lr.ResourceGroup}
				if lr.ResourceGroup == "" && s.ResourceGroup != nil {
					r.Nested.ResourceGroup = s.ResourceGroup.Name
				}
				var props struct {
					Properties struct {
						Template json.RawMessage `json:"template"`
					} `json:"properties"`
				}
				_ = json.Unmarshal(raw, &props)
				nested = props.Properties.Template
			}
			r.ID = resourceID(scope, lr.Type, name)
			if r.Nested != nil {
				r.ID = "/subscriptions/" + r.Nested.SubscriptionID + "/resourceGroups/" + r.Nested.ResourceGroup + "/providers/Microsoft.Resources/deployments/" + name
			}
			b, _ := json.Marshal(body)
			p.res = append(p.res, r)
			p.bodies = append(p.bodies, b)
			p.nested = append(p.nested, nested)
			deps = append(deps, lr.DependsOn)
			for _, k := range []string{strings.ToLower(name), strings.ToLower(r.ID), strings.ToLower(loop)} {
				if k != "" {
					byName[k] = append(byName[k], r.Index)
				}
			}
		}
	}
	for i, ds := range deps {
		for _, dep := range ds {
			targets, ok := byName[strings.ToLower(dep)]
			if !ok {
				return nil, arm.Errorf(arm.CodeInvalidTemplate, "The resource '%s' is not defined in the template.", dep)
			}
			p.res[i].DependsOn = append(p.res[i].DependsOn, targets...)
		}
	}
	out := map[string]any{}
	for k, o := range t.Outputs {
		out[k] = map[string]any{"type": o.Type, "value": o.Value}
	}
	p.outputs, _ = json.Marshal(out)
	return p, nil
}

func resourceID(scope, typ, name string) string {
	ns, rest, _ := strings.Cut(typ, "/")
	types := strings.Split(rest, "/")
	names := strings.Split(name, "/")
	var b strings.Builder
	b.WriteString(scope + "/providers/" + ns)
	for i := range types {
		b.WriteString("/" + types[i] + "/" + names[i])
	}
	return b.String()
}

func (p *litPlan) Resources() []*plan.Resource { return p.res }

func (p *litPlan) Body(r *plan.Resource, _ plan.Runtime, _ bool) (json.RawMessage, error) {
	return p.bodies[r.Index], nil
}

func (p *litPlan) Outputs(plan.Runtime) (json.RawMessage, error) { return p.outputs, nil }

func (p *litPlan) Parameters() json.RawMessage { return p.params }

func (p *litPlan) Nested(r *plan.Resource, rt plan.Runtime, s plan.Scope) (plan.Plan, error) {
	return literal{}.Bind(p.nested[r.Index], nil, s, rt)
}

func (p *litPlan) Template() json.RawMessage { return p.template }

func (p *litPlan) Hash() string {
	sum := sha256.Sum256(p.template)
	return hex.EncodeToString(sum[:8])
}

func (p *litPlan) Mode() string { return p.mode }
