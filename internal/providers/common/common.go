// Package common holds small helpers the resource provider packages share.
package common

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
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

// NewKey returns n random bytes in standard base64, the form of Azure's
// account and shared access keys (64 bytes for storage account keys, 32 for
// Event Hubs and IoT Hub shared access keys).
func NewKey(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("common: no randomness: " + err.Error()) // crypto/rand does not fail on the platforms Go supports
	}
	return base64.StdEncoding.EncodeToString(b)
}

// KeyPair is a primary and secondary key, kept in a resource's Meta so that
// they are stable for the resource's life and never served in its document.
type KeyPair struct {
	Primary   string `json:"primary"`
	Secondary string `json:"secondary"`
}

// Keys returns the key pair d keeps under ext, making one of n-byte keys
// (and storing it in d, which the caller saves) when it has none.
func Keys(d *resource.Doc, ext string, n int) (KeyPair, bool) {
	var k KeyPair
	if d.Ext(ext, &k) && k.Primary != "" {
		return k, false
	}
	k = KeyPair{Primary: NewKey(n), Secondary: NewKey(n)}
	d.SetExt(ext, k)
	return k, true
}

// JSON is a 200 answer with v as its JSON body, for actions.
func JSON(v any) (*resource.Response, error) {
	b, err := arm.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &resource.Response{Status: http.StatusOK, Body: b, Header: http.Header{}}, nil
}
