package resource

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/privlink/privlink/internal/arm"
)

func quote(s string) []byte {
	b, _ := arm.Marshal(s)
	return b
}

// ParseBody reads a request body that must be a JSON object, with ARM's
// InvalidRequestContent error for anything else.
func ParseBody(body []byte) (*arm.Object, error) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, invalidContent("The request content is empty.")
	}
	o, err := arm.ParseObject(body)
	if err != nil {
		var te *arm.TypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return nil, invalidContent(fmt.Sprintf("Expected a JSON object, found %s.", te.Got))
		case errors.As(err, &se):
			// Content reaches here as the server read it (httpapi rewrites
			// what JSON.NET reads and refuses what it cannot), so this is
			// for callers with content of their own: JSON.NET's account.
			if _, jerr := arm.ReadJSONNET(body); jerr != nil {
				return nil, arm.UnreadableContent(jerr)
			}
		}
		return nil, invalidContent(err.Error())
	}
	return o, nil
}

func invalidContent(detail string) *arm.Error { return arm.InvalidContent(detail) }

// InvalidProperty reports a property of the wrong JSON kind, as ARM does.
func InvalidProperty(path, want, got string) *arm.Error {
	return invalidContent(fmt.Sprintf("Error converting value of kind '%s' to type '%s'. Path '%s'.", got, want, path))
}

// StringProp reads a string property at path (for errors) from o; missing
// and null give "", false. A value of another kind is InvalidRequestContent.
func StringProp(o *arm.Object, key, path string) (string, bool, error) {
	s, ok, err := o.String(key)
	if err != nil {
		var te *arm.TypeError
		if errors.As(err, &te) {
			return "", false, InvalidProperty(path, "String", te.Got)
		}
		return "", false, invalidContent(err.Error())
	}
	return s, ok, nil
}

// ObjectProp reads an object property at path from o; nil when absent or null.
func ObjectProp(o *arm.Object, key, path string) (*arm.Object, error) {
	v, err := o.Object(key)
	if err != nil {
		var te *arm.TypeError
		if errors.As(err, &te) {
			return nil, InvalidProperty(path, "Object", te.Got)
		}
		return nil, invalidContent(err.Error())
	}
	return v, nil
}

// MissingProperty is the error for an absent required property.
func MissingProperty(path string) *arm.Error {
	return arm.Errorf(arm.CodeInvalidRequestContent, "The request content was invalid and could not be deserialized: 'Required property '%s' not found in JSON.'.", path)
}
