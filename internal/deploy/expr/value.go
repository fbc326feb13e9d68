package expr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Values of the language are Go values of these types:
//
//	nil          null
//	bool         true(), false()
//	int64        integers (ARM's are 64-bit)
//	float64      the transient result of float()
//	json.Number  a JSON number that is not an int64 (1.50, 1e400), kept as
//	             written so that it is echoed exactly; functions read it as a float
//	string
//	[]any        arrays
//	*Object      objects (ordered, case-insensitive lookup)
//	*Lambda      the value of lambda(...), only as an argument of map, filter, ...
//
// Integers are int64 everywhere: JSON numbers that fit are read as int64 so
// that arithmetic and equality behave as ARM's Int64 does.

// Object is an ARM object: members keep their spelling and order (a
// resource body echoes what was sent), and lookups ignore case, as ARM's
// property access and key matching do.
type Object struct {
	keys []string
	vals []any
	// index maps lower-cased keys to positions; built only for larger
	// objects, as a scan is faster for the dozen members most have.
	index map[string]int
}

// NewObject returns an empty object.
func NewObject() *Object { return &Object{} }

const indexAbove = 16

func (o *Object) find(k string) int {
	if o == nil {
		return -1
	}
	if o.index != nil {
		if i, ok := o.index[strings.ToLower(k)]; ok {
			return i
		}
		return -1
	}
	for i, key := range o.keys {
		if key == k {
			return i
		}
	}
	for i, key := range o.keys {
		if strings.EqualFold(key, k) {
			return i
		}
	}
	return -1
}

// Len is the number of members.
func (o *Object) Len() int {
	if o == nil {
		return 0
	}
	return len(o.keys)
}

// Keys returns the member names in order. The slice is the caller's.
func (o *Object) Keys() []string {
	if o == nil {
		return nil
	}
	return append([]string(nil), o.keys...)
}

// Key returns the i-th member's name.
func (o *Object) Key(i int) string { return o.keys[i] }

// Value returns the i-th member's value.
func (o *Object) Value(i int) any { return o.vals[i] }

// Get returns member k, matched case-insensitively.
func (o *Object) Get(k string) (any, bool) {
	i := o.find(k)
	if i < 0 {
		return nil, false
	}
	return o.vals[i], true
}

// Has reports whether member k exists (matched case-insensitively).
func (o *Object) Has(k string) bool { return o.find(k) >= 0 }

// Set sets member k, keeping the position and spelling of an existing member.
func (o *Object) Set(k string, v any) {
	if i := o.find(k); i >= 0 {
		o.vals[i] = v
		return
	}
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
	if o.index != nil {
		o.index[strings.ToLower(k)] = len(o.keys) - 1
	} else if len(o.keys) > indexAbove {
		o.reindex()
	}
}

func (o *Object) reindex() {
	o.index = make(map[string]int, len(o.keys))
	for i := len(o.keys) - 1; i >= 0; i-- {
		o.index[strings.ToLower(o.keys[i])] = i
	}
}

// Delete removes member k (matched case-insensitively).
func (o *Object) Delete(k string) {
	i := o.find(k)
	if i < 0 {
		return
	}
	o.keys = append(o.keys[:i], o.keys[i+1:]...)
	o.vals = append(o.vals[:i], o.vals[i+1:]...)
	if o.index != nil {
		o.reindex()
	}
}

// Clone returns a shallow copy.
func (o *Object) Clone() *Object {
	if o == nil {
		return NewObject()
	}
	c := &Object{keys: append([]string(nil), o.keys...), vals: append([]any(nil), o.vals...)}
	if o.index != nil {
		c.reindex()
	}
	return c
}

// MarshalJSON writes the members in order, without HTML escaping (ARM
// writes '<', '>' and '&' as they are).
func (o *Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, o); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Lambda is the value of lambda('a', 'b', body): its parameters and its
// body, evaluated when a function (map, filter, ...) applies it.
type Lambda struct {
	Params []string
	Body   Node
	// scope is the lambda variables visible where the lambda was made
	// (nested lambdas see their outer lambda's variables).
	scope *scope
	ev    *Evaluator
}

// TypeName is the name ARM uses for the type of v in its messages.
func TypeName(v any) string {
	switch v.(type) {
	case nil:
		return "Null"
	case bool:
		return "Boolean"
	case int64, int:
		return "Integer"
	case float64, json.Number:
		return "Float"
	case string:
		return "String"
	case []any:
		return "Array"
	case *Object:
		return "Object"
	case *Lambda:
		return "Lambda"
	}
	return fmt.Sprintf("%T", v)
}

// Marshal returns v as compact JSON, members in order, with no HTML escaping.
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeJSON(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case int:
		b.WriteString(strconv.Itoa(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("expr: %v cannot be written as JSON", x)
		}
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	case json.Number:
		b.WriteString(string(x))
	case string:
		writeString(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case *Object:
		if x == nil {
			b.WriteString("null")
			return nil
		}
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			if err := writeJSON(b, x.vals[i]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case json.RawMessage:
		b.Write(x)
	case *Lambda:
		return fmt.Errorf("expr: a lambda is not a JSON value")
	default:
		return fmt.Errorf("expr: %T is not a value", v)
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// writeString writes s as a JSON string, escaping only what JSON requires.
func writeString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

// ParseJSON reads one JSON document into values, keeping object member
// order; integers become int64, other numbers float64.
func ParseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("invalid character after top-level value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("the JSON is nested more than %d levels deep", maxDepth)
	}
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch x := t.(type) {
	case json.Delim:
		switch x {
		case '{':
			o := NewObject()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				o.Set(k, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return a, nil
		}
		return nil, fmt.Errorf("unexpected %v", x)
	case json.Number:
		return NumberValue(string(x)), nil
	default:
		return x, nil // string, bool, nil
	}
}

// NumberValue converts the text of a JSON number: int64 when it is an
// integer that fits, else the text itself as a json.Number, so that a
// resource body echoes "1.50" as it was sent.
func NumberValue(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	return json.Number(s)
}

// numberFloat reads a json.Number as a float64 (0 when it is not one).
func numberFloat(n json.Number) float64 {
	f, _ := strconv.ParseFloat(string(n), 64)
	return f
}

// Equal reports whether a and b are equal as equals() compares: deeply,
// strings case-sensitively, object keys case-insensitively.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64, json.Number:
			return float64(x) == toFloat(y)
		}
		return false
	case float64, json.Number:
		switch b.(type) {
		case int64, float64, json.Number:
			return toFloat(a) == toFloat(b)
		}
		return false
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case *Object:
		y, ok := b.(*Object)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for i, k := range x.keys {
			v, ok := y.Get(k)
			if !ok || !Equal(x.vals[i], v) {
				return false
			}
		}
		return true
	}
	return false
}

// DeepCopy copies arrays and objects so that the copy can be changed.
func DeepCopy(v any) any {
	switch x := v.(type) {
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = DeepCopy(e)
		}
		return c
	case *Object:
		if x == nil {
			return x
		}
		c := &Object{keys: append([]string(nil), x.keys...), vals: make([]any, len(x.vals))}
		for i, e := range x.vals {
			c.vals[i] = DeepCopy(e)
		}
		if x.index != nil {
			c.reindex()
		}
		return c
	}
	return v
}

// canonical writes v so that two values are Equal exactly when their
// canonical forms are the same string: object keys lower-cased and sorted,
// integral floats as integers. union() and intersection() use it to find
// duplicates in linear time.
func canonical(v any) string {
	var b bytes.Buffer
	writeCanonical(&b, v)
	return b.String()
}

func writeCanonical(b *bytes.Buffer, v any) {
	if n, ok := v.(json.Number); ok {
		v = numberFloat(n)
	}
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			b.WriteString(strconv.FormatInt(int64(x), 10))
			return
		}
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, e)
		}
		b.WriteByte(']')
		return
	case *Object:
		if x == nil {
			b.WriteString("null")
			return
		}
		idx := make([]int, len(x.keys))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(i, j int) bool { return strings.ToLower(x.keys[idx[i]]) < strings.ToLower(x.keys[idx[j]]) })
		b.WriteByte('{')
		for n, i := range idx {
			if n > 0 {
				b.WriteByte(',')
			}
			writeString(b, strings.ToLower(x.keys[i]))
			b.WriteByte(':')
			writeCanonical(b, x.vals[i])
		}
		b.WriteByte('}')
		return
	}
	if err := writeJSON(b, v); err != nil {
		b.WriteString(TypeName(v))
	}
}
