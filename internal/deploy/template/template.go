package template

import (
	"encoding/json"
	"strings"

	"github.com/privlink/privlink/internal/arm"
)

// ARM's limits on a template (docs: templates/best-practices.md#template-limits).
const (
	MaxTemplateBytes = 4 << 20
	MaxParameters    = 256
	MaxVariables     = 256
	MaxResources     = 800
	MaxOutputs       = 64
	MaxCopyCount     = 800
)

// Template is a parsed template: its sections, each value with its place.
type Template struct {
	raw     []byte
	root    *jnode
	lv2     bool
	params  []*paramDef
	byParam map[string]*paramDef
	vars    map[string]*varDef
	funcs   map[string]*userFunc
	defs    *jnode
	res     []*resDef
	outputs *jnode
}

type paramDef struct {
	name string
	node *jnode
	// typ is the lower-cased type ("securestring"), or "" for a
	// languageVersion 2.0 parameter typed by "$ref".
	typ string
}

// varDef is a variable: its value, or a top-level copy entry
// ({"name", "count", "input"}) that defines it.
type varDef struct {
	name string
	node *jnode
	copy *jnode
}

type userFunc struct {
	name    string
	params  []funcParam
	output  *jnode
	outType string
}

type funcParam struct{ name, typ string }

// resDef is a resource as declared: LV1 nested children are flattened
// with their parent, LV2 resources carry their symbolic name.
type resDef struct {
	node     *jnode
	symbolic string
	parent   *resDef
	copyNode *jnode
	copyName string
}

var paramTypes = map[string]bool{"string": true, "securestring": true, "int": true, "bool": true, "object": true, "secureobject": true, "array": true}

// parseTemplate reads and checks the structure of a template. prefix is
// the path of the template in the request, for errors.
func parseTemplate(raw []byte, prefix string) (*Template, error) {
	if len(raw) > MaxTemplateBytes {
		return nil, arm.Errorf(arm.CodeDeploymentJobSizeExceeded, "The deployment template size '%d' bytes exceeds the limit of '%d' bytes (4 MB). Please see https://aka.ms/arm-template-best-practices for usage details.", len(raw), MaxTemplateBytes)
	}
	// What JSON.NET cannot read fails as ARM says it, with JSON.NET's
	// message, path and place (its positions count from 0 on the line);
	// the positioned reader below then reads what JSON.NET read, and its
	// own errors are left for what JSON.NET reads but ARM refuses in a
	// template (a property twice).
	if !json.Valid(raw) {
		read, err := arm.ReadJSONNET(raw)
		if err != nil {
			if je, ok := err.(*arm.JSONReaderError); ok {
				path := je.Path
				if prefix != "" {
					path = strings.TrimSuffix(prefix+"."+path, ".")
					if strings.HasPrefix(je.Path, "[") {
						path = prefix + je.Path
					}
				}
				return nil, parseFailed(&syntaxError{msg: je.Msg, line: je.Line, col: je.Position, path: path})
			}
			return nil, err
		}
		// The scanner reads comments and line breaks inside strings with
		// their places as written; bare names and single quotes only as
		// JSON.NET's reading rewrote them.
		if root, err := parseJSON(raw, prefix); err == nil {
			return newTemplate(root, raw)
		}
		raw = read
	}
	root, err := parseJSON(raw, prefix)
	if err != nil {
		return nil, parseFailed(err.(*syntaxError))
	}
	return newTemplate(root, raw)
}

// parseFailed is ARM's InvalidTemplate for a template it cannot read.
func parseFailed(se *syntaxError) *arm.Error {
	e := arm.Errorf(arm.CodeInvalidTemplate, "Deployment template parse failed: '%s'.", se.Error())
	e.AdditionalInfo = where{line: se.line, col: se.col, path: se.path}.info()
	return e
}

// parseTemplateNode builds a template from an inline nested template (a
// value of its parent's document, whose places it keeps).
func parseTemplateNode(root *jnode, raw []byte) (*Template, error) { return newTemplate(root, raw) }

func newTemplate(root *jnode, raw []byte) (*Template, error) {
	if root.kind != jObject {
		return nil, invalidAt(root, "The template must be a JSON object; found a JSON %s", kindName(root.kind))
	}
	t := &Template{raw: raw, root: root, byParam: map[string]*paramDef{}, vars: map[string]*varDef{}, funcs: map[string]*userFunc{}}
	if lv := root.get("languageVersion"); lv != nil {
		v := lv.text()
		if !strings.HasPrefix(v, "2.") && v != "1.0" {
			return nil, invalidAt(lv, "The template language version '%s' is not supported. The supported versions are '1.0, 2.0'", v)
		}
		t.lv2 = strings.HasPrefix(v, "2.")
	}
	if cv := root.get("contentVersion"); cv == nil {
		return nil, invalidAt(root, "Required property 'contentVersion' not found in JSON. Path '%s'", strings.TrimSuffix(root.path(), "."))
	} else if cv.kind != jString {
		return nil, invalidAt(cv, "The template 'contentVersion' must be a string")
	}
	if err := t.parseParams(); err != nil {
		return nil, err
	}
	if err := t.parseVariables(); err != nil {
		return nil, err
	}
	if err := t.parseFunctions(); err != nil {
		return nil, err
	}
	if d := root.get("definitions"); d != nil {
		if d.kind != jObject {
			return nil, invalidAt(d, "The template 'definitions' must be an object")
		}
		t.defs = d
	}
	if err := t.parseResources(); err != nil {
		return nil, err
	}
	if o := root.get("outputs"); o != nil {
		if o.kind != jObject {
			return nil, invalidAt(o, "The template 'outputs' must be an object")
		}
		if len(o.keys) > MaxOutputs {
			return nil, invalidAt(o, "The number of template outputs limit exceeded. Limit: '%d' and actual: '%d'", MaxOutputs, len(o.keys))
		}
		for i, v := range o.vals {
			if v.kind != jObject {
				return nil, invalidAt(v, "The template output '%s' must be an object", o.keys[i])
			}
		}
		t.outputs = o
	}
	return t, nil
}

func kindName(k jkind) string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

func (t *Template) parseParams() error {
	ps := t.root.get("parameters")
	if ps == nil {
		return nil
	}
	if ps.kind != jObject {
		return invalidAt(ps, "The template 'parameters' must be an object")
	}
	if len(ps.keys) > MaxParameters {
		return invalidAt(ps, "The number of template parameters limit exceeded. Limit: '%d' and actual: '%d'", MaxParameters, len(ps.keys))
	}
	for i, name := range ps.keys {
		n := ps.vals[i]
		if n.kind != jObject {
			return invalidAt(n, "The template parameter '%s' %s is not valid: a parameter must be an object", name, whereOf(n).at())
		}
		d := &paramDef{name: name, node: n}
		if ty := n.get("type"); ty != nil {
			d.typ = strings.ToLower(ty.text())
			if !paramTypes[d.typ] {
				return invalidAt(ty, "The template parameter '%s' %s has an invalid type '%s'. The supported types are 'string, securestring, int, bool, object, secureObject, array'", name, whereOf(ty).at(), ty.text())
			}
		} else if !t.lv2 || n.get("$ref") == nil {
			return invalidAt(n, "The template parameter '%s' %s is not valid: required property 'type' not found", name, whereOf(n).at())
		}
		if _, dup := t.byParam[strings.ToLower(name)]; dup {
			return invalidAt(n, "The template parameter '%s' is defined more than once (parameter names are case-insensitive)", name)
		}
		t.params = append(t.params, d)
		t.byParam[strings.ToLower(name)] = d
	}
	return nil
}

func (t *Template) parseVariables() error {
	vs := t.root.get("variables")
	if vs == nil {
		return nil
	}
	if vs.kind != jObject {
		return invalidAt(vs, "The template 'variables' must be an object")
	}
	count := 0
	add := func(d *varDef) error {
		k := strings.ToLower(d.name)
		if _, dup := t.vars[k]; dup {
			return invalidAt(d.node, "The template variable '%s' is defined more than once (variable names are case-insensitive)", d.name)
		}
		t.vars[k] = d
		count++
		return nil
	}
	for i, name := range vs.keys {
		n := vs.vals[i]
		if strings.EqualFold(name, "copy") && n.kind == jArray {
			for _, e := range n.items {
				nm := e.get("name")
				if e.kind != jObject || nm == nil || nm.kind != jString || e.get("count") == nil || e.get("input") == nil {
					return invalidAt(e, "The template variable copy %s is not valid: it needs 'name', 'count' and 'input'", whereOf(e).at())
				}
				if err := add(&varDef{name: nm.str, node: e.get("input"), copy: e}); err != nil {
					return err
				}
			}
			continue
		}
		if err := add(&varDef{name: name, node: n}); err != nil {
			return err
		}
	}
	if count > MaxVariables {
		return invalidAt(vs, "The number of template variables limit exceeded. Limit: '%d' and actual: '%d'", MaxVariables, count)
	}
	return nil
}

func (t *Template) parseFunctions() error {
	fs := t.root.get("functions")
	if fs == nil {
		return nil
	}
	if fs.kind != jArray {
		return invalidAt(fs, "The template 'functions' must be an array")
	}
	for _, ns := range fs.items {
		nsName := ns.get("namespace").text()
		members := ns.get("members")
		if nsName == "" || members == nil || members.kind != jObject {
			return invalidAt(ns, "The template function namespace %s is not valid: it needs a 'namespace' and 'members'", whereOf(ns).at())
		}
		for i, name := range members.keys {
			m := members.vals[i]
			full := nsName + "." + name
			uf := &userFunc{name: full}
			if ps := m.get("parameters"); ps != nil {
				if ps.kind != jArray {
					return invalidAt(ps, "The template function '%s' %s is not valid: 'parameters' must be an array", full, whereOf(ps).at())
				}
				for _, p := range ps.items {
					uf.params = append(uf.params, funcParam{name: p.get("name").text(), typ: strings.ToLower(p.get("type").text())})
				}
			}
			out := m.get("output")
			if out == nil || out.get("value") == nil {
				return invalidAt(m, "The template function '%s' %s is not valid: it has no 'output' value", full, whereOf(m).at())
			}
			uf.output = out.get("value")
			uf.outType = strings.ToLower(out.get("type").text())
			// A user-defined function may not call reference() or list*():
			// ARM refuses the template, not the call.
			if name, ok := callsRuntime(uf.output); ok {
				return invalidAt(uf.output, "The template function '%s' %s is not valid. These function calls are not supported in a function definition: '%s'. Please see https://aka.ms/arm-template/#functions for usage details", full, whereOf(uf.output).at(), name)
			}
			t.funcs[strings.ToLower(full)] = uf
		}
	}
	return nil
}

func (t *Template) parseResources() error {
	rs := t.root.get("resources")
	if rs == nil {
		return nil
	}
	if t.lv2 && rs.kind == jObject {
		for i, sym := range rs.keys {
			n := rs.vals[i]
			if n.kind != jObject {
				return invalidAt(n, "The template resource '%s' %s must be an object", sym, whereOf(n).at())
			}
			d := &resDef{node: n, symbolic: sym}
			if err := d.parseCopy(); err != nil {
				return err
			}
			t.res = append(t.res, d)
		}
		return t.countResources(rs)
	}
	if rs.kind != jArray {
		return invalidAt(rs, "The template 'resources' must be an array")
	}
	var walk func(items []*jnode, parent *resDef) error
	walk = func(items []*jnode, parent *resDef) error {
		for _, n := range items {
			if n.kind != jObject {
				return invalidAt(n, "The template resource %s must be an object", whereOf(n).at())
			}
			d := &resDef{node: n, parent: parent}
			if err := d.parseCopy(); err != nil {
				return err
			}
			if parent != nil && d.copyNode != nil {
				return invalidAt(d.copyNode, "The template resource %s is not valid: copy is not supported on nested child resources. Declare the child at the top level instead", whereOf(n).at())
			}
			t.res = append(t.res, d)
			if kids := n.get("resources"); kids != nil {
				if kids.kind != jArray {
					return invalidAt(kids, "The nested 'resources' of a template resource must be an array")
				}
				if err := walk(kids.items, d); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(rs.items, nil); err != nil {
		return err
	}
	return t.countResources(rs)
}

func (t *Template) countResources(rs *jnode) error {
	if len(t.res) > MaxResources {
		return invalidAt(rs, "The number of template resources limit exceeded. Limit: '%d' and actual: '%d'", MaxResources, len(t.res))
	}
	return nil
}

func (d *resDef) parseCopy() error {
	c := d.node.get("copy")
	if c == nil {
		return nil
	}
	if c.kind != jObject || c.get("count") == nil {
		return invalidAt(c, "The template resource copy %s is not valid: it must be an object with 'name' and 'count'", whereOf(c).at())
	}
	d.copyNode = c
	d.copyName = c.get("name").text()
	return nil
}
