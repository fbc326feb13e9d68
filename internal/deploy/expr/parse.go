package expr

import (
	"fmt"
	"strconv"
	"strings"
)

// IsExpression reports whether the JSON string s is a template expression:
// it starts with '[' and ends with ']' and is not escaped by a leading "[[".
func IsExpression(s string) bool {
	return len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' && s[1] != '['
}

// Literal returns the value of a JSON string that is not an expression:
// "[[x]" is the literal "[x]" (ARM's escape), anything else is itself.
func Literal(s string) string {
	if len(s) >= 2 && s[0] == '[' && s[1] == '[' && s[len(s)-1] == ']' {
		return s[1:]
	}
	return s
}

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 256

// MaxLength is ARM's limit on the length of one expression.
const MaxLength = 24576

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tInt
	tString
	tLParen
	tRParen
	tLBracket
	tRBracket
	tComma
	tDot
)

// tokName is how ARM names tokens in its parse errors.
var tokName = [...]string{
	tEOF:      "EndOfData",
	tIdent:    "Identifier",
	tInt:      "Integer",
	tString:   "String",
	tLParen:   "LeftParenthesis",
	tRParen:   "RightParenthesis",
	tLBracket: "LeftSquareBracket",
	tRBracket: "RightSquareBracket",
	tComma:    "Comma",
	tDot:      "Dot",
}

type token struct {
	kind tokKind
	pos  int
	text string // identifier or decoded string
	num  int64
}

type parser struct {
	src   string
	end   int // offset where the expression ends (the closing ']')
	pos   int
	tok   token
	depth int
}

// Parse parses an expression string: the whole JSON string value, brackets
// included ("[concat('a', parameters('b'))]"). Offsets in the tree and in
// errors are byte offsets into src.
func Parse(src string) (Node, error) {
	if len(src) > MaxLength {
		return nil, &Error{Pos: 0, Src: src, Message: fmt.Sprintf("The template language expression exceeds the limit of '%d' characters.", MaxLength)}
	}
	if !IsExpression(src) {
		return nil, &Error{Pos: 0, Src: src, Message: fmt.Sprintf("The language expression '%s' is not valid: an expression must start with '[' and end with ']'.", src)}
	}
	p := &parser{src: src, pos: 1, end: len(src) - 1}
	return p.parseAll()
}

// ParseBare parses an expression without the surrounding brackets
// ("concat('a', 'b')"), as tests and the fuzzer write them.
func ParseBare(src string) (Node, error) {
	if len(src) > MaxLength {
		return nil, &Error{Pos: 0, Src: src, Message: fmt.Sprintf("The template language expression exceeds the limit of '%d' characters.", MaxLength)}
	}
	p := &parser{src: src, pos: 0, end: len(src)}
	return p.parseAll()
}

func (p *parser) parseAll() (Node, error) {
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return nil, p.errorf(p.tok.pos, "Unable to parse language expression '%s': expected token 'Identifier' and actual 'EndOfData'.", p.text())
	}
	n, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.unexpected(tEOF)
	}
	return n, nil
}

// text is the expression without its brackets, as ARM quotes it.
func (p *parser) text() string {
	if p.end < len(p.src) && p.src[0] == '[' {
		return p.src[1:p.end]
	}
	return p.src
}

func (p *parser) errorf(pos int, format string, args ...any) *Error {
	return &Error{Pos: pos, Src: p.src, Message: fmt.Sprintf(format, args...)}
}

func (p *parser) unexpected(want tokKind) *Error {
	return p.errorf(p.tok.pos, "Unable to parse language expression '%s': expected token '%s' and actual '%s'.", p.text(), tokName[want], tokName[p.tok.kind])
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// next reads the next token into p.tok.
func (p *parser) next() error {
	for p.pos < p.end && isSpace(p.src[p.pos]) {
		p.pos++
	}
	start := p.pos
	if p.pos >= p.end {
		p.tok = token{kind: tEOF, pos: p.end}
		return nil
	}
	c := p.src[p.pos]
	switch {
	case c == '(':
		p.tok = token{kind: tLParen, pos: start}
	case c == ')':
		p.tok = token{kind: tRParen, pos: start}
	case c == '[':
		p.tok = token{kind: tLBracket, pos: start}
	case c == ']':
		p.tok = token{kind: tRBracket, pos: start}
	case c == ',':
		p.tok = token{kind: tComma, pos: start}
	case c == '.':
		p.tok = token{kind: tDot, pos: start}
	case c == '\'':
		var b strings.Builder
		i := p.pos + 1
		for {
			if i >= p.end {
				return p.errorf(start, "Unable to parse language expression '%s': the string literal starting at position '%d' is not terminated.", p.text(), start)
			}
			if p.src[i] == '\'' {
				if i+1 < p.end && p.src[i+1] == '\'' {
					b.WriteByte('\'')
					i += 2
					continue
				}
				break
			}
			b.WriteByte(p.src[i])
			i++
		}
		p.tok = token{kind: tString, pos: start, text: b.String()}
		p.pos = i + 1
		return nil
	case c >= '0' && c <= '9' || c == '-' && p.pos+1 < p.end && p.src[p.pos+1] >= '0' && p.src[p.pos+1] <= '9':
		i := p.pos + 1
		for i < p.end && p.src[i] >= '0' && p.src[i] <= '9' {
			i++
		}
		if i < p.end && (p.src[i] == '.' && i+1 < p.end && p.src[i+1] >= '0' && p.src[i+1] <= '9') {
			return p.errorf(start, "Unable to parse language expression '%s': the number at position '%d' is not an integer; use float() or json() for other numbers.", p.text(), start)
		}
		n, err := strconv.ParseInt(p.src[start:i], 10, 64)
		if err != nil {
			return p.errorf(start, "Unable to parse language expression '%s': the integer '%s' at position '%d' is out of range.", p.text(), p.src[start:i], start)
		}
		p.tok = token{kind: tInt, pos: start, num: n}
		p.pos = i
		return nil
	case isIdentStart(c):
		i := p.pos + 1
		for i < p.end && isIdentPart(p.src[i]) {
			i++
		}
		p.tok = token{kind: tIdent, pos: start, text: p.src[start:i]}
		p.pos = i
		return nil
	default:
		return p.errorf(start, "Unable to parse language expression '%s': the character '%c' at position '%d' is not expected.", p.text(), rune(c), start)
	}
	p.pos++
	return nil
}

func (p *parser) expect(k tokKind) error {
	if p.tok.kind != k {
		return p.unexpected(k)
	}
	return p.next()
}

// parseExpr reads a primary expression and its accessors:
//
//	expr    := primary ( '.' ident | '[' expr ']' )*
//	primary := string | integer | name '(' [ expr (',' expr)* ] ')'
//	name    := ident [ '.' ident ]        (namespace.function)
func (p *parser) parseExpr() (Node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errorf(p.tok.pos, "Unable to parse language expression '%s': the expression is nested more than %d levels deep.", p.text(), maxDepth)
	}
	var n Node
	switch p.tok.kind {
	case tString:
		n = &StringLit{At: p.tok.pos, Value: p.tok.text}
		if err := p.next(); err != nil {
			return nil, err
		}
	case tInt:
		n = &IntLit{At: p.tok.pos, Value: p.tok.num}
		if err := p.next(); err != nil {
			return nil, err
		}
	case tIdent:
		c := &CallExpr{At: p.tok.pos, Name: p.tok.text}
		if err := p.next(); err != nil {
			return nil, err
		}
		if p.tok.kind == tDot {
			// namespace.function(...): a user-defined function.
			if err := p.next(); err != nil {
				return nil, err
			}
			if p.tok.kind != tIdent {
				return nil, p.unexpected(tIdent)
			}
			c.Name += "." + p.tok.text
			if err := p.next(); err != nil {
				return nil, err
			}
		}
		if err := p.expect(tLParen); err != nil {
			return nil, err
		}
		for p.tok.kind != tRParen {
			if len(c.Args) > 0 {
				if p.tok.kind != tComma {
					return nil, p.unexpected(tRParen)
				}
				if err := p.next(); err != nil {
					return nil, err
				}
			}
			a, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			c.Args = append(c.Args, a)
		}
		c.End = p.tok.pos + 1
		if err := p.next(); err != nil {
			return nil, err
		}
		n = c
	default:
		return nil, p.unexpected(tIdent)
	}
	for {
		switch p.tok.kind {
		case tDot:
			at := p.tok.pos
			if err := p.next(); err != nil {
				return nil, err
			}
			if p.tok.kind != tIdent {
				return nil, p.unexpected(tIdent)
			}
			n = &MemberExpr{At: at, X: n, Name: p.tok.text}
			if err := p.next(); err != nil {
				return nil, err
			}
		case tLBracket:
			at := p.tok.pos
			if err := p.next(); err != nil {
				return nil, err
			}
			idx, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			if p.tok.kind != tRBracket {
				return nil, p.unexpected(tRBracket)
			}
			if err := p.next(); err != nil {
				return nil, err
			}
			n = &IndexExpr{At: at, X: n, Index: idx}
		default:
			return n, nil
		}
	}
}
