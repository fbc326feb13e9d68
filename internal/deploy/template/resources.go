package template

import (
	"fmt"
	"strings"

	"github.com/privlink/privlink/internal/deploy/expr"
	"github.com/privlink/privlink/internal/deploy/plan"
)

const deploymentsType = "Microsoft.Resources/deployments"

// instance is one resource instance after copy expansion.
type instance struct {
	def    *resDef
	res    *plan.Resource
	loops  []loopIndex
	parent *instance
	// typ and name are the full type and name ("Microsoft.Kusto/clusters/
	// managedPrivateEndpoints", "c/m").
	typ, name string
	// id is computed once every instance is known (a scope may name a
	// resource declared later); idState guards against scopes that name
	// each other.
	idState int
	deps    []int
}

// expand turns the declared resources into instances: copy loops are
// counted, and names, types, api-versions and conditions evaluated, as ARM
// does before it deploys anything.
func (p *Plan) expand() error {
	byDef := map[*resDef][]*instance{}
	for _, d := range p.t.res {
		parents := []*instance{nil}
		if d.parent != nil {
			parents = byDef[d.parent]
		}
		for _, parent := range parents {
			var base []loopIndex
			if parent != nil {
				base = parent.loops
			}
			c := &evalCtx{p: p, ph: phStatic, loops: base}
			count, serial, batch := 1, false, 0
			if d.copyNode != nil {
				n, err := c.copyCount(d.copyNode.get("count"))
				if err != nil {
					return p.resourceError(d, nil, err, "has an invalid copy count")
				}
				count = n
				if m := d.copyNode.get("mode"); m != nil {
					mv, err := c.value(m)
					if err != nil {
						return p.resourceError(d, nil, err, "")
					}
					ms, _ := mv.(string)
					switch strings.ToLower(ms) {
					case "serial":
						serial = true
					case "parallel":
					default:
						return invalidAt(m, "The template resource copy mode '%v' %s is not valid. The supported modes are 'Parallel, Serial'", mv, whereOf(m).at())
					}
				}
				if bs := d.copyNode.get("batchSize"); bs != nil {
					bv, err := c.value(bs)
					if err != nil {
						return p.resourceError(d, nil, err, "")
					}
					n, ok := bv.(int64)
					if !ok || n < 1 || n > MaxCopyCount {
						return invalidAt(bs, "The template resource copy batch size %s is not valid: it must be an integer from 1 to %d", whereOf(bs).at(), MaxCopyCount)
					}
					batch = int(n)
				}
				if serial && batch == 0 {
					batch = 1
				}
			}
			for i := 0; i < count; i++ {
				loops := base
				if d.copyNode != nil {
					loops = append(append([]loopIndex{}, base...), loopIndex{name: d.copyName, index: i})
				}
				in, err := p.newInstance(d, parent, loops)
				if err != nil {
					return err
				}
				if d.copyNode != nil {
					in.res.Copy, in.res.CopyIndex, in.res.Serial, in.res.BatchSize = d.copyName, i, serial, batch
				}
				byDef[d] = append(byDef[d], in)
				in.res.Index = len(p.insts)
				p.insts = append(p.insts, in)
				p.res = append(p.res, in.res)
				if len(p.insts) > MaxResources {
					return invalidAt(p.t.root.get("resources"), "The number of template resources limit exceeded. Limit: '%d' and actual: '%d'", MaxResources, p.countAll(byDef))
				}
			}
		}
	}
	seen := map[string]*instance{}
	for _, in := range p.insts {
		if err := p.computeID(in); err != nil {
			return err
		}
		if in.res.Existing {
			continue
		}
		k := strings.ToLower(in.res.ID)
		if prev := seen[k]; prev != nil {
			w := whereOf(in.def.node)
			return invalid(w, "The resource '%s' %s is defined multiple times in a template. Please see https://aka.ms/arm-template/#resources for usage details", in.res.ID, w.at())
		}
		seen[k] = in
	}
	return nil
}

// countAll is the number of instances the template would have, for the
// message of the resources limit.
func (p *Plan) countAll(byDef map[*resDef][]*instance) int {
	n := 0
	for _, d := range p.t.res {
		c := &evalCtx{p: p, ph: phStatic}
		k := 1
		if d.copyNode != nil {
			if m, err := c.copyCount(d.copyNode.get("count")); err == nil {
				k = m
			}
		}
		if d.parent != nil {
			k *= max(1, len(byDef[d.parent]))
		}
		n += k
	}
	return n
}

// resourceError is ARM's error for a resource whose declaration is not
// valid: the place of the fault, the resource's name when known.
func (p *Plan) resourceError(d *resDef, in *instance, err error, what string) error {
	if ae := runtimeCause(err); ae != nil {
		return ae
	}
	w, msg := locate(err, d.node)
	name := d.symbolic
	if in != nil && in.name != "" {
		name = in.name
	} else if n := d.node.get("name"); n != nil && name == "" {
		name = n.str
	}
	if what != "" {
		return invalid(w, "The template resource '%s' %s %s. %s", name, w.at(), what, see(p.scrub(msg), "https://aka.ms/arm-copy"))
	}
	return invalid(w, "The template resource '%s' %s is not valid: %s", name, w.at(), see(p.scrub(msg), "https://aka.ms/arm-functions"))
}

func (p *Plan) str(c *evalCtx, d *resDef, n *jnode, what string) (string, error) {
	v, err := c.value(n)
	if err != nil {
		return "", p.resourceError(d, nil, err, "")
	}
	s, ok := v.(string)
	if !ok {
		return "", p.resourceError(d, nil, &nodeError{n: n, err: fmt.Errorf("the resource %s must be a string; it is of type '%s'", what, expr.TypeName(v))}, "")
	}
	return s, nil
}

func (p *Plan) newInstance(d *resDef, parent *instance, loops []loopIndex) (*instance, error) {
	c := &evalCtx{p: p, ph: phStatic, loops: loops}
	in := &instance{def: d, parent: parent, loops: loops, res: &plan.Resource{Symbolic: d.symbolic, Condition: true}}
	node := d.node
	tn, nn := node.get("type"), node.get("name")
	if tn == nil || nn == nil {
		w := whereOf(node)
		return nil, invalid(w, "The template resource %s is not valid: required properties 'type' and 'name' must be given", w.at())
	}
	typ, err := p.str(c, d, tn, "type")
	if err != nil {
		return nil, err
	}
	name, err := p.str(c, d, nn, "name")
	if err != nil {
		return nil, err
	}
	if parent != nil {
		// A nested child's type and name are relative to its parent's
		// unless written in full.
		if !strings.Contains(typ, "/") {
			typ = parent.typ + "/" + typ
		}
		if strings.Count(name, "/") < strings.Count(typ, "/")-1 {
			name = parent.name + "/" + name
		}
	}
	in.typ, in.name = typ, name
	in.res.Type, in.res.Name = typ, name
	if av := node.get("apiVersion"); av != nil {
		if in.res.APIVersion, err = p.str(c, d, av, "apiVersion"); err != nil {
			return nil, err
		}
	} else if p.t.root.get("apiProfile") == nil {
		w := whereOf(node)
		return nil, invalid(w, "The template resource '%s' %s is not valid: required property 'apiVersion' not found. Please see https://aka.ms/arm-template/#resources for usage details", name, w.at())
	}
	if cn := node.get("condition"); cn != nil {
		v, err := c.value(cn)
		if err != nil {
			return nil, p.resourceError(d, in, err, "")
		}
		b, ok := v.(bool)
		if !ok {
			if s, isStr := v.(string); isStr && (strings.EqualFold(s, "true") || strings.EqualFold(s, "false")) {
				b, ok = strings.EqualFold(s, "true"), true
			}
		}
		if !ok {
			return nil, p.resourceError(d, in, &nodeError{n: cn, err: fmt.Errorf("the condition must be a boolean; it is of type '%s'", expr.TypeName(v))}, "")
		}
		in.res.Condition = b
	}
	if ex := node.get("existing"); ex != nil && ex.kind == jBool {
		in.res.Existing = ex.b
	}
	return in, nil
}

// computeID sets the instance's id: in the deployment's scope, a nested
// deployment's ("subscriptionId", "resourceGroup"), or an extension
// resource's ("scope").
func (p *Plan) computeID(in *instance) error {
	switch in.idState {
	case 2:
		return nil
	case 1:
		return invalidAt(in.def.node.get("scope"), "The template resource '%s' %s is not valid: its scope refers back to itself", in.name, whereOf(in.def.node).at())
	}
	in.idState = 1
	d := in.def
	c := &evalCtx{p: p, ph: phStatic, loops: in.loops}
	segs := strings.Split(in.typ, "/")
	names := strings.Split(in.name, "/")
	if len(segs) < 2 || segs[0] == "" || len(names) != len(segs)-1 {
		w := whereOf(d.node.get("name"))
		if len(segs) < 2 || segs[0] == "" {
			w = whereOf(d.node.get("type"))
			return invalid(w, "The template resource '%s' %s is not valid: the resource type '%s' is not valid. A resource type is a namespace and one or more types, such as 'Microsoft.Storage/storageAccounts'", in.name, w.at(), in.typ)
		}
		return invalid(w, "The template resource '%s' for type '%s' %s has incorrect segment lengths. A nested resource type must have identical number of segments as its resource name. A root resource type must have segment length one greater than its resource name. Please see https://aka.ms/arm-template/#resources for usage details", in.name, in.typ, w.at())
	}
	var rel strings.Builder
	rel.WriteString(segs[0])
	for i, t := range segs[1:] {
		rel.WriteString("/" + t + "/" + names[i])
	}
	isDeployment := strings.EqualFold(in.typ, deploymentsType)
	if sn := d.node.get("scope"); sn != nil && !isDeployment {
		sv, err := p.str(c, d, sn, "scope")
		if err != nil {
			return err
		}
		base, err := p.resolveScope(sv)
		if err != nil {
			return p.resourceError(d, in, &nodeError{n: sn, err: err}, "")
		}
		in.res.ID = strings.TrimSuffix(base, "/") + "/providers/" + rel.String()
		in.idState = 2
		return nil
	}
	sub := p.scope.SubscriptionID
	rg := ""
	if p.scope.ResourceGroup != nil {
		rg = p.scope.ResourceGroup.Name
	}
	subGiven := false
	if sn := d.node.get("subscriptionId"); sn != nil {
		v, err := p.str(c, d, sn, "subscriptionId")
		if err != nil {
			return err
		}
		if v != "" {
			sub, subGiven = v, true
		}
	}
	if rn := d.node.get("resourceGroup"); rn != nil {
		v, err := p.str(c, d, rn, "resourceGroup")
		if err != nil {
			return err
		}
		if v != "" {
			rg = v
		}
	} else if isDeployment && subGiven && d.node.get("location") != nil {
		// A deployment naming a subscription and a location but no
		// resource group deploys at that subscription's scope.
		rg = ""
	}
	if isDeployment {
		in.res.Nested = &plan.NestedTarget{SubscriptionID: sub, ResourceGroup: rg}
	}
	switch {
	case strings.EqualFold(in.typ, "Microsoft.Resources/resourceGroups"):
		in.res.ID = "/subscriptions/" + sub + "/resourceGroups/" + in.name
	case rg == "":
		in.res.ID = "/subscriptions/" + sub + "/providers/" + rel.String()
	default:
		in.res.ID = "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/" + rel.String()
	}
	in.idState = 2
	return nil
}

// resolveScope turns a resource's "scope" into the id it extends: a
// symbolic name (languageVersion 2.0), a full id, or an id relative to the
// deployment's scope ("Microsoft.EventHub/namespaces/ns1").
func (p *Plan) resolveScope(v string) (string, error) {
	if p.t.lv2 {
		if insts := p.bySymbolic(v); len(insts) == 1 {
			if err := p.computeID(insts[0]); err != nil {
				return "", err
			}
			return insts[0].res.ID, nil
		}
	}
	if strings.HasPrefix(v, "/") {
		return v, nil
	}
	if strings.Count(v, "/") < 2 {
		return "", fmt.Errorf("the scope '%s' is not a resource id", v)
	}
	base := "/subscriptions/" + p.scope.SubscriptionID
	if p.scope.ResourceGroup != nil {
		base += "/resourceGroups/" + p.scope.ResourceGroup.Name
	}
	return base + "/providers/" + v, nil
}

func (p *Plan) bySymbolic(name string) []*instance {
	var out []*instance
	for _, in := range p.insts {
		if in.def.symbolic == name {
			out = append(out, in)
		}
	}
	if out == nil {
		for _, in := range p.insts {
			if in.def.symbolic != "" && strings.EqualFold(in.def.symbolic, name) {
				out = append(out, in)
			}
		}
	}
	return out
}

func (p *Plan) byName(name string) []*instance {
	var out []*instance
	for _, in := range p.insts {
		if strings.EqualFold(in.name, name) {
			out = append(out, in)
		}
	}
	return out
}

func (p *Plan) byID(id string) *instance {
	id = canonicalID(id)
	for _, in := range p.insts {
		if strings.EqualFold(canonicalID(in.res.ID), id) {
			return in
		}
	}
	return nil
}

// canonicalID writes a resource group's id one way: subscriptionResourceId()
// spells it ".../providers/Microsoft.Resources/resourceGroups/{name}",
// where ARM's own is "/subscriptions/{s}/resourceGroups/{name}".
func canonicalID(id string) string {
	id = strings.TrimSuffix(id, "/")
	const rgType = "/providers/microsoft.resources/resourcegroups/"
	if i := strings.Index(strings.ToLower(id), rgType); i >= 0 && strings.Count(id[i+len(rgType):], "/") == 0 && strings.Count(id[:i], "/") == 2 {
		return id[:i] + "/resourceGroups/" + id[i+len(rgType):]
	}
	return id
}

// byRelativeID finds an instance by an id relative to its scope:
// "Microsoft.Network/virtualNetworks/vnet/subnets/s" or the type and
// name run together ("Microsoft.Network/virtualNetworks/subnets/vnet/s").
func (p *Plan) byRelativeID(rel string) *instance {
	rel = strings.Trim(rel, "/")
	for _, in := range p.insts {
		id := in.res.ID
		if i := strings.LastIndex(strings.ToLower(id), "/providers/"); i >= 0 && strings.EqualFold(id[i+len("/providers/"):], rel) {
			return in
		}
		if strings.EqualFold(in.typ+"/"+in.name, rel) {
			return in
		}
	}
	return nil
}

// resolveDep finds the instances a dependsOn entry names: a symbolic name,
// a copy loop, a resource id (full or relative) or a resource name.
func (p *Plan) resolveDep(v string) []*instance {
	if p.t.lv2 {
		if insts := p.bySymbolic(v); insts != nil {
			return insts
		}
	}
	if !strings.Contains(v, "/") {
		var loop []*instance
		for _, in := range p.insts {
			if in.def.copyName != "" && strings.EqualFold(in.def.copyName, v) {
				loop = append(loop, in)
			}
		}
		if loop != nil {
			return loop
		}
		return p.byName(v)
	}
	if strings.HasPrefix(v, "/") {
		if in := p.byID(v); in != nil {
			return []*instance{in}
		}
		return nil
	}
	if in := p.byRelativeID(v); in != nil {
		return []*instance{in}
	}
	return p.byName(v)
}

// dependencies resolves dependsOn and the implicit edges of reference()
// and list*(), refuses cycles, and sets each resource's DependsOn with
// the edges to resources whose condition is false replaced by theirs.
func (p *Plan) dependencies() error {
	for _, in := range p.insts {
		set := map[int]bool{}
		add := func(targets []*instance) {
			for _, t := range targets {
				if !set[t.res.Index] {
					set[t.res.Index] = true
					in.deps = append(in.deps, t.res.Index)
				}
			}
		}
		// A null dependsOn is no dependsOn, as ARM reads null members.
		if dn := in.def.node.get("dependsOn"); dn != nil && dn.kind != jNull {
			if dn.kind != jArray {
				return invalidAt(dn, "The template resource '%s' %s is not valid: 'dependsOn' must be an array", in.name, whereOf(dn).at())
			}
			c := &evalCtx{p: p, ph: phStatic, loops: in.loops}
			for _, item := range dn.items {
				v, err := c.value(item)
				if err != nil {
					return p.resourceError(in.def, in, err, "")
				}
				s, ok := v.(string)
				if !ok {
					return p.resourceError(in.def, in, &nodeError{n: item, err: fmt.Errorf("a dependsOn entry must be a string; it is of type '%s'", expr.TypeName(v))}, "")
				}
				targets := p.resolveDep(s)
				if targets == nil {
					w := whereOf(item)
					return invalid(w, "The resource '%s' is not defined in the template. Please see https://aka.ms/arm-syntax for usage details", s)
				}
				add(targets)
			}
		}
		add(p.implicitTargets(in))
	}
	if err := p.checkCycles(); err != nil {
		return err
	}
	memo := map[int][]int{}
	var effective func(i int) []int
	effective = func(i int) []int {
		if r, ok := memo[i]; ok {
			return r
		}
		memo[i] = nil
		seen := map[int]bool{}
		var out []int
		for _, d := range p.insts[i].deps {
			var next []int
			if p.insts[d].res.Condition {
				next = []int{d}
			} else {
				next = effective(d)
			}
			for _, x := range next {
				if !seen[x] {
					seen[x] = true
					out = append(out, x)
				}
			}
		}
		memo[i] = out
		return out
	}
	for i, in := range p.insts {
		in.res.DependsOn = effective(i)
	}
	return nil
}

func (p *Plan) checkCycles() error {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(p.insts))
	var visit func(i int) *instance
	visit = func(i int) *instance {
		color[i] = grey
		for _, d := range p.insts[i].deps {
			switch color[d] {
			case grey:
				return p.insts[d]
			case white:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		color[i] = black
		return nil
	}
	for i := range p.insts {
		if color[i] == white {
			if c := visit(i); c != nil {
				w := whereOf(c.def.node)
				return invalid(w, "Circular dependency detected on resource: '%s'. Please see https://aka.ms/arm-syntax-resources for usage details", c.res.ID)
			}
		}
	}
	return nil
}

// runtimeFuncs reports whether a function name is reference(),
// references() or a list*() function.
func runtimeFunc(name string) bool {
	l := strings.ToLower(name)
	return l == "reference" || l == "references" || strings.HasPrefix(l, "list") && len(l) > 4 && expr.Builtin(l) == nil
}

// callsRuntime reports the first runtime function called anywhere in n.
func callsRuntime(n *jnode) (string, bool) {
	found := ""
	walkStrings(n, nil, func(s *jnode) {
		if found != "" || !expr.IsExpression(s.str) {
			return
		}
		node, err := parsedExpr(s)
		if err != nil {
			return
		}
		expr.Walk(node, func(x expr.Node) bool {
			if call, ok := x.(*expr.CallExpr); ok && found == "" && runtimeFunc(call.Name) {
				found = call.Name
			}
			return found == ""
		})
	})
	return found, found != ""
}

// walkStrings calls f for every string value under n, skipping members
// skip says to.
func walkStrings(n *jnode, skip func(parent *jnode, key string) bool, f func(*jnode)) {
	switch n.kind {
	case jString:
		f(n)
	case jArray:
		for _, e := range n.items {
			walkStrings(e, skip, f)
		}
	case jObject:
		for i, k := range n.keys {
			if skip != nil && skip(n, k) {
				continue
			}
			walkStrings(n.vals[i], skip, f)
		}
	}
}

// implicitTargets are the template resources that in's expressions name
// in reference(), references() or list*(): ARM deploys those first.
func (p *Plan) implicitTargets(in *instance) []*instance {
	root := in.def.node
	innerScope := false
	if strings.EqualFold(in.typ, deploymentsType) {
		if eo := root.get("properties").get("expressionEvaluationOptions"); eo != nil {
			innerScope = strings.EqualFold(eo.get("scope").text(), "inner")
		}
	}
	skip := func(parent *jnode, key string) bool {
		if parent == root {
			switch strings.ToLower(key) {
			case "dependson", "resources", "copy", "name", "type", "apiversion":
				return true
			}
		}
		// An inner-scope nested template's expressions are its own.
		return innerScope && parent == root.get("properties") && strings.EqualFold(key, "template")
	}
	var out []*instance
	c := &evalCtx{p: p, ph: phStatic, loops: in.loops}
	walkStrings(root, skip, func(s *jnode) {
		if !expr.IsExpression(s.str) {
			return
		}
		node, err := parsedExpr(s)
		if err != nil {
			return
		}
		expr.Walk(node, func(x expr.Node) bool {
			call, ok := x.(*expr.CallExpr)
			if !ok || !runtimeFunc(call.Name) || len(call.Args) == 0 {
				return true
			}
			ev := &expr.Evaluator{Context: c, Src: s.str}
			v, err := ev.Eval(call.Args[0])
			if err != nil {
				return true
			}
			ref, ok := v.(string)
			if !ok {
				return true
			}
			if strings.EqualFold(call.Name, "references") {
				out = append(out, p.bySymbolic(ref)...)
				return true
			}
			if _, _, target, err := p.runtimeTarget(ref); err == nil && target != nil && target != in {
				out = append(out, target)
			}
			return true
		})
	})
	return out
}
