package template

import (
	"fmt"
	"strings"

	"github.com/privlink/privlink/internal/deploy/expr"
)

// typeNames are parameter and output types as the deployment GET spells them.
var typeNames = map[string]string{
	"string": "String", "securestring": "SecureString", "int": "Int", "bool": "Bool",
	"object": "Object", "secureobject": "SecureObject", "array": "Array",
}

func isSecure(typ string) bool { return typ == "securestring" || typ == "secureobject" }

// checkType reports whether v is of the template type typ (lower-cased).
func checkType(typ string, v any) error {
	if typ == "" || typ == "any" {
		return nil
	}
	want := ""
	switch typ {
	case "string", "securestring":
		if _, ok := v.(string); ok {
			return nil
		}
		want = "String"
	case "int":
		if _, ok := v.(int64); ok {
			return nil
		}
		want = "Integer"
	case "bool":
		if _, ok := v.(bool); ok {
			return nil
		}
		want = "Boolean"
	case "object", "secureobject":
		if _, ok := v.(*expr.Object); ok {
			return nil
		}
		want = "Object"
	case "array":
		if _, ok := v.([]any); ok {
			return nil
		}
		want = "Array"
	default:
		return nil
	}
	return fmt.Errorf("expected a value of type '%s' but the provided value is of type '%s'", want, expr.TypeName(v))
}

// jtokenExpected is how ARM names a parameter type in its "Template
// parameter JToken type is not valid" message.
func jtokenExpected(typ string) string {
	switch typ {
	case "string", "securestring":
		return "String, Uri"
	case "int":
		return "Integer"
	case "bool":
		return "Boolean"
	case "object", "secureobject":
		return "Object"
	case "array":
		return "Array"
	}
	return typ
}

// coerce converts a supplied parameter value to the declared type where
// ARM does: integers and booleans given as strings ("5", "true").
func coerce(typ string, v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	switch typ {
	case "int":
		if n, ok := expr.NumberValue(strings.TrimSpace(s)).(int64); ok && strings.TrimSpace(s) != "" {
			return n
		}
	case "bool":
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true
		case "false":
			return false
		}
	}
	return v
}

// resolveRef follows "$ref": "#/definitions/name" to the type declaration.
func (t *Template) resolveRef(decl *jnode) (*jnode, error) {
	for i := 0; i < 32 && decl != nil; i++ {
		ref := decl.get("$ref")
		if ref == nil {
			return decl, nil
		}
		name, ok := strings.CutPrefix(ref.text(), "#/definitions/")
		if !ok || t.defs == nil || t.defs.get(name) == nil {
			return nil, invalidAt(ref, "The type reference '%s' %s is not valid: the definition is not found in the template", ref.text(), whereOf(ref).at())
		}
		decl = t.defs.get(name)
	}
	return decl, nil
}

// declType is the lower-cased type of a declaration, following "$ref".
func (t *Template) declType(decl *jnode) string {
	d, err := t.resolveRef(decl)
	if err != nil || d == nil {
		return ""
	}
	return strings.ToLower(d.get("type").text())
}

// fault is why a value does not meet its declaration: msg is ARM's
// sentence; jtoken marks a wrong type (ARM says it without naming the
// parameter); value, when set, is the offending value, which the message
// names unless the parameter is secure.
type fault struct {
	msg    string
	jtoken bool
	value  any
	show   bool
}

// violation describes why v does not meet declaration decl: the type, the
// allowed values, the length and value bounds, and for languageVersion
// 2.0 the properties, items and nullability of user-defined types. It
// returns nil when v is valid.
func (t *Template) violation(decl *jnode, v any, path string) (*fault, error) {
	d, err := t.resolveRef(decl)
	if err != nil {
		return nil, err
	}
	if v == nil {
		if n := d.get("nullable"); n != nil && n.kind == jBool && n.b {
			return nil, nil
		}
		if n := decl.get("nullable"); n != nil && n.kind == jBool && n.b {
			return nil, nil
		}
	}
	typ := strings.ToLower(d.get("type").text())
	if err := checkType(typ, v); err != nil {
		return &fault{jtoken: true, msg: fmt.Sprintf("Template parameter JToken type is not valid. Expected '%s'. Actual '%s'%s", jtokenExpected(typ), jtokenActual(v), at(path))}, nil
	}
	if av := firstOf(decl, d, "allowedValues"); av != nil && av.kind == jArray {
		allowed := literal(av).([]any)
		vals := []any{v}
		if arr, ok := v.([]any); ok && typ == "array" {
			vals = arr
		}
		for _, x := range vals {
			if !containsValue(allowed, x) {
				var parts []string
				for _, a := range allowed {
					parts = append(parts, expr.ToString(a))
				}
				_, scalar := x.(string)
				if _, isInt := x.(int64); isInt {
					scalar = true
				}
				return &fault{msg: fmt.Sprintf("The parameter value is not part of the allowed value(s): '%s'%s", strings.Join(parts, ","), at(path)), value: x, show: scalar}, nil
			}
		}
	}
	length := -1
	switch x := v.(type) {
	case string:
		length = len([]rune(x))
	case []any:
		length = len(x)
	}
	if n := firstOf(decl, d, "minLength"); n != nil && length >= 0 {
		if m, ok := expr.NumberValue(n.str).(int64); ok && int64(length) < m {
			return &fault{msg: fmt.Sprintf("Length of the value should be greater than or equal to '%d'%s", m, at(path))}, nil
		}
	}
	if n := firstOf(decl, d, "maxLength"); n != nil && length >= 0 {
		if m, ok := expr.NumberValue(n.str).(int64); ok && int64(length) > m {
			return &fault{msg: fmt.Sprintf("Length of the value should be less than or equal to '%d'%s", m, at(path))}, nil
		}
	}
	if i, ok := v.(int64); ok {
		if n := firstOf(decl, d, "minValue"); n != nil {
			if m, ok := expr.NumberValue(n.str).(int64); ok && i < m {
				return &fault{msg: fmt.Sprintf("The value should be greater than or equal to '%d'%s", m, at(path))}, nil
			}
		}
		if n := firstOf(decl, d, "maxValue"); n != nil {
			if m, ok := expr.NumberValue(n.str).(int64); ok && i > m {
				return &fault{msg: fmt.Sprintf("The value should be less than or equal to '%d'%s", m, at(path))}, nil
			}
		}
	}
	switch x := v.(type) {
	case *expr.Object:
		props := d.get("properties")
		if props != nil && props.kind == jObject {
			for i, name := range props.keys {
				pv, ok := x.Get(name)
				if !ok {
					pv = nil
				}
				if f, err := t.violation(props.vals[i], pv, join(path, name)); err != nil || f != nil {
					return f, err
				}
			}
		}
		ap := d.get("additionalProperties")
		sealed := d.get("sealed")
		closed := ap != nil && ap.kind == jBool && !ap.b || sealed != nil && sealed.kind == jBool && sealed.b
		for _, key := range x.Keys() {
			if props != nil && props.get(key) != nil {
				continue
			}
			if closed && props != nil {
				return &fault{msg: fmt.Sprintf("The property '%s' is not allowed%s", key, at(path))}, nil
			}
			if ap != nil && ap.kind == jObject {
				pv, _ := x.Get(key)
				if f, err := t.violation(ap, pv, join(path, key)); err != nil || f != nil {
					return f, err
				}
			}
		}
	case []any:
		if items := d.get("items"); items != nil && items.kind == jObject {
			for i, e := range x {
				if f, err := t.violation(items, e, fmt.Sprintf("%s[%d]", path, i)); err != nil || f != nil {
					return f, err
				}
			}
		}
	}
	return nil, nil
}

func at(path string) string {
	if path == "" {
		return ""
	}
	return fmt.Sprintf(" at path '%s'", path)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// firstOf returns member k of the declaration or, failing that, of the
// type it refers to.
func firstOf(decl, d *jnode, k string) *jnode {
	if n := decl.get(k); n != nil {
		return n
	}
	return d.get(k)
}

func jtokenActual(v any) string {
	switch v.(type) {
	case int64:
		return "Integer"
	case bool:
		return "Boolean"
	case float64:
		return "Float"
	}
	return expr.TypeName(v)
}

func containsValue(list []any, v any) bool {
	for _, x := range list {
		if expr.Equal(x, v) {
			return true
		}
		// Strings are matched without regard to case, as ARM matches
		// allowed values.
		if a, ok := x.(string); ok {
			if b, ok := v.(string); ok && strings.EqualFold(a, b) {
				return true
			}
		}
	}
	return false
}
