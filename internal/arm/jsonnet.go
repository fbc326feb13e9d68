package arm

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// JSONReaderError is content that ARM's JSON reader (JSON.NET) cannot read,
// described as JSON.NET describes it: what is wrong, then where, as
// "Unexpected character encountered while parsing value: x. Path
// 'properties.groupId', line 1, position 42.". ARM puts that sentence in
// its InvalidRequestContent message ("The request content was invalid and
// could not be deserialized: '…'."), as public reports of its errors show.
//
// Path is JSON.NET's path of the reader at the error: the property or
// array element being read, "" at the top. Line is 1-based (0 when nothing
// was read yet, as JSON.NET counts); Position is the number of characters
// (UTF-16 code units, .NET's chars) of the line before the place of the
// error: the offending character's 0-based column, or the line's length at
// an unexpected end.
type JSONReaderError struct {
	Msg            string
	Path           string
	Line, Position int
	// Hint says what the character at fault is, when JSON.NET's message
	// shows it poorly (a byte order mark is invisible, a typographic quote
	// looks like a quote, a byte that is not UTF-8 shows as U+FFFD); "" if
	// the message says enough. It is privlink's, not part of ARM's message.
	Hint string
}

func (e *JSONReaderError) Error() string {
	return fmt.Sprintf("%s Path '%s', line %d, position %d.", e.Msg, e.Path, e.Line, e.Position)
}

// ReadJSONNET reads b as ARM reads request content, with JSON.NET, and
// returns it as strict JSON; an error is a *JSONReaderError.
//
// JSON.NET takes more than RFC 8259: strings in single quotes (Microsoft's
// docs print armclient's bodies so, {'properties': {'groupId': 'blob'}},
// and armclient sends them as written), property names without quotes
// (what PowerShell leaves of a body whose quotes it ate), comments, a comma
// before a closing bracket, and raw control characters inside strings.
// Those are rewritten into their JSON form; everything else (white space,
// line breaks, the members' order, numbers as spelled) is kept, so that
// positions in the result match the content as sent wherever nothing was
// rewritten. Comments become spaces (their line breaks kept).
//
// Call it only for content that is not valid JSON already: valid JSON is
// read the same by both, and json.Valid is faster.
func ReadJSONNET(b []byte) ([]byte, error) {
	r := &jnReader{b: b, line: 1, shown: -1}
	r.out.Grow(len(b) + 16)
	if err := r.run(); err != nil {
		return nil, err
	}
	return r.out.Bytes(), nil
}

// jnScope is one open container, with what JSON.NET's path says of it: the
// last property name read (objects) or the index of the last value begun
// (arrays; -1 before the first).
type jnScope struct {
	array bool
	name  string
	named bool
	index int
}

type jnReader struct {
	b               []byte
	i               int
	line, lineStart int
	stack           []jnScope
	out             bytes.Buffer
	// started: a token was read; before that JSON.NET reports line 0 at
	// position 0.
	started bool
	// comma is the offset in out of a comma not yet followed by a value,
	// or -1: a closing bracket after it turns it into a space.
	comma int
	// shown is the offset of the character the next error's message
	// shows, or -1.
	shown int
	// pending is the property name read, before its ':'.
	pending string
}

const (
	jnValue = iota // a value is expected
	jnName         // a property name (or '}') is expected
	jnColon        // ':' is expected
	jnAfter        // a value was read
)

// jnMaxDepth bounds nesting as encoding/json, which reads the result, does.
const jnMaxDepth = 10000

func (r *jnReader) run() error {
	r.comma = -1
	state := jnValue
	for {
		if err := r.skip(); err != nil {
			return err
		}
		if r.i >= len(r.b) {
			if len(r.stack) == 0 && state == jnAfter {
				return nil
			}
			return r.end()
		}
		c := r.b[r.i]
		switch state {
		case jnValue:
			if c == ']' && len(r.stack) > 0 && r.top().array {
				r.close(c)
				state = jnAfter
				continue
			}
			if c == ']' {
				// JSON.NET reads the bracket, closes the innermost
				// container, and only then finds it of the wrong kind.
				r.started = true
				open := "None"
				if len(r.stack) > 0 {
					open = "Object"
					r.stack = r.stack[:len(r.stack)-1]
				}
				return r.fail(r.i+1, "JsonToken EndArray is not valid for closing JsonType %s.", open)
			}
			if c == ',' && len(r.stack) > 0 {
				// A missing value: JSON.NET reads it as undefined.
				r.begin()
				r.out.WriteString("null")
				state = jnAfter
				continue
			}
			if err := r.value(c); err != nil {
				return err
			}
			if c == '{' {
				state = jnName
			} else if c != '[' {
				state = jnAfter
			}
		case jnName:
			if c == '}' {
				r.close(c)
				state = jnAfter
				continue
			}
			if err := r.name(c); err != nil {
				return err
			}
			state = jnColon
		case jnColon:
			if c != ':' {
				return r.fail(r.i, "Invalid character after parsing property name. Expected ':' but got: %s.", r.char(r.i))
			}
			// JSON.NET's path takes the name once its ':' is read.
			t := r.top()
			t.name, t.named = r.pending, true
			r.out.WriteByte(':')
			r.i++
			state = jnValue
		case jnAfter:
			if len(r.stack) == 0 {
				return r.fail(r.i, "Additional text encountered after finished reading JSON content: %s.", r.char(r.i))
			}
			top := r.top()
			switch {
			case c == ',':
				r.comma = r.out.Len()
				r.out.WriteByte(',')
				r.i++
				state = jnName
				if top.array {
					state = jnValue
				}
			case c == '}' && !top.array, c == ']' && top.array:
				r.close(c)
			case c == '}' || c == ']':
				closing, open := "EndObject", "Array"
				if c == ']' {
					closing, open = "EndArray", "Object"
				}
				// JSON.NET has read the bracket and closed the container
				// when it finds it wrong: the place is after it, the path
				// the parent's.
				r.stack = r.stack[:len(r.stack)-1]
				return r.fail(r.i+1, "JsonToken %s is not valid for closing JsonType %s.", closing, open)
			default:
				return r.fail(r.i, "After parsing a value an unexpected character was encountered: %s.", r.char(r.i))
			}
		}
	}
}

func (r *jnReader) top() *jnScope { return &r.stack[len(r.stack)-1] }

// begin is a value beginning: the array it is in moves to its index.
func (r *jnReader) begin() {
	r.started = true
	if len(r.stack) > 0 {
		if t := r.top(); t.array {
			t.index++
		}
	}
	r.comma = -1
}

func (r *jnReader) close(c byte) {
	if r.comma >= 0 {
		r.out.Bytes()[r.comma] = ' ' // the comma JSON.NET let pass
		r.comma = -1
	}
	r.stack = r.stack[:len(r.stack)-1]
	r.out.WriteByte(c)
	r.i++
}

// value reads a value starting with c: a container's opening bracket, or a
// whole string, number or literal.
func (r *jnReader) value(c byte) error {
	switch {
	case c == '{' || c == '[':
		if len(r.stack) >= jnMaxDepth {
			return r.fail(r.i, "The reader's MaxDepth of %d has been exceeded.", jnMaxDepth)
		}
		r.begin()
		r.stack = append(r.stack, jnScope{array: c == '[', index: -1})
		r.out.WriteByte(c)
		r.i++
		return nil
	case c == '"' || c == '\'':
		s, err := r.str()
		if err != nil {
			return err
		}
		r.begin()
		r.quote(s)
		return nil
	case c == '-' || c >= '0' && c <= '9':
		// JSON.NET takes the characters a number may have (hex and
		// exponents included), then wants a separator.
		start := r.i
		for r.i < len(r.b) && strings.IndexByte("0123456789abcdefABCDEFxX.+-", r.b[r.i]) >= 0 {
			r.i++
		}
		if r.i < len(r.b) && !r.delimiter(r.b[r.i]) {
			return r.fail(r.i, "Unexpected character encountered while parsing number: %s.", r.char(r.i))
		}
		num := r.b[start:r.i]
		r.begin() // JSON.NET's path names the number at fault
		if !validNumber(num) {
			return r.fail(r.i, "Input string '%s' is not a valid number.", num)
		}
		r.out.Write(num)
		return nil
	}
	if c == 'n' && r.i+1 < len(r.b) && r.b[r.i+1] != 'u' {
		if r.b[r.i+1] == 'e' {
			return r.fail(r.i, "Unexpected content while parsing JSON.") // JSON.NET reads "new …(" constructors
		}
		return r.fail(r.i, "Unexpected character encountered while parsing value: %s.", r.char(r.i))
	}
	if word, what := literal(c); word != "" {
		// JSON.NET wants as many characters as the word has, then
		// matches them one by one: the place of an error is the end, or
		// the first character that differs.
		if r.i+len(word) > len(r.b) {
			return r.fail(len(r.b), "Unexpected end when reading JSON.")
		}
		for k := 0; k < len(word); k++ {
			if r.b[r.i+k] != word[k] {
				return r.fail(r.i+k, "Error parsing %s value.", what)
			}
		}
		if end := r.i + len(word); end < len(r.b) && !r.delimiter(r.b[end]) {
			return r.fail(end, "Error parsing %s value.", what)
		}
		if what != "boolean" && what != "null" {
			// NaN, Infinity and undefined have no JSON form.
			return r.fail(r.i, "Unexpected character encountered while parsing value: %s.", r.char(r.i))
		}
		r.begin()
		r.out.WriteString(word)
		r.i += len(word)
		return nil
	}
	return r.fail(r.i, "Unexpected character encountered while parsing value: %s.", r.char(r.i))
}

// name reads a property name: quoted, or a JavaScript identifier.
func (r *jnReader) name(c byte) error {
	var name string
	if c == '"' || c == '\'' {
		s, err := r.str()
		if err != nil {
			return err
		}
		name = s
	} else {
		ch, _ := utf8.DecodeRune(r.b[r.i:])
		if !identChar(ch) {
			return r.fail(r.i, "Invalid property identifier character: %s.", r.char(r.i))
		}
		start := r.i
		for r.i < len(r.b) {
			ch, n := utf8.DecodeRune(r.b[r.i:])
			if !identChar(ch) {
				break
			}
			r.i += n
		}
		if r.i < len(r.b) && r.b[r.i] != ':' && r.b[r.i] != '/' && !isSpace(r.b[r.i]) && r.b[r.i] != '\n' && r.b[r.i] != '\r' {
			return r.fail(r.i, "Invalid JavaScript property identifier character: %s.", r.char(r.i))
		}
		name = string(r.b[start:r.i])
	}
	r.started = true
	r.pending = name
	r.comma = -1
	r.quote(name)
	return nil
}

// literal is the word a value starting with c must be, and its kind as
// JSON.NET's messages name it.
func literal(c byte) (word, what string) {
	switch c {
	case 't':
		return "true", "boolean"
	case 'f':
		return "false", "boolean"
	case 'n':
		return "null", "null"
	case 'N':
		return "NaN", "NaN"
	case 'I':
		return "Infinity", "Infinity"
	case 'u':
		return "undefined", "undefined"
	}
	return "", ""
}

func identChar(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' || c == '$' }

// str reads the string whose opening quote is at r.i, and returns its value.
func (r *jnReader) str() (string, error) {
	v, end, serr := ReadJSONNETString(r.b, r.i)
	if serr != nil {
		r.pass(serr.At)
		r.shown = serr.Shown
		return "", r.fail(serr.At, "%s", serr.Msg)
	}
	r.pass(end)
	return v, nil
}

// pass moves r.i to offset to, counting the line breaks on the way.
func (r *jnReader) pass(to int) {
	for r.i < to {
		if c := r.b[r.i]; c == '\n' || c == '\r' {
			r.newline()
			continue
		}
		r.i++
	}
}

// JSONStringError is a string JSON.NET cannot read: Msg in its words, At
// the byte offset it places the error at, Shown the offset of the
// character the message shows (-1 for none).
type JSONStringError struct {
	At, Shown int
	Msg       string
}

// ReadJSONNETString reads the string whose opening quote (" or ') is at
// b[i], as JSON.NET reads it: JSON's escapes and \', surrogate pairs, and
// raw line breaks, which JSON.NET takes inside strings (ARM's multi-line
// strings in templates). It returns the value and the offset just after
// the closing quote. Both ReadJSONNET and the templates' positioned reader
// read strings with it.
func ReadJSONNETString(b []byte, i int) (v string, end int, err *JSONStringError) {
	q := b[i]
	i++
	var sb strings.Builder
	for {
		if i >= len(b) {
			return "", 0, &JSONStringError{At: len(b), Shown: -1, Msg: fmt.Sprintf("Unterminated string. Expected delimiter: %c.", q)}
		}
		c := b[i]
		switch {
		case c == q:
			return sb.String(), i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return "", 0, &JSONStringError{At: len(b), Shown: -1, Msg: fmt.Sprintf("Unterminated string. Expected delimiter: %c.", q)}
			}
			e := b[i+1]
			i += 2
			switch e {
			case '"', '\'', '\\', '/':
				sb.WriteByte(e)
			case 'b':
				sb.WriteByte('\b')
			case 'f':
				sb.WriteByte('\f')
			case 'n':
				sb.WriteByte('\n')
			case 'r':
				sb.WriteByte('\r')
			case 't':
				sb.WriteByte('\t')
			case 'u':
				ch, ok := hex4(b, i)
				if !ok {
					return "", 0, &JSONStringError{At: i, Shown: -1, Msg: fmt.Sprintf("Invalid Unicode escape sequence: \\u%s.", b[i:min(i+4, len(b))])}
				}
				i += 4
				if utf16.IsSurrogate(ch) && i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
					if lo, ok := hex4(b, i+2); ok && utf16.DecodeRune(ch, lo) != utf8.RuneError {
						ch = utf16.DecodeRune(ch, lo)
						i += 6
					}
				}
				sb.WriteRune(ch)
			default:
				ch, _ := utf8.DecodeRune(b[i-1:])
				return "", 0, &JSONStringError{At: i, Shown: i - 1, Msg: fmt.Sprintf("Bad JSON escape sequence: \\%c.", ch)}
			}
		default:
			sb.WriteByte(c)
			i++
		}
	}
}

// hex4 reads the four hexadecimal digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[i:i+4]), 16, 16)
	if err != nil {
		return 0, false
	}
	return rune(v), true
}

// quote writes s as a JSON string (no HTML escaping: the text as sent).
func (r *jnReader) quote(s string) {
	b, _ := Marshal(s)
	r.out.Write(b)
}

// skip passes white space (copied) and comments (written as spaces).
func (r *jnReader) skip() error {
	for r.i < len(r.b) {
		switch c := r.b[r.i]; {
		case c == '\n' || c == '\r':
			start := r.i
			r.newline()
			r.out.Write(r.b[start:r.i])
		case isSpace(c):
			if c != ' ' && c != '\t' {
				c = ' ' // white space to JSON.NET, not to JSON
			}
			r.out.WriteByte(c)
			r.i++
		case c >= utf8.RuneSelf:
			// JSON.NET skips what .NET's char.IsWhiteSpace calls white
			// space (no-break and typographic spaces among them).
			ch, n := utf8.DecodeRune(r.b[r.i:])
			if !unicode.IsSpace(ch) {
				return nil
			}
			r.out.WriteByte(' ')
			r.i += n
		case c == '/':
			if r.i+1 >= len(r.b) || r.b[r.i+1] != '*' && r.b[r.i+1] != '/' {
				got := "end of content"
				if r.i+1 < len(r.b) {
					got = r.char(r.i + 1)
				}
				return r.fail(r.i+1, "Error parsing comment. Expected: *, got %s.", got)
			}
			block := r.b[r.i+1] == '*'
			r.out.WriteString("  ")
			r.i += 2
			for {
				if r.i >= len(r.b) {
					if block {
						return r.fail(r.i, "Unexpected end while parsing comment.")
					}
					break
				}
				if block && r.b[r.i] == '*' && r.i+1 < len(r.b) && r.b[r.i+1] == '/' {
					r.out.WriteString("  ")
					r.i += 2
					break
				}
				if r.b[r.i] == '\n' || r.b[r.i] == '\r' {
					if !block {
						break
					}
					start := r.i
					r.newline()
					r.out.Write(r.b[start:r.i])
					continue
				}
				_, n := utf8.DecodeRune(r.b[r.i:])
				r.out.WriteString(strings.Repeat(" ", n))
				r.i += n
			}
		default:
			return nil
		}
	}
	return nil
}

// newline passes the line break at r.i ("\r\n" is one, as JSON.NET counts).
func (r *jnReader) newline() {
	if r.b[r.i] == '\r' && r.i+1 < len(r.b) && r.b[r.i+1] == '\n' {
		r.i++
	}
	r.i++
	r.line++
	r.lineStart = r.i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\f' || c == '\v' }

func (r *jnReader) delimiter(c byte) bool {
	return isSpace(c) || c == '\n' || c == '\r' || c == ',' || c == '}' || c == ']' || c == ')' || c == '/' || c >= utf8.RuneSelf
}

// char names the character at offset i as JSON.NET's messages do.
func (r *jnReader) char(i int) string {
	r.shown = i
	ch, _ := utf8.DecodeRune(r.b[i:])
	return string(ch)
}

// hint says what the character at offset i is, when its glyph does not.
func hint(b []byte, i int) string {
	ch, n := utf8.DecodeRune(b[i:])
	switch {
	case ch == utf8.RuneError && n == 1:
		return fmt.Sprintf("The character at fault is byte 0x%02X, which is not UTF-8.", b[i])
	case ch == utf8.RuneError:
		return "The character at fault is U+FFFD, which stands for bytes that were not UTF-8."
	case ch == '\ufeff':
		return "The character at fault is U+FEFF, a byte order mark, which may only start the content."
	case ch == '\u201c' || ch == '\u201d' || ch == '\u2018' || ch == '\u2019':
		return fmt.Sprintf("The character at fault is '%c' (U+%04X), a typographic quote; JSON needs '\"'.", ch, ch)
	case ch == '\u00a0' || unicode.IsControl(ch) && ch != '\n' && ch != '\r' && ch != '\t':
		return fmt.Sprintf("The character at fault is U+%04X.", ch)
	}
	return ""
}

// end is the error for content that stops too soon.
func (r *jnReader) end() error {
	switch {
	case len(r.stack) == 0:
		return r.fail(r.i, "Unexpected end when reading JSON.")
	case r.top().array:
		return r.fail(r.i, "Unexpected end when deserializing array.")
	}
	return r.fail(r.i, "Unexpected end when deserializing object.")
}

// fail makes the error at offset at, with the reader's path.
func (r *jnReader) fail(at int, format string, args ...any) error {
	pos := 0
	for _, ch := range string(r.b[r.lineStart:min(at, len(r.b))]) {
		pos += utf16.RuneLen(ch)
	}
	line := r.line
	if !r.started && pos == 0 {
		line = 0
	}
	e := &JSONReaderError{Msg: fmt.Sprintf(format, args...), Path: r.path(), Line: line, Position: pos}
	if r.shown >= 0 {
		e.Hint = hint(r.b, r.shown)
	}
	return e
}

// path is JSON.NET's JsonReader.Path: each open container's place, the
// innermost one's only once it has one (a name read, a value begun).
func (r *jnReader) path() string {
	var b strings.Builder
	for i := range r.stack {
		s := &r.stack[i]
		switch {
		case s.array && s.index >= 0:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case !s.array && s.named:
			if strings.ContainsAny(s.name, ". '/\"[]()\t\n\r\f\b\\\u0085\u2028\u2029") {
				b.WriteString("['" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s.name) + "']")
			} else {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(s.name)
			}
		}
	}
	return b.String()
}

// validNumber reports whether b is a JSON number.
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}
