package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/deploy/expr"
	"github.com/privlink/privlink/internal/deploy/plan"
)

// Binder implements plan.Binder.
type Binder struct {
	links plan.Links
}

var _ plan.Binder = (*Binder)(nil)

// NewBinder returns a Binder that reads linked templates and parameter
// files (templateLink, parametersLink) through links; nil refuses them.
func NewBinder(links plan.Links) *Binder { return &Binder{links: links} }

// Plan implements plan.Plan. Its methods may be called from several
// goroutines: evaluation is serialized, under a lock an outer-scope nested
// plan shares with its parent (it reads the parent's variables).
type Plan struct {
	mu    *sync.Mutex
	b     *Binder
	t     *Template
	scope plan.Scope
	// outer is the plan whose parameters, variables and scope functions
	// an outer-scope nested template uses.
	outer *Plan
	// link is the URI the template was read from ("" for an inline one):
	// the base of its nested templates' relativePath.
	link   string
	params map[string]*boundParam
	vars   map[string]*varState
	insts  []*instance
	res    []*plan.Resource
	// secrets are the values of secure parameters, kept out of messages.
	secrets  []string
	udfDepth int
	hash     string
}

var _ plan.Plan = (*Plan)(nil)

type boundParam struct {
	def      *paramDef
	supplied *expr.Object // {"value": ...} or {"reference": ...}; nil when not supplied
	value    any
	state    int // 0 not bound, 1 binding, 2 bound
	typ      string
}

type varState struct {
	def  *varDef
	val  any
	done bool
	busy bool
}

// Bind implements plan.Binder.
func (b *Binder) Bind(template, parameters json.RawMessage, s plan.Scope, rt plan.Runtime) (plan.Plan, error) {
	t, err := parseTemplate(template, "properties.template")
	if err != nil {
		return nil, err
	}
	supplied, err := parseParameters(parameters)
	if err != nil {
		return nil, err
	}
	return b.bind(t, supplied, s, rt, nil, linkURI(s.TemplateLink))
}

// linkURI returns the uri of a templateLink.
func linkURI(raw json.RawMessage) string {
	var l struct {
		URI string `json:"uri"`
	}
	if len(raw) > 0 && json.Unmarshal(raw, &l) == nil {
		return l.URI
	}
	return ""
}

// parseParameters reads the request's parameters: {"p": {"value": ...}},
// or a whole parameters file ({"$schema", "contentVersion", "parameters"}).
func parseParameters(raw json.RawMessage) (*expr.Object, error) {
	if len(strings.TrimSpace(string(raw))) == 0 || strings.TrimSpace(string(raw)) == "null" {
		return expr.NewObject(), nil
	}
	v, err := expr.ParseJSON(raw)
	if err != nil {
		return nil, arm.InvalidContent("properties.parameters: " + err.Error())
	}
	o, ok := v.(*expr.Object)
	if !ok {
		return nil, arm.InvalidContent("properties.parameters must be an object")
	}
	if inner, ok := o.Get("parameters"); ok && (o.Has("$schema") || o.Has("contentVersion")) {
		if io, ok := inner.(*expr.Object); ok {
			o = io
		}
	}
	return o, nil
}

func (b *Binder) bind(t *Template, supplied *expr.Object, s plan.Scope, rt plan.Runtime, outer *Plan, link string) (*Plan, error) {
	if s.Mode == "" {
		s.Mode = "Incremental"
	}
	p := &Plan{b: b, t: t, scope: s, outer: outer, link: link, params: map[string]*boundParam{}, vars: map[string]*varState{}, mu: &sync.Mutex{}}
	if outer != nil {
		p.mu = outer.mu
	}
	p.hash = templateHash(t)
	if err := p.checkExpressions(); err != nil {
		return nil, err
	}
	if outer == nil {
		if err := p.bindParams(supplied, rt); err != nil {
			return nil, err
		}
		for k, d := range t.vars {
			p.vars[k] = &varState{def: d}
		}
		if err := p.checkVariables(); err != nil {
			return nil, err
		}
	}
	if err := p.expand(); err != nil {
		return nil, err
	}
	if err := p.dependencies(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Plan) bindParams(supplied *expr.Object, rt plan.Runtime) error {
	var unknown []string
	for _, k := range supplied.Keys() {
		if p.t.byParam[strings.ToLower(k)] == nil {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		var names []string
		for _, d := range p.t.params {
			names = append(names, d.name)
		}
		return invalid(where{path: "properties.parameters"}, "The template parameters '%s' in the parameters file are not valid; they are not present in the original template and can therefore not be provided at deployment time. The only supported parameters for this template are '%s'. Please see https://aka.ms/arm-pass-parameter-values for usage details", strings.Join(unknown, ", "), strings.Join(names, ", "))
	}
	for _, d := range p.t.params {
		bp := &boundParam{def: d, typ: d.typ}
		if d.typ == "" {
			bp.typ = p.t.declType(d.node)
		}
		if v, ok := supplied.Get(d.name); ok {
			o, ok := v.(*expr.Object)
			if !ok || (!o.Has("value") && !o.Has("reference")) {
				return invalid(where{path: "properties.parameters." + d.name}, "The value of the template parameter '%s' must be an object with a 'value' or a Key Vault 'reference'. Please see https://aka.ms/arm-pass-parameter-values for usage details", d.name)
			}
			bp.supplied = o
		}
		p.params[strings.ToLower(d.name)] = bp
	}
	for _, d := range p.t.params {
		if err := p.bindParam(p.params[strings.ToLower(d.name)], rt); err != nil {
			return err
		}
	}
	return nil
}

func (p *Plan) bindParam(bp *boundParam, rt plan.Runtime) error {
	switch bp.state {
	case 2:
		return nil
	case 1:
		return invalidAt(bp.def.node, "The template parameter '%s' %s is not valid: its default value refers to itself through other parameters", bp.def.name, whereOf(bp.def.node).at())
	}
	bp.state = 1
	d := bp.def
	var v any
	switch {
	case bp.supplied != nil && bp.supplied.Has("reference"):
		ref, _ := bp.supplied.Get("reference")
		secret, err := p.keyVaultSecret(d.name, ref, rt)
		if err != nil {
			return err
		}
		v = secret
		if bp.typ == "secureobject" || bp.typ == "object" || bp.typ == "array" {
			parsed, err := expr.ParseJSON([]byte(secret))
			if err != nil {
				return arm.Errorf(arm.CodeInvalidTemplateDeployment, "The Key Vault secret of the template parameter '%s' is not valid JSON for a parameter of type '%s'.", d.name, typeNames[bp.typ])
			}
			v = parsed
		} else {
			v = coerce(bp.typ, secret)
		}
		p.secrets = append(p.secrets, secret)
	case bp.supplied != nil:
		v, _ = bp.supplied.Get("value")
		v = coerce(bp.typ, v)
	case d.node.get("defaultValue") != nil:
		c := &evalCtx{p: p, ph: phParam}
		dv, err := c.value(d.node.get("defaultValue"))
		if err != nil {
			if ae := arm.AsError(err); ae != nil {
				return ae
			}
			w, msg := locate(err, d.node.get("defaultValue"))
			return invalid(w, "The template parameter '%s' %s is not valid: %s", d.name, w.at(), see(p.scrub(msg), "https://aka.ms/arm-template-expressions"))
		}
		v = dv
	default:
		decl, _ := p.t.resolveRef(d.node)
		if nullable(d.node) || nullable(decl) {
			break
		}
		w := whereOf(d.node)
		return invalid(w, "The value for the template parameter '%s' %s is not provided. Please see https://aka.ms/arm-create-parameter-file for usage details", d.name, w.at())
	}
	if isSecure(bp.typ) {
		p.addSecret(v)
	}
	if !(v == nil && bp.supplied == nil && d.node.get("defaultValue") == nil) {
		f, err := p.t.violation(d.node, v, "")
		if err != nil {
			return err
		}
		if f != nil {
			w := whereOf(d.node)
			if f.jtoken {
				return invalid(w, "%s. Please see https://aka.ms/arm-deploy/#parameter-file for usage details", f.msg)
			}
			shown := ""
			if f.show && !isSecure(bp.typ) {
				shown = " '" + expr.ToString(f.value) + "'"
			}
			return invalid(w, "The provided value%s for the template parameter '%s' %s is not valid. %s. Please see https://aka.ms/arm-deploy/#parameter-file for usage details", shown, d.name, w.at(), f.msg)
		}
	}
	bp.value = v
	bp.state = 2
	return nil
}

func nullable(n *jnode) bool {
	x := n.get("nullable")
	return x != nil && x.kind == jBool && x.b
}

// addSecret remembers the strings of a secure value so that no message
// repeats them.
func (p *Plan) addSecret(v any) {
	switch x := v.(type) {
	case string:
		if len(x) >= 3 {
			p.secrets = append(p.secrets, x)
		}
	case []any:
		for _, e := range x {
			p.addSecret(e)
		}
	case *expr.Object:
		for i := 0; i < x.Len(); i++ {
			p.addSecret(x.Value(i))
		}
	}
}

// scrub removes secure values from a message.
func (p *Plan) scrub(msg string) string {
	for q := p; q != nil; q = q.outer {
		for _, s := range q.secrets {
			if s != "" {
				msg = strings.ReplaceAll(msg, s, "***")
			}
		}
	}
	return msg
}

// keyVaultSecret resolves a parameter's Key Vault reference:
// {"keyVault": {"id": vaultId}, "secretName": name, "secretVersion": v}.
func (p *Plan) keyVaultSecret(name string, ref any, rt plan.Runtime) (string, error) {
	o, _ := ref.(*expr.Object)
	kv, _ := o.Get("keyVault")
	kvo, _ := kv.(*expr.Object)
	id, _ := kvo.Get("id")
	secret, _ := o.Get("secretName")
	version, _ := o.Get("secretVersion")
	ids, _ := id.(string)
	sn, _ := secret.(string)
	sv, _ := version.(string)
	if ids == "" || sn == "" {
		return "", invalid(where{path: "properties.parameters." + name + ".reference"}, "The Key Vault reference of the template parameter '%s' is not valid: it needs 'keyVault.id' and 'secretName'. Please see https://aka.ms/arm-keyvault-parameter for usage details", name)
	}
	if rt == nil {
		return "", arm.Errorf(arm.CodeInvalidTemplateDeployment, "The Key Vault reference of the template parameter '%s' cannot be resolved here.", name)
	}
	v, err := rt.Secret(ids, sn, sv)
	if err != nil {
		if ae := arm.AsError(err); ae != nil {
			return "", ae
		}
		return "", arm.Errorf(arm.CodeKeyVaultSecretRetrieveFailed, "A secret with name '%s' could not be retrieved from the Key Vault '%s' for the template parameter '%s'.", sn, ids, name)
	}
	return v, nil
}

// parameter is parameters(name).
func (p *Plan) parameter(name string, c *evalCtx) (any, error) {
	if p.outer != nil {
		return p.outer.parameter(name, c)
	}
	bp := p.params[strings.ToLower(name)]
	if bp == nil {
		return nil, msgf("The template parameter '%s' is not found. Please see https://aka.ms/arm-template/#parameters for usage details", name)
	}
	if bp.state != 2 {
		if bp.state == 1 {
			return nil, msgf("The template parameter '%s' refers to itself through the default values of parameters", name)
		}
		if err := p.bindParam(bp, c.rt); err != nil {
			return nil, err
		}
	}
	return bp.value, nil
}

// variable is variables(name): evaluated once, when first asked.
func (p *Plan) variable(name string, c *evalCtx) (any, error) {
	if p.outer != nil {
		return p.outer.variable(name, c)
	}
	vs := p.vars[strings.ToLower(name)]
	if vs == nil {
		return nil, msgf("The template variable '%s' is not found. Please see https://aka.ms/arm-template/#variables for usage details", name)
	}
	if vs.done {
		return vs.val, nil
	}
	if vs.busy {
		return nil, msgf("The template variable '%s' is not valid: it refers to itself (circular reference between variables)", vs.def.name)
	}
	vs.busy = true
	defer func() { vs.busy = false }()
	d := &evalCtx{p: p, ph: phVar, rt: c.rt, whatIf: c.whatIf}
	var v any
	var err error
	if vs.def.copy != nil {
		var n int
		n, err = d.copyCount(vs.def.copy.get("count"))
		if err == nil {
			arr := make([]any, 0, n)
			for i := 0; i < n; i++ {
				e := d.with(phVar, []loopIndex{{name: vs.def.name, index: i}})
				var x any
				if x, err = e.value(vs.def.node); err != nil {
					break
				}
				arr = append(arr, x)
			}
			v = arr
		}
	} else {
		v, err = d.value(vs.def.node)
	}
	if err != nil {
		return nil, err
	}
	vs.val, vs.done = v, true
	return v, nil
}

// checkVariables evaluates every variable, as ARM's validation does, so
// that a broken one is refused before anything is deployed; variables
// that need the running deployment (languageVersion 2.0) wait.
func (p *Plan) checkVariables() error {
	names := make([]string, 0, len(p.vars))
	for k := range p.vars {
		names = append(names, k)
	}
	sort.Strings(names)
	c := &evalCtx{p: p, ph: phVar}
	for _, k := range names {
		if _, err := p.variable(k, c); err != nil {
			if errors.Is(err, errNeedsRuntime) {
				continue
			}
			if ae := arm.AsError(err); ae != nil {
				return ae
			}
			w, msg := locate(err, p.vars[k].def.node)
			return invalid(w, "The template variable '%s' %s is not valid: %s", p.vars[k].def.name, w.at(), see(p.scrub(msg), "https://aka.ms/arm-template/#variables"))
		}
	}
	return nil
}

// fnScope is the scope resourceGroup(), subscription() and resourceId()
// resolve in: the parent's for an outer-scope nested template.
func (p *Plan) fnScope() plan.Scope {
	if p.outer != nil {
		return p.outer.fnScope()
	}
	return p.scope
}

// deploymentObject is deployment().
func (p *Plan) deploymentObject() *expr.Object {
	if p.outer != nil {
		return p.outer.deploymentObject()
	}
	s := p.scope
	o := expr.NewObject()
	o.Set("name", s.DeploymentName)
	props := expr.NewObject()
	if len(s.TemplateLink) > 0 {
		if v, err := expr.ParseJSON(s.TemplateLink); err == nil {
			props.Set("templateLink", v)
		}
	}
	tmpl := expr.NewObject()
	keys := []string{"$schema", "contentVersion", "parameters", "variables", "resources", "outputs"}
	if p.t.lv2 {
		// languageVersion 2.0 shows a reduced template.
		keys = []string{"$schema", "contentVersion", "languageVersion"}
	}
	for _, k := range keys {
		if n := p.t.root.get(k); n != nil {
			tmpl.Set(k, literal(n))
		}
	}
	props.Set("template", tmpl)
	props.Set("templateHash", p.Hash())
	props.Set("parameters", p.parametersObject())
	props.Set("mode", s.Mode)
	props.Set("provisioningState", "Accepted")
	o.Set("properties", props)
	if s.ResourceGroup == nil && s.Location != "" {
		o.Set("location", s.Location)
	}
	return o
}

// parametersObject is the bound parameters as the deployment shows them.
func (p *Plan) parametersObject() *expr.Object {
	o := expr.NewObject()
	for _, d := range p.t.params {
		bp := p.params[strings.ToLower(d.name)]
		if bp == nil {
			continue
		}
		e := expr.NewObject()
		name := typeNames[bp.typ]
		if name == "" {
			name = "Object"
		}
		e.Set("type", name)
		if !isSecure(bp.typ) {
			e.Set("value", bp.value)
		}
		o.Set(d.name, e)
	}
	return o
}

// Resources implements plan.Plan.
func (p *Plan) Resources() []*plan.Resource { return p.res }

// Parameters implements plan.Plan.
func (p *Plan) Parameters() json.RawMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, _ := expr.Marshal(p.parametersObject())
	return b
}

// Template implements plan.Plan: the template as JSON. One read with its
// comments or line breaks inside strings (a linked template; the scanner's
// places are those of that text) is given as JSON.NET reads it.
func (p *Plan) Template() json.RawMessage {
	if !json.Valid(p.t.raw) {
		if b, err := arm.ReadJSONNET(p.t.raw); err == nil {
			return b
		}
	}
	return json.RawMessage(p.t.raw)
}

// Mode implements plan.Plan.
func (p *Plan) Mode() string { return p.scope.Mode }

// Hash implements plan.Plan: a 64-bit hash of the template's compact JSON,
// in decimal as ARM writes templateHash. (ARM's own hash function is not
// published; this one is stable for a given template.)
func (p *Plan) Hash() string { return p.hash }

func templateHash(t *Template) string {
	b, err := expr.Marshal(literal(t.root))
	if err != nil {
		b = t.raw
	}
	return strconv.FormatUint(expr.Hash64(b), 10)
}

// excluded are the members of a resource that are not part of its PUT body.
var excluded = map[string]bool{
	"type": true, "apiversion": true, "name": true, "dependson": true, "condition": true, "copy": true,
	"comments": true, "scope": true, "resources": true, "existing": true, "subscriptionid": true, "resourcegroup": true,
	"import": true,
}

// Body implements plan.Plan.
func (p *Plan) Body(r *plan.Resource, rt plan.Runtime, whatIf bool) (json.RawMessage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inst, err := p.instanceOf(r)
	if err != nil {
		return nil, err
	}
	c := &evalCtx{p: p, ph: phBody, rt: rt, whatIf: whatIf, loops: inst.loops, inst: inst}
	node := inst.def.node
	out := expr.NewObject()
	isDeployment := strings.EqualFold(inst.res.Type, deploymentsType)
	for i, k := range node.keys {
		if excluded[strings.ToLower(k)] {
			continue
		}
		v := node.vals[i]
		var x any
		if isDeployment && strings.EqualFold(k, "properties") && v.kind == jObject {
			// A nested template's own expressions belong to it: only the
			// deployment's other properties are evaluated here.
			props := expr.NewObject()
			for j, pk := range v.keys {
				var y any
				if strings.EqualFold(pk, "template") {
					y = literal(v.vals[j])
				} else if y, err = c.value(v.vals[j]); err != nil {
					return nil, p.bodyError(inst, err)
				}
				props.Set(pk, y)
			}
			x = props
		} else if x, err = c.value(v); err != nil {
			return nil, p.bodyError(inst, err)
		}
		if x == nil && v.kind == jString {
			continue
		}
		out.Set(k, x)
	}
	return expr.Marshal(out)
}

func (p *Plan) instanceOf(r *plan.Resource) (*instance, error) {
	if r == nil || r.Index < 0 || r.Index >= len(p.insts) || p.insts[r.Index].res != r {
		return nil, fmt.Errorf("template: the resource is not one of this plan's")
	}
	return p.insts[r.Index], nil
}

// bodyError is ARM's error for an expression of a resource that fails at
// deployment time; a runtime function's own ARM error passes through.
func (p *Plan) bodyError(inst *instance, err error) error {
	if ae := runtimeCause(err); ae != nil {
		return ae
	}
	if ae := arm.AsError(err); ae != nil {
		return ae
	}
	w, msg := locate(err, inst.def.node)
	e := arm.Errorf(arm.CodeInvalidTemplate, "Unable to process template language expressions for resource '%s' %s. '%s'", inst.res.ID, w.at(), p.scrub(msg))
	e.AdditionalInfo = w.info()
	return e
}

// Outputs implements plan.Plan.
func (p *Plan) Outputs(rt plan.Runtime) (json.RawMessage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := expr.NewObject()
	if p.t.outputs == nil {
		return expr.Marshal(out)
	}
	c := &evalCtx{p: p, ph: phOutput, rt: rt}
	for i, name := range p.t.outputs.keys {
		n := p.t.outputs.vals[i]
		v, typ, ok, err := p.output(c, n)
		if err != nil {
			if ae := runtimeCause(err); ae != nil {
				return nil, ae
			}
			w, msg := locate(err, n)
			inner := arm.Errorf(arm.CodeDeploymentOutputEvaluationFailed, "The template output '%s' is not valid: %s.", name, p.scrub(msg)).WithTarget(name)
			inner.AdditionalInfo = w.info()
			e := arm.Errorf(arm.CodeDeploymentOutputEvaluationFailed, "Unable to evaluate template outputs: '%s'. Please see error details and deployment operations. Please see https://aka.ms/arm-common-errors for usage details.", name)
			e.Details = []*arm.Error{inner}
			return nil, e
		}
		if !ok || isSecure(typ) {
			continue
		}
		e := expr.NewObject()
		tn := typeNames[typ]
		if tn == "" {
			tn = "Object"
		}
		e.Set("type", tn)
		e.Set("value", v)
		out.Set(name, e)
	}
	return expr.Marshal(out)
}

// output evaluates one output: ok is false when its condition is false.
func (p *Plan) output(c *evalCtx, n *jnode) (v any, typ string, ok bool, err error) {
	typ = strings.ToLower(n.get("type").text())
	if typ == "" {
		typ = p.t.declType(n)
	}
	if cond := n.get("condition"); cond != nil {
		cv, err := c.value(cond)
		if err != nil {
			return nil, typ, false, err
		}
		b, isBool := cv.(bool)
		if !isBool {
			return nil, typ, false, &nodeError{n: cond, err: fmt.Errorf("the condition must be a boolean; it is of type '%s'", expr.TypeName(cv))}
		}
		if !b {
			return nil, typ, false, nil
		}
	}
	if cp := n.get("copy"); cp != nil {
		count, err := c.copyCount(cp.get("count"))
		if err != nil {
			return nil, typ, false, err
		}
		arr := make([]any, 0, count)
		for i := 0; i < count; i++ {
			d := c.with(phOutput, []loopIndex{{name: cp.get("name").text(), index: i}})
			x, err := d.value(cp.get("input"))
			if err != nil {
				return nil, typ, false, err
			}
			arr = append(arr, x)
		}
		v = arr
	} else {
		vn := n.get("value")
		if vn == nil {
			return nil, typ, false, &nodeError{n: n, err: fmt.Errorf("the output has no 'value' or 'copy'")}
		}
		if v, err = c.value(vn); err != nil {
			return nil, typ, false, err
		}
	}
	v = coerce(typ, v)
	if f, err := p.t.violation(n, v, ""); err != nil {
		return nil, typ, false, err
	} else if f != nil {
		return nil, typ, false, &nodeError{n: n, err: errors.New(f.msg)}
	}
	return v, typ, true, nil
}

// Nested implements plan.Plan.
func (p *Plan) Nested(r *plan.Resource, rt plan.Runtime, s plan.Scope) (plan.Plan, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inst, err := p.instanceOf(r)
	if err != nil {
		return nil, err
	}
	if r.Nested == nil {
		return nil, fmt.Errorf("template: resource %s is not a nested deployment", r.ID)
	}
	props := inst.def.node.get("properties")
	if props == nil || props.kind != jObject {
		return nil, invalidAt(inst.def.node, "The template resource '%s' %s is not valid: a deployment needs 'properties'", r.Name, whereOf(inst.def.node).at())
	}
	c := &evalCtx{p: p, ph: phBody, rt: rt, loops: inst.loops, inst: inst}
	str := func(n *jnode) (string, error) {
		if n == nil {
			return "", nil
		}
		v, err := c.value(n)
		if err != nil {
			return "", p.bodyError(inst, err)
		}
		sv, ok := v.(string)
		if !ok {
			return "", p.bodyError(inst, &nodeError{n: n, err: fmt.Errorf("the value must be a string; it is of type '%s'", expr.TypeName(v))})
		}
		return sv, nil
	}
	if s.Mode == "" {
		mode, err := str(props.get("mode"))
		if err != nil {
			return nil, err
		}
		s.Mode = mode
	}
	inner := false
	if eo := props.get("expressionEvaluationOptions"); eo != nil {
		sc, err := str(eo.get("scope"))
		if err != nil {
			return nil, err
		}
		inner = strings.EqualFold(sc, "inner")
	}
	supplied := expr.NewObject()
	if pn := props.get("parameters"); pn != nil {
		v, err := c.value(pn)
		if err != nil {
			return nil, p.bodyError(inst, err)
		}
		if o, ok := v.(*expr.Object); ok {
			supplied = o
		}
	} else if pl := props.get("parametersLink"); pl != nil {
		uri, err := str(pl.get("uri"))
		if err != nil {
			return nil, err
		}
		data, err := p.fetch(uri, pl)
		if err != nil {
			return nil, err
		}
		if supplied, err = parseParameters(data); err != nil {
			return nil, err
		}
	}
	if tn := props.get("template"); tn != nil {
		t, err := templateFromNode(tn, p.t.raw[tn.off:tn.end])
		if err != nil {
			return nil, err
		}
		if inner {
			return p.b.bind(t, supplied, s, rt, nil, p.link)
		}
		// Outer scope: the nested template's expressions see this plan's
		// parameters, variables and scope.
		return p.b.bind(t, expr.NewObject(), s, rt, p, p.link)
	}
	tl := props.get("templateLink")
	if tl == nil {
		return nil, invalidAt(props, "The template resource '%s' %s is not valid: a deployment needs 'template' or 'templateLink'", r.Name, whereOf(props).at())
	}
	if tl.get("id") != nil && tl.get("uri") == nil && tl.get("relativePath") == nil {
		return nil, invalidAt(tl, "The templateLink %s names a template spec ('id'), which privlink does not serve; use 'uri' or 'relativePath'", whereOf(tl).at())
	}
	uri, err := str(tl.get("uri"))
	if err != nil {
		return nil, err
	}
	if rel, err := str(tl.get("relativePath")); err != nil {
		return nil, err
	} else if rel != "" {
		if uri, err = resolveRelative(p.link, rel); err != nil {
			return nil, invalidAt(tl.get("relativePath"), "%v", err)
		}
	}
	if qs, err := str(tl.get("queryString")); err != nil {
		return nil, err
	} else if qs != "" {
		sep := "?"
		if strings.Contains(uri, "?") {
			sep = "&"
		}
		uri += sep + strings.TrimPrefix(qs, "?")
	}
	data, err := p.fetch(uri, tl)
	if err != nil {
		return nil, err
	}
	t, err := parseTemplate(data, "")
	if err != nil {
		return nil, err
	}
	if len(s.TemplateLink) == 0 {
		s.TemplateLink, _ = json.Marshal(map[string]string{"uri": uri})
	}
	// Linked templates are always evaluated in their own (inner) scope.
	return p.b.bind(t, supplied, s, rt, nil, uri)
}

func (p *Plan) fetch(uri string, n *jnode) ([]byte, error) {
	if p.b.links == nil {
		return nil, invalidAt(n, "The linked template or parameters '%s' cannot be read: this server has no template links configured", uri)
	}
	data, err := p.b.links(uri)
	if err != nil {
		if ae := arm.AsError(err); ae != nil {
			return nil, ae
		}
		return nil, arm.Errorf(arm.CodeInvalidTemplateDeployment, "Unable to download deployment content from '%s': %v.", uri, err)
	}
	return data, nil
}

// resolveRelative resolves a templateLink relativePath against the URI of
// the template that declares it; the parent's query (a SAS token) is kept.
func resolveRelative(base, rel string) (string, error) {
	if base == "" {
		return "", msgf("The 'relativePath' property of a templateLink can only be used when the parent template was itself deployed through a templateLink 'uri'")
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", msgf("The templateLink uri '%s' is not valid", base)
	}
	r, err := url.Parse(rel)
	if err != nil {
		return "", msgf("The templateLink relativePath '%s' is not valid", rel)
	}
	u := b.ResolveReference(r)
	if u.RawQuery == "" {
		u.RawQuery = b.RawQuery
	}
	return u.String(), nil
}

// templateFromNode builds a template from an inline nested template, which
// keeps its places in the parent document.
func templateFromNode(n *jnode, raw []byte) (*Template, error) {
	if n.kind != jObject {
		return nil, invalidAt(n, "The nested template %s must be an object", whereOf(n).at())
	}
	// Re-rooting a subtree would lose its path; parse the same bytes
	// again but keep line numbers by mapping onto the parent's document.
	sub, err := parseTemplateNode(n, raw)
	if err != nil {
		return nil, err
	}
	return sub, nil
}
