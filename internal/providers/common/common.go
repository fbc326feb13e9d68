// Package common holds small helpers the resource provider packages share.
package common

import (
	"regexp"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/resource"
)

// NameRule returns a ValidateName rule: name must match re, else code with
// the message "<what> '<name>' is invalid. <rule>".
func NameRule(re *regexp.Regexp, code, what, rule string) func(string) *arm.Error {
	return func(name string) *arm.Error {
		if !re.MatchString(name) {
			return arm.Errorf(code, "%s '%s' is invalid. %s", what, name, rule)
		}
		return nil
	}
}

// Default sets property k of d to v unless the client already set it.
func Default(d *resource.Doc, k string, v any) {
	if !d.Props().Has(k) {
		d.Props().SetValue(k, v)
	}
}

// Keep copies property k from the old document (server-owned values that
// must not change on update, such as creation times), or sets v on create.
func Keep(w *resource.Write, k string, v any) {
	if w.Old != nil {
		if old, ok := w.Old.Props().Get(k); ok {
			w.Doc.Props().Set(k, old)
			return
		}
	}
	w.Doc.Props().SetValue(k, v)
}

// KeepTop is Keep for top-level members.
func KeepTop(w *resource.Write, k string, v any) {
	if w.Old != nil {
		if old, ok := w.Old.Obj.Get(k); ok {
			w.Doc.Obj.Set(k, old)
			return
		}
	}
	w.Doc.Obj.SetValue(k, v)
}

// RequireObject returns top-level member k as an object, or the error ARM
// gives when it is missing.
func RequireObject(w *resource.Write, k string) (*arm.Object, error) {
	o, err := resource.ObjectProp(w.Input, k, k)
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, resource.MissingProperty(k)
	}
	return o, nil
}
