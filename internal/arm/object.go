package arm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"
)

// Object is a JSON object that keeps its members' order and their raw bytes,
// so that a resource echoes what a client sent exactly (2 stays 2, keys stay
// where they were) and privlink's own fields can be set or removed in place.
//
// Members live in a slice, not a map: documents have a dozen members, for
// which a scan is as fast as hashing, and copying or building one is a
// single allocation.
type Object struct {
	members []member
	// shared is set when another Object may read members (a Clone of this
	// one, or the one this was cloned from): the next change copies them
	// first. Documents are cloned out of the decode cache for every read
	// and most are never changed, so Clone copies nothing until then.
	// Atomic: many readers clone one cached document at once.
	shared atomic.Bool
}

// own gives o a member list of its own before a change.
func (o *Object) own() {
	if o.shared.Load() {
		o.members = append(make([]member, 0, len(o.members)+2), o.members...)
		o.shared.Store(false)
	}
}

type member struct {
	key string
	val json.RawMessage
}

// index finds the member named exactly k, or -1.
func (o *Object) index(k string) int {
	for i := range o.members {
		if o.members[i].key == k {
			return i
		}
	}
	return -1
}

// ParseObject decodes data, which must be a JSON object. Values are kept
// compact (insignificant whitespace removed), so that MarshalJSON can write
// them back as they are.
func ParseObject(data []byte) (*Object, error) {
	if !json.Valid(data) {
		// Let the decoder say what is wrong and where.
		var v any
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		return nil, errors.New("invalid character after top-level value")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, err
	}
	// Clients written in Go send '<', '>' and '&' as \u003c, \u003e and
	// \u0026 (json.Marshal's HTML escaping). ARM reads the characters and
	// writes them back plainly, so the stored document holds them plainly too.
	return splitObject(UnescapeHTML(buf.Bytes()))
}

// ParseTrustedObject splits data that privlink wrote itself (valid, compact
// JSON), skipping validation: the fast path for stored documents.
func ParseTrustedObject(data []byte) (*Object, error) { return splitObject(data) }

// UnmarshalJSON implements json.Unmarshaler.
func (o *Object) UnmarshalJSON(data []byte) error {
	p, err := ParseObject(data)
	if err != nil {
		return err
	}
	o.members = p.members // p's own list: nothing else reads it
	o.shared.Store(false)
	return nil
}

// splitObject splits valid, compact JSON into the members of its top-level
// object without decoding the values.
func splitObject(data []byte) (*Object, error) {
	if len(data) == 0 || data[0] != '{' {
		got := "null"
		if len(data) > 0 {
			got = Kind(data)
		}
		return nil, &TypeError{Want: "object", Got: got}
	}
	o := &Object{members: make([]member, 0, 8)}
	i := 1
	if i < len(data) && data[i] == '}' {
		return o, nil
	}
	for i < len(data) {
		end := skipString(data, i)
		if end < 0 {
			return nil, errors.New("arm: malformed object key")
		}
		// The name aliases data, as the values do: a document's bytes are
		// never changed once split (see Clone), and a member's name lives
		// no longer than its value. One allocation less per member.
		key := ""
		if n := end - 1 - (i + 1); n > 0 {
			key = unsafe.String(&data[i+1], n)
		}
		if bytes.IndexByte(data[i:end], '\\') >= 0 {
			if err := json.Unmarshal(data[i:end], &key); err != nil {
				return nil, err
			}
		}
		i = end
		if i >= len(data) || data[i] != ':' {
			return nil, errors.New("arm: malformed object")
		}
		i++
		vend := skipValue(data, i)
		if vend < 0 {
			return nil, errors.New("arm: malformed value")
		}
		// Members are told apart by their exact names here, as encoding/json
		// does: "a" and "A" are two members, and a repeated name keeps its
		// first place with its last value. (Set would fold them into one.)
		if j := o.index(key); j >= 0 {
			o.members[j].val = json.RawMessage(data[i:vend:vend])
		} else {
			o.members = append(o.members, member{key, json.RawMessage(data[i:vend:vend])})
		}
		i = vend
		if i < len(data) && data[i] == ',' {
			i++
			continue
		}
		break
	}
	return o, nil
}

// skipString returns the index after the string starting at data[i] ('"').
func skipString(data []byte, i int) int {
	if i >= len(data) || data[i] != '"' {
		return -1
	}
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the compact JSON value starting at data[i].
func skipValue(data []byte, i int) int {
	depth := 0
	for j := i; j < len(data); j++ {
		switch data[j] {
		case '"':
			e := skipString(data, j)
			if e < 0 {
				return -1
			}
			j = e - 1
			if depth == 0 {
				return e
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return j
			}
			depth--
			if depth == 0 {
				return j + 1
			}
		case ',':
			if depth == 0 {
				return j
			}
		}
	}
	if depth == 0 {
		return len(data)
	}
	return -1
}

// TypeError reports a JSON value of the wrong kind.
type TypeError struct{ Want, Got string }

func (e *TypeError) Error() string { return fmt.Sprintf("expected %s, found %s", e.Want, e.Got) }

// Kind reports the JSON kind of a raw value: object, array, string, number, boolean or null.
func Kind(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "null"
	}
	switch v[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// MarshalJSON implements json.Marshaler.
func (o *Object) MarshalJSON() ([]byte, error) {
	if o == nil {
		return []byte("null"), nil
	}
	n := 2
	for _, m := range o.members {
		n += len(m.key) + len(m.val) + 4
	}
	var b bytes.Buffer
	b.Grow(n)
	b.WriteByte('{')
	for i, m := range o.members {
		if i > 0 {
			b.WriteByte(',')
		}
		writeKey(&b, m.key)
		b.WriteByte(':')
		v := m.val
		if len(v) == 0 {
			b.WriteString("null")
			continue
		}
		// Values are compact JSON: parsed ones were compacted on the way
		// in, and privlink's own come from Marshal.
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Len is the number of members.
func (o *Object) Len() int {
	if o == nil {
		return 0
	}
	return len(o.members)
}

// Only is a new object of o's members whose keys names lists (matched as
// written), in o's order: a document cut to the members a shape has.
func (o *Object) Only(names ...string) *Object {
	out := &Object{}
	if o == nil {
		return out
	}
	for _, m := range o.members {
		for _, n := range names {
			if m.key == n {
				out.members = append(out.members, m)
				break
			}
		}
	}
	return out
}

// Keys returns the member names in order.
func (o *Object) Keys() []string {
	if o == nil {
		return nil
	}
	var keys []string
	for _, m := range o.members {
		keys = append(keys, m.key)
	}
	return keys
}

// lookup finds a member by exact name, then case-insensitively, as ARM RPs
// deserialize property names without regard to case.
func (o *Object) lookup(k string) int {
	if o == nil {
		return -1
	}
	if i := o.index(k); i >= 0 {
		return i
	}
	for i := range o.members {
		if strings.EqualFold(o.members[i].key, k) {
			return i
		}
	}
	return -1
}

// Get returns the raw value of member k (matched case-insensitively).
func (o *Object) Get(k string) (json.RawMessage, bool) {
	i := o.lookup(k)
	if i < 0 {
		return nil, false
	}
	return o.members[i].val, true
}

// Has reports whether member k is present and not null.
func (o *Object) Has(k string) bool {
	v, ok := o.Get(k)
	return ok && Kind(v) != "null"
}

// Set sets member k to raw value v (compact JSON), keeping its position (and the spelling
// already present) when it exists.
func (o *Object) Set(k string, v json.RawMessage) {
	o.own()
	if i := o.lookup(k); i >= 0 {
		o.members[i].val = v
		return
	}
	o.members = append(o.members, member{k, v})
}

// SetAfter sets member k to raw value v like Set, but places a new member
// right after member after (at the end when after is absent), for members
// whose place in a document clients and docs expect ("location" after "type").
func (o *Object) SetAfter(after, k string, v json.RawMessage) {
	o.own()
	if i := o.lookup(k); i >= 0 {
		o.members[i].val = v
		return
	}
	i := o.lookup(after)
	if i < 0 {
		o.members = append(o.members, member{k, v})
		return
	}
	o.members = append(o.members, member{})
	copy(o.members[i+2:], o.members[i+1:])
	o.members[i+1] = member{k, v}
}

// SetValue marshals v (without HTML escaping, see Marshal) and sets it as member k.
func (o *Object) SetValue(k string, v any) {
	b, err := Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("arm: marshal %s: %v", k, err)) // only privlink's own values reach here
	}
	o.Set(k, b)
}

// SetObject sets member k to a nested object.
func (o *Object) SetObject(k string, v *Object) {
	b, _ := v.MarshalJSON()
	o.Set(k, b)
}

// Delete removes member k (matched case-insensitively).
func (o *Object) Delete(k string) {
	if i := o.lookup(k); i >= 0 {
		o.own()
		o.members = append(o.members[:i], o.members[i+1:]...)
	}
}

// String returns member k when it is a JSON string; ok is false when it is
// absent or null, and err is set when it has another kind.
func (o *Object) String(k string) (s string, ok bool, err error) {
	v, present := o.Get(k)
	if !present || Kind(v) == "null" {
		return "", false, nil
	}
	if Kind(v) != "string" {
		return "", false, &TypeError{Want: "string", Got: Kind(v)}
	}
	if s, ok := plainString(v); ok {
		return s, true, nil
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false, err
	}
	return s, true, nil
}

// plainString returns the string that the JSON string literal v (a
// member's value: valid JSON) holds when it holds no escape and only valid
// UTF-8: its bytes between the quotes, as encoding/json would decode them,
// without its validation pass and reflection (a quarter of a stored
// document's reading went there). ok is false for any other literal.
func plainString(v json.RawMessage) (s string, ok bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	in := v[1 : len(v)-1]
	ascii := true
	for _, c := range in {
		if c == '\\' || c == '"' {
			return "", false // an escape: encoding/json's work
		}
		ascii = ascii && c < utf8.RuneSelf
	}
	// Invalid UTF-8 is replaced (U+FFFD) by encoding/json: its work too.
	if !ascii && !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// TrustedString reads string member k of a JSON object that privlink
// wrote itself (valid and compact, see ParseTrustedObject) without
// encoding/json's validation and reflection: "" when k is absent or null.
// ok is false when data is not such an object or k no string; callers
// then read data with encoding/json.
//
// It reads the members in place, without splitting the object (a create
// reads two such members of documents a few hundred bytes long, and
// splitting them was most of what it allocated for them). The member it
// picks is the one Object.String would: the last value of the exact name,
// else the first name equal to k under case folding, with that spelling's
// last value. An object with an escaped name is read through an Object.
func TrustedString(data []byte, k string) (s string, ok bool) {
	if len(data) < 2 || data[0] != '{' {
		return "", false
	}
	var exact, folded json.RawMessage
	var fold string // the spelling folded is bound to, once bound
	bound := false
	for i := 1; i < len(data) && data[i] != '}'; {
		end := skipString(data, i)
		if end < 0 || end >= len(data) || data[end] != ':' {
			return "", false
		}
		key := data[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return trustedStringOf(data, k)
		}
		vend := skipValue(data, end+1)
		if vend < 0 {
			return "", false
		}
		v := json.RawMessage(data[end+1 : vend])
		switch {
		case string(key) == k:
			exact = v
		case !bound && strings.EqualFold(string(key), k):
			fold, folded, bound = string(key), v, true
		case bound && string(key) == fold:
			folded = v
		}
		i = vend
		if i < len(data) && data[i] == ',' {
			i++
		}
	}
	v := exact
	if v == nil {
		v = folded
	}
	if v == nil || Kind(v) == "null" {
		return "", true
	}
	if Kind(v) != "string" {
		return "", false
	}
	if s, ok := plainString(v); ok {
		return s, true
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// trustedStringOf is TrustedString through an Object.
func trustedStringOf(data []byte, k string) (s string, ok bool) {
	o, err := splitObject(data)
	if err != nil {
		return "", false
	}
	s, _, err = o.String(k)
	return s, err == nil
}

// Object returns member k as a nested Object; nil when absent or null.
func (o *Object) Object(k string) (*Object, error) {
	v, present := o.Get(k)
	if !present || Kind(v) == "null" {
		return nil, nil
	}
	if Kind(v) != "object" {
		return nil, &TypeError{Want: "object", Got: Kind(v)}
	}
	// Members are valid, compact JSON already (see Set), so no re-validation.
	return splitObject(v)
}

// Clone returns a deep-enough copy: changing either leaves the other as it
// was. The member list is shared until one of them changes (copy on write);
// raw values are always shared, which is safe because they are never
// mutated in place.
func (o *Object) Clone() *Object {
	if o == nil {
		return &Object{}
	}
	o.shared.Store(true)
	c := &Object{members: o.members}
	c.shared.Store(true)
	return c
}

// MergePatch applies an RFC 7396 JSON merge patch to o in place.
func (o *Object) MergePatch(patch *Object) error {
	for _, pm := range patch.members {
		k, pv := pm.key, pm.val
		if Kind(pv) == "null" {
			o.Delete(k)
			continue
		}
		cur, ok := o.Get(k)
		if Kind(pv) == "object" && ok && Kind(cur) == "object" {
			co, err := splitObject(cur)
			if err != nil {
				return err
			}
			po, err := splitObject(pv)
			if err != nil {
				return err
			}
			if err := co.MergePatch(po); err != nil {
				return err
			}
			o.SetObject(k, co)
			continue
		}
		if Kind(pv) == "object" {
			// Merging into nothing: nulls inside the patch vanish.
			po, err := splitObject(pv)
			if err != nil {
				return err
			}
			fresh := &Object{}
			if err := fresh.MergePatch(po); err != nil {
				return err
			}
			o.SetObject(k, fresh)
			continue
		}
		o.Set(k, pv)
	}
	return nil
}

// writeKey writes k as a JSON string: plain ASCII keys (all of ARM's) as they
// are, anything else through Marshal.
func writeKey(b *bytes.Buffer, k string) {
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			kb, _ := Marshal(k)
			b.Write(kb)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(k)
	b.WriteByte('"')
}
