package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/deploy/plan"
	"github.com/privlink/privlink/internal/resource"
)

// change is one entry of a what-if result (WhatIfChange in the
// Deployments API).
type change struct {
	ResourceID        string   `json:"resourceId"`
	ChangeType        string   `json:"changeType"`
	UnsupportedReason string   `json:"unsupportedReason,omitempty"`
	Before            any      `json:"before,omitempty"`
	After             any      `json:"after,omitempty"`
	Delta             []*delta `json:"delta,omitempty"`
}

// delta is a WhatIfPropertyChange.
type delta struct {
	Path               string   `json:"path"`
	PropertyChangeType string   `json:"propertyChangeType"`
	Before             any      `json:"before,omitempty"`
	After              any      `json:"after,omitempty"`
	Children           []*delta `json:"children,omitempty"`
}

// whatIf predicts what a deployment would change, without changing
// anything: each resource of the template is Create (absent), NoChange or
// Modify (with the property deltas); in Complete mode the resource group's
// other resources are Delete, in Incremental mode Ignore.
func (d *Engine) whatIf(ctx context.Context, e *resource.Engine, r *resource.Request) (*resource.Response, error) {
	id := r.Path.ID
	if err := e.Authorize(ctx, r, Type+"/whatIf/action", id); err != nil {
		return nil, err
	}
	// A what-if deletes from a full history too (see History).
	defer d.trim(ctx, scopeOf(id), r)
	p, _, err := d.prepare(ctx, id, r)
	if err != nil {
		return nil, err
	}
	idOnly := false
	if in, err := resource.ParseBody(r.Body); err == nil {
		if props, _ := in.Object("properties"); props != nil {
			if ws, _ := props.Object("whatIfSettings"); ws != nil {
				f, _, _ := ws.String("resultFormat")
				idOnly = strings.EqualFold(f, "ResourceIdOnly")
			}
		}
	}
	rt := &runtime{ctx: ctx, e: d.res, principal: r.Principal, baseURL: r.BaseURL, secrets: d.cfg.Secrets}
	var changes []*change
	named := map[string]bool{}
	if err := d.predict(ctx, id, p, rt, &changes, named); err != nil {
		return nil, err
	}
	if id.ResourceGroup != "" {
		others, err := d.untouched(ctx, id, named)
		if err != nil {
			return nil, err
		}
		for _, o := range others {
			c := &change{ResourceID: o.ID.String(), ChangeType: "Ignore", Before: decode(o.Body())}
			if p.Mode() == "Complete" {
				c.ChangeType = "Delete"
			}
			changes = append(changes, c)
		}
	}
	if idOnly {
		for _, c := range changes {
			c.Before, c.After, c.Delta = nil, nil, nil
		}
	}
	if changes == nil {
		changes = []*change{}
	}
	b, err := arm.Marshal(map[string]any{"status": arm.StateSucceeded, "properties": map[string]any{"changes": changes}})
	if err != nil {
		return nil, err
	}
	return jsonResponse(http.StatusOK, b), nil
}

// predict adds the changes of p's resources (nested deployments' resources
// included) to changes.
func (d *Engine) predict(ctx context.Context, id arm.ResourceID, p plan.Plan, rt *runtime, changes *[]*change, named map[string]bool) error {
	for _, r := range p.Resources() {
		if !r.Condition || r.Existing {
			continue
		}
		if rid, aerr := arm.ParseResourceID(r.ID); aerr == nil {
			named[rid.Key()] = true
		}
		if r.Nested != nil {
			child, err := d.nestedForWhatIf(ctx, id, p, r, rt)
			if err != nil {
				*changes = append(*changes, &change{ResourceID: r.ID, ChangeType: "Unsupported", UnsupportedReason: err.Error()})
				continue
			}
			if err := d.predict(ctx, id, child, rt, changes, named); err != nil {
				return err
			}
			continue
		}
		body, err := p.Body(r, rt, true)
		if err != nil {
			*changes = append(*changes, &change{ResourceID: r.ID, ChangeType: "Unsupported", UnsupportedReason: err.Error()})
			continue
		}
		planned := decodeObject(body)
		current, err := rt.Reference(r.ID, r.APIVersion)
		if ae := arm.AsError(err); ae != nil && ae.HTTPStatus() == http.StatusNotFound {
			after := map[string]any{"apiVersion": r.APIVersion, "id": r.ID, "name": r.Name, "type": r.Type}
			for k, v := range planned {
				after[k] = v
			}
			*changes = append(*changes, &change{ResourceID: r.ID, ChangeType: "Create", After: after})
			continue
		}
		if err != nil {
			return err
		}
		before := decodeObject(current)
		before["apiVersion"] = r.APIVersion
		after := merge(clone(before), planned)
		ds := diff("", before, planned)
		c := &change{ResourceID: r.ID, ChangeType: "NoChange", Before: before, After: after}
		if len(ds) > 0 {
			c.ChangeType, c.Delta = "Modify", ds
		}
		*changes = append(*changes, c)
	}
	return nil
}

// nestedForWhatIf binds a nested deployment's plan for a what-if.
func (d *Engine) nestedForWhatIf(ctx context.Context, parent arm.ResourceID, p plan.Plan, r *plan.Resource, rt *runtime) (plan.Plan, error) {
	sub, rg := r.Nested.SubscriptionID, r.Nested.ResourceGroup
	if sub == "" {
		sub = parent.Subscription
	}
	name := r.Name[strings.LastIndexByte(r.Name, '/')+1:]
	id := arm.ResourceID{Subscription: sub, ResourceGroup: rg, Namespace: "Microsoft.Resources", Types: []string{"deployments"}, Names: []string{name}}
	st := &state{Principal: *rt.principal, BaseURL: rt.baseURL, Started: d.res.Now().UTC(), Mode: p.Mode()}
	var s plan.Scope
	err := d.res.View(ctx, func(c *resource.Ctx) error {
		var err error
		s, err = d.scope(c, id, st, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p.Nested(r, rt, s)
}

// untouched lists the resource group's top-level resources a template does not name.
func (d *Engine) untouched(ctx context.Context, id arm.ResourceID, named map[string]bool) ([]*resource.Doc, error) {
	var out []*resource.Doc
	err := d.res.View(ctx, func(c *resource.Ctx) error {
		docs, err := c.Children(arm.ResourceID{Subscription: id.Subscription, ResourceGroup: id.ResourceGroup}, "")
		if err != nil {
			return err
		}
		for _, doc := range docs {
			if !named[doc.ID.Key()] && groupResource(doc) {
				out = append(out, doc)
			}
		}
		return nil
	})
	return out, err
}

// groupResource reports whether d, a direct child of a resource group, is
// one of the group's resources as Complete mode and what-if see them: what
// GET {group}/resources lists, the tracked types that are not ARM's own.
// Extension resources on the group (role assignments, locks) are not among
// them: Azure's table of what Complete mode deletes says "No" for
// Microsoft.Authorization/roleAssignments and locks, and what-if does not
// list them. Deployments and read-only types are not either.
func groupResource(d *resource.Doc) bool {
	k := d.Kind
	return k.Tracked && !k.ARMOwned && !k.ReadOnly && !strings.EqualFold(k.Type, Type)
}

// diff lists how planned would change before: the members planned sets
// (a resource's read-only members are not the template's to change).
func diff(prefix string, before map[string]any, planned map[string]any) []*delta {
	var out []*delta
	keys := make([]string, 0, len(planned))
	for k := range planned {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		pv := planned[k]
		_, bv, ok := lookupFold(before, k)
		if !ok {
			out = append(out, &delta{Path: path, PropertyChangeType: "Create", After: pv})
			continue
		}
		pm, pIsObj := pv.(map[string]any)
		bm, bIsObj := bv.(map[string]any)
		if pIsObj && bIsObj {
			out = append(out, diff(path, bm, pm)...)
			continue
		}
		if !sameJSON(bv, pv) {
			t := "Modify"
			if _, isArr := pv.([]any); isArr {
				t = "Array"
			}
			out = append(out, &delta{Path: path, PropertyChangeType: t, Before: bv, After: pv})
		}
	}
	return out
}

// lookupFold finds member k of m, matching the name case-insensitively as
// ARM compares property names.
func lookupFold(m map[string]any, k string) (string, any, bool) {
	if v, ok := m[k]; ok {
		return k, v, true
	}
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return mk, v, true
		}
	}
	return "", nil, false
}

func sameJSON(a, b any) bool {
	ab, _ := arm.Marshal(a)
	bb, _ := arm.Marshal(b)
	return bytes.Equal(ab, bb)
}

// merge writes planned over before, objects member by member.
func merge(before, planned map[string]any) map[string]any {
	for k, pv := range planned {
		bk, bv, ok := lookupFold(before, k)
		if !ok {
			before[k] = pv
			continue
		}
		pm, pIsObj := pv.(map[string]any)
		bm, bIsObj := bv.(map[string]any)
		if pIsObj && bIsObj {
			before[bk] = merge(bm, pm)
			continue
		}
		before[bk] = pv
	}
	return before
}

func clone(m map[string]any) map[string]any {
	b, _ := arm.Marshal(m)
	return decodeObject(b)
}

func decode(b []byte) any {
	var v any
	_ = json.Unmarshal(b, &v)
	return v
}

func decodeObject(b []byte) map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	return m
}
