package template

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/privlink/privlink/internal/arm"
)

// jkind is the kind of a JSON value.
type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

// jnode is a JSON value with where it was written: the template is kept in
// this form so that every error can name the line, column and path of the
// value at fault, as ARM's TemplateViolation does.
type jnode struct {
	kind jkind
	str  string // string value, or number text
	b    bool
	// items are an array's elements; keys and vals an object's members
	// in document order.
	items []*jnode
	keys  []string
	vals  []*jnode
	// off is the byte offset of the value's first character; end the
	// offset just after its last.
	off, end int
	parent   *jnode
	key      string // member name in parent (object), or "" with idx for arrays
	idx      int
	doc      *jdoc
	// parsed caches the expression parsed from a string value.
	parsed any
}

// jdoc is a parsed document: its bytes and where its lines start.
type jdoc struct {
	data       []byte
	lineStarts []int
	// prefix is prepended to paths in errors ("properties.template").
	prefix string
}

// get returns member k of an object, matched case-insensitively as ARM
// reads template keywords.
func (n *jnode) get(k string) *jnode {
	if n == nil || n.kind != jObject {
		return nil
	}
	for i, key := range n.keys {
		if key == k {
			return n.vals[i]
		}
	}
	for i, key := range n.keys {
		if strings.EqualFold(key, k) {
			return n.vals[i]
		}
	}
	return nil
}

// text returns a string value, "" for other kinds.
func (n *jnode) text() string {
	if n == nil || n.kind != jString {
		return ""
	}
	return n.str
}

// lineCol is the 1-based line and column (in characters) of offset off.
func (d *jdoc) lineCol(off int) (int, int) {
	i := sort.Search(len(d.lineStarts), func(i int) bool { return d.lineStarts[i] > off }) - 1
	if i < 0 {
		i = 0
	}
	start := d.lineStarts[i]
	if off > len(d.data) {
		off = len(d.data)
	}
	return i + 1, utf8.RuneCount(d.data[start:off]) + 1
}

// pos is the line and column of n's first character.
func (n *jnode) pos() (int, int) {
	if n == nil || n.doc == nil {
		return 0, 0
	}
	return n.doc.lineCol(n.off)
}

// path is n's path in ARM's form: "resources[0].properties['a.b']".
func (n *jnode) path() string {
	var parts []string
	for x := n; x != nil && x.parent != nil; x = x.parent {
		if x.parent.kind == jArray {
			parts = append(parts, "["+strconv.Itoa(x.idx)+"]")
			continue
		}
		if isPlainKey(x.key) {
			parts = append(parts, "."+x.key)
		} else {
			parts = append(parts, "['"+x.key+"']")
		}
	}
	var b strings.Builder
	if n != nil && n.doc != nil {
		b.WriteString(n.doc.prefix)
	}
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString(parts[i])
	}
	return strings.TrimPrefix(b.String(), ".")
}

func isPlainKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c == '-' || c == '#') {
			return false
		}
	}
	return true
}

// offsetIn maps an offset in the decoded string value of n to the offset
// of that character in the document, so that an expression error points at
// the character (escapes in the JSON text make the two differ).
func (n *jnode) offsetIn(decoded int) int {
	if n.doc == nil || n.kind != jString {
		return n.off
	}
	raw := n.doc.data
	i := n.off + 1
	for k := 0; k < decoded && i < n.end-1; k++ {
		if raw[i] == '\\' {
			if i+1 < len(raw) && raw[i+1] == 'u' {
				i += 6
			} else {
				i += 2
			}
			continue
		}
		i++
	}
	return i
}

// syntaxError is a template that is not JSON; line and column are 1-based.
type syntaxError struct {
	msg       string
	line, col int
	path      string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("%s Path '%s', line %d, position %d.", e.msg, e.path, e.line, e.col)
}

// maxNesting bounds the depth of documents, as JSON readers do.
const maxNesting = 512

type scanner struct {
	d     *jdoc
	data  []byte
	i     int
	depth int
	// cur is the innermost container being read, for error paths.
	cur *jnode
}

// parseJSON reads a JSON document (with // and /* */ comments, which ARM
// accepts in templates) into a tree of positioned values.
func parseJSON(data []byte, prefix string) (*jnode, error) {
	d := &jdoc{data: data, prefix: prefix, lineStarts: []int{0}}
	for i, c := range data {
		if c == '\n' {
			d.lineStarts = append(d.lineStarts, i+1)
		}
	}
	s := &scanner{d: d, data: data}
	// A byte order mark is not content.
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		s.i = 3
	}
	if err := s.skip(); err != nil {
		return nil, err
	}
	if s.i >= len(data) {
		return nil, s.errorf(s.i, "Unexpected end of content while parsing JSON.")
	}
	n, err := s.value(nil)
	if err != nil {
		return nil, err
	}
	if err := s.skip(); err != nil {
		return nil, err
	}
	if s.i < len(data) {
		return nil, s.errorf(s.i, "Additional text encountered after finished reading JSON content: %s.", s.charAt(s.i))
	}
	return n, nil
}

func (s *scanner) charAt(i int) string {
	r, _ := utf8.DecodeRune(s.data[i:])
	return string(r)
}

func (s *scanner) errorf(off int, format string, args ...any) error {
	line, col := s.d.lineCol(off)
	path := ""
	if s.cur != nil {
		path = s.cur.path()
	} else {
		path = strings.TrimPrefix(s.d.prefix, ".")
	}
	return &syntaxError{msg: fmt.Sprintf(format, args...), line: line, col: col, path: path}
}

// skip skips white space and comments.
func (s *scanner) skip() error {
	for s.i < len(s.data) {
		switch c := s.data[s.i]; c {
		case ' ', '\t', '\n', '\r':
			s.i++
		case '/':
			if s.i+1 >= len(s.data) {
				return s.errorf(s.i, "Unexpected character encountered while parsing value: /.")
			}
			switch s.data[s.i+1] {
			case '/':
				for s.i < len(s.data) && s.data[s.i] != '\n' {
					s.i++
				}
			case '*':
				end := strings.Index(string(s.data[s.i+2:]), "*/")
				if end < 0 {
					return s.errorf(s.i, "Unexpected end while parsing comment.")
				}
				s.i += end + 4
			default:
				return s.errorf(s.i, "Unexpected character encountered while parsing value: /.")
			}
		default:
			return nil
		}
	}
	return nil
}

func (s *scanner) value(parent *jnode) (*jnode, error) {
	if s.i >= len(s.data) {
		return nil, s.errorf(s.i, "Unexpected end of content while parsing JSON.")
	}
	n := &jnode{off: s.i, parent: parent, doc: s.d}
	switch c := s.data[s.i]; {
	case c == '{':
		return n, s.object(n)
	case c == '[':
		return n, s.array(n)
	case c == '"':
		str, err := s.str()
		if err != nil {
			return nil, err
		}
		n.kind, n.str = jString, str
	case c == '-' || c >= '0' && c <= '9':
		start := s.i
		s.i++
		for s.i < len(s.data) && strings.IndexByte("0123456789.eE+-", s.data[s.i]) >= 0 {
			s.i++
		}
		text := string(s.data[start:s.i])
		if _, err := strconv.ParseFloat(text, 64); err != nil && !strings.Contains(err.Error(), "range") {
			return nil, s.errorf(start, "Input string '%s' is not a valid number.", text)
		}
		n.kind, n.str = jNumber, text
	case strings.HasPrefix(string(s.data[s.i:min(s.i+5, len(s.data))]), "true"):
		n.kind, n.b = jBool, true
		s.i += 4
	case strings.HasPrefix(string(s.data[s.i:min(s.i+5, len(s.data))]), "false"):
		n.kind = jBool
		s.i += 5
	case strings.HasPrefix(string(s.data[s.i:min(s.i+4, len(s.data))]), "null"):
		n.kind = jNull
		s.i += 4
	default:
		return nil, s.errorf(s.i, "Unexpected character encountered while parsing value: %s.", s.charAt(s.i))
	}
	n.end = s.i
	return n, nil
}

func (s *scanner) enter(n *jnode) error {
	s.depth++
	if s.depth > maxNesting {
		return s.errorf(s.i, "The reader's MaxDepth of %d has been exceeded.", maxNesting)
	}
	s.cur = n
	return nil
}

func (s *scanner) leave(n *jnode) {
	s.depth--
	s.cur = n.parent
	n.end = s.i
}

func (s *scanner) object(n *jnode) error {
	n.kind = jObject
	if err := s.enter(n); err != nil {
		return err
	}
	s.i++ // '{'
	seen := map[string]bool{}
	for {
		if err := s.skip(); err != nil {
			return err
		}
		if s.i >= len(s.data) {
			return s.errorf(s.i, "Unexpected end of content while parsing JSON.")
		}
		if s.data[s.i] == '}' {
			s.i++
			s.leave(n)
			return nil
		}
		if len(n.keys) > 0 {
			if s.data[s.i] != ',' {
				return s.errorf(s.i, "After parsing a value an unexpected character was encountered: %s.", s.charAt(s.i))
			}
			s.i++
			if err := s.skip(); err != nil {
				return err
			}
			// A comma before '}' is tolerated, as JSON readers of
			// templates do.
			if s.i < len(s.data) && s.data[s.i] == '}' {
				s.i++
				s.leave(n)
				return nil
			}
		}
		if s.i >= len(s.data) || s.data[s.i] != '"' {
			if s.i >= len(s.data) {
				return s.errorf(s.i, "Unexpected end of content while parsing JSON.")
			}
			return s.errorf(s.i, "Invalid property identifier character: %s.", s.charAt(s.i))
		}
		keyOff := s.i
		key, err := s.str()
		if err != nil {
			return err
		}
		if seen[key] {
			return s.errorf(keyOff, "Can not add property %s to Newtonsoft.Json.Linq.JObject. Property with the same name already exists on object.", key)
		}
		seen[key] = true
		if err := s.skip(); err != nil {
			return err
		}
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			if s.i >= len(s.data) {
				return s.errorf(s.i, "Unexpected end of content while parsing JSON.")
			}
			return s.errorf(s.i, "Invalid character after parsing property name. Expected ':' but got: %s.", s.charAt(s.i))
		}
		s.i++
		if err := s.skip(); err != nil {
			return err
		}
		v, err := s.value(n)
		if err != nil {
			return err
		}
		v.key = key
		n.keys = append(n.keys, key)
		n.vals = append(n.vals, v)
	}
}

func (s *scanner) array(n *jnode) error {
	n.kind = jArray
	if err := s.enter(n); err != nil {
		return err
	}
	s.i++ // '['
	n.items = []*jnode{}
	for {
		if err := s.skip(); err != nil {
			return err
		}
		if s.i >= len(s.data) {
			return s.errorf(s.i, "Unexpected end of content while parsing JSON.")
		}
		if s.data[s.i] == ']' {
			s.i++
			s.leave(n)
			return nil
		}
		if len(n.items) > 0 {
			if s.data[s.i] != ',' {
				return s.errorf(s.i, "After parsing a value an unexpected character was encountered: %s.", s.charAt(s.i))
			}
			s.i++
			if err := s.skip(); err != nil {
				return err
			}
			if s.i < len(s.data) && s.data[s.i] == ']' {
				s.i++
				s.leave(n)
				return nil
			}
		}
		v, err := s.value(n)
		if err != nil {
			return err
		}
		v.idx = len(n.items)
		n.items = append(n.items, v)
	}
}

// str reads a string starting at s.i ('"') as JSON.NET reads it (raw
// line breaks inside are accepted: ARM reads multi-line strings in
// templates).
func (s *scanner) str() (string, error) {
	v, end, err := arm.ReadJSONNETString(s.data, s.i)
	if err != nil {
		return "", s.errorf(err.At, "%s", err.Msg)
	}
	s.i = end
	return v, nil
}
