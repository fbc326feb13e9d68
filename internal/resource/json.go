package resource

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

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
			return nil, invalidContent(fmt.Sprintf("%s at position %d.", syntaxDetail(body, se), se.Offset))
		}
		return nil, invalidContent(err.Error())
	}
	return o, nil
}

// syntaxDetail is what encoding/json says is wrong, with the offending
// character named properly. encoding/json names the first byte of a
// multi-byte character as if it were one Latin-1 character: 'ï' for a byte
// order mark, 'â' for the typographic quotes a word processor puts around
// pasted JSON. Say which character it is instead.
func syntaxDetail(body []byte, se *json.SyntaxError) string {
	msg := strings.TrimPrefix(se.Error(), "json: ")
	i := int(se.Offset) - 1 // the offset counts the offending byte
	if i < 0 || i >= len(body) || body[i] < utf8.RuneSelf {
		return msg
	}
	r, n := utf8.DecodeRune(body[i:])
	name := fmt.Sprintf("'%c' (U+%04X)", r, r)
	switch {
	case r == utf8.RuneError && n == 1:
		name = fmt.Sprintf("byte 0x%02X (not UTF-8)", body[i])
	case r == '\ufeff':
		name = "U+FEFF (a byte order mark, which may only start the content)"
	case r == '\u201c' || r == '\u201d' || r == '\u2018' || r == '\u2019':
		name += " (a typographic quote; JSON needs '\"')"
	}
	return strings.Replace(msg, "'"+string(rune(body[i]))+"'", name, 1)
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
