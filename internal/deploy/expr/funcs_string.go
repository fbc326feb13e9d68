package expr

import (
	"encoding/base64"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

func init() {
	s, i, a, o := KString, KInt, KArray, KObject
	register(
		fn("base64", 1, 1, kinds(s), func(c *Call, a []any) (any, error) {
			return base64.StdEncoding.EncodeToString([]byte(a[0].(string))), nil
		}),
		fn("base64ToString", 1, 1, kinds(s), func(c *Call, a []any) (any, error) {
			b, err := decodeBase64(a[0].(string))
			if err != nil {
				return nil, c.Fail("the value '%s' is not a valid Base64 string", a[0])
			}
			return string(b), nil
		}),
		fn("base64ToJson", 1, 1, kinds(s), func(c *Call, a []any) (any, error) {
			b, err := decodeBase64(a[0].(string))
			if err != nil {
				return nil, c.Fail("the value '%s' is not a valid Base64 string", a[0])
			}
			v, err := ParseLenientJSON(string(b))
			if err != nil {
				return nil, c.Fail("the decoded value is not valid JSON: %v", err)
			}
			return v, nil
		}),
		fn("concat", 1, -1, kinds(Any), concat),
		fn("contains", 2, 2, kinds(s|a|o, Any), contains),
		fn("dataUri", 1, 1, kinds(s|i|KBool), func(c *Call, a []any) (any, error) {
			return "data:text/plain;charset=utf8;base64," + base64.StdEncoding.EncodeToString([]byte(ToString(a[0]))), nil
		}),
		fn("dataUriToString", 1, 1, kinds(s), dataURIToString),
		fn("empty", 1, 1, kinds(KNull|s|a|o), func(c *Call, a []any) (any, error) {
			switch x := a[0].(type) {
			case nil:
				return true, nil
			case string:
				return x == "", nil
			case []any:
				return len(x) == 0, nil
			case *Object:
				return x.Len() == 0, nil
			}
			return false, nil
		}),
		fn("endsWith", 2, 2, kinds(s, s), func(c *Call, a []any) (any, error) {
			x, y := foldU16(a[0].(string)), foldU16(a[1].(string))
			return len(y) <= len(x) && indexU16(x[len(x)-len(y):], y, false) == 0, nil
		}),
		fn("startsWith", 2, 2, kinds(s, s), func(c *Call, a []any) (any, error) {
			x, y := foldU16(a[0].(string)), foldU16(a[1].(string))
			return len(y) <= len(x) && indexU16(x[:len(y)], y, false) == 0, nil
		}),
		fn("first", 1, 1, kinds(s|a), func(c *Call, a []any) (any, error) {
			switch x := a[0].(type) {
			case string:
				u := toU16(x)
				if len(u) == 0 {
					return "", nil
				}
				return fromU16(u[:1]), nil
			case []any:
				if len(x) == 0 {
					return nil, nil
				}
				return x[0], nil
			}
			return nil, nil
		}),
		fn("last", 1, 1, kinds(s|a), func(c *Call, a []any) (any, error) {
			switch x := a[0].(type) {
			case string:
				u := toU16(x)
				if len(u) == 0 {
					return "", nil
				}
				return fromU16(u[len(u)-1:]), nil
			case []any:
				if len(x) == 0 {
					return nil, nil
				}
				return x[len(x)-1], nil
			}
			return nil, nil
		}),
		fn("format", 1, -1, kinds(s, Any), func(c *Call, a []any) (any, error) {
			r, err := formatComposite(a[0].(string), a[1:])
			if err != nil {
				return nil, c.Fail("%v", err)
			}
			return r, nil
		}),
		fn("guid", 1, -1, kinds(s), func(c *Call, a []any) (any, error) {
			return GUID(stringArgs(a)...), nil
		}),
		fn("indexOf", 2, 2, kinds(s|a, Any), func(c *Call, a []any) (any, error) { return indexOf(c, a, false) }),
		fn("lastIndexOf", 2, 2, kinds(s|a, Any), func(c *Call, a []any) (any, error) { return indexOf(c, a, true) }),
		fn("join", 2, 2, kinds(a, s), func(c *Call, a []any) (any, error) {
			parts := make([]string, 0, len(a[0].([]any)))
			for _, e := range a[0].([]any) {
				switch e.(type) {
				case []any, *Object:
					return nil, c.Fail("the array elements must be strings, integers or booleans; found '%s'", TypeName(e))
				}
				parts = append(parts, ToString(e))
			}
			return strings.Join(parts, a[1].(string)), nil
		}),
		fn("json", 1, 1, kinds(s|KNull), func(c *Call, a []any) (any, error) {
			if a[0] == nil {
				return nil, nil
			}
			v, err := ParseLenientJSON(a[0].(string))
			if err != nil {
				return nil, c.Fail("the value is not valid JSON: %v", err)
			}
			return v, nil
		}),
		fn("length", 1, 1, kinds(s|a|o), func(c *Call, a []any) (any, error) {
			switch x := a[0].(type) {
			case string:
				return int64(utf16Len(x)), nil
			case []any:
				return int64(len(x)), nil
			case *Object:
				return int64(x.Len()), nil
			}
			return int64(0), nil
		}),
		fn("like", 2, 2, kinds(s, s), func(c *Call, a []any) (any, error) {
			return like(foldString(a[0].(string)), foldString(a[1].(string))), nil
		}),
		fn("padLeft", 2, 3, kinds(s|i, i, s), padLeft),
		fn("replace", 3, 3, kinds(s, s, s), func(c *Call, a []any) (any, error) {
			s, old, repl := a[0].(string), a[1].(string), a[2].(string)
			if old == "" {
				return nil, c.Fail("the string to replace cannot be empty")
			}
			if n := strings.Count(s, old); len(repl) > len(old) && len(s)+n*(len(repl)-len(old)) > maxBuild*8 {
				return nil, c.Fail("the result would be longer than %d characters", maxBuild*8)
			}
			return strings.ReplaceAll(s, old, repl), nil
		}),
		fn("skip", 2, 2, kinds(s|a, i), func(c *Call, a []any) (any, error) { return skipTake(c, a, true) }),
		fn("take", 2, 2, kinds(s|a, i), func(c *Call, a []any) (any, error) { return skipTake(c, a, false) }),
		fn("split", 2, 2, kinds(s, s|a), func(c *Call, a []any) (any, error) {
			var delims []string
			switch d := a[1].(type) {
			case string:
				delims = []string{d}
			case []any:
				for _, e := range d {
					s, ok := e.(string)
					if !ok {
						return nil, c.Fail("the delimiters must be strings; found '%s'", TypeName(e))
					}
					delims = append(delims, s)
				}
			}
			if err := c.Spend(len(delims) * (len(a[0].(string))/64 + 1)); err != nil {
				return nil, err
			}
			out := []any{}
			for _, p := range splitAny(a[0].(string), delims) {
				out = append(out, p)
			}
			return out, nil
		}),
		fn("string", 1, 1, kinds(Any), func(c *Call, a []any) (any, error) { return ToString(a[0]), nil }),
		fn("substring", 2, 3, kinds(s, i, i), substring),
		fn("toLower", 1, 1, kinds(s), func(c *Call, a []any) (any, error) { return strings.ToLower(a[0].(string)), nil }),
		fn("toUpper", 1, 1, kinds(s), func(c *Call, a []any) (any, error) { return strings.ToUpper(a[0].(string)), nil }),
		fn("trim", 1, 1, kinds(s), func(c *Call, a []any) (any, error) { return strings.TrimSpace(a[0].(string)), nil }),
		fn("uniqueString", 1, -1, kinds(s), func(c *Call, a []any) (any, error) {
			return UniqueString(stringArgs(a)...), nil
		}),
		fn("uri", 2, 2, kinds(s, s), func(c *Call, a []any) (any, error) {
			base, err := url.Parse(a[0].(string))
			if err != nil || !base.IsAbs() {
				return nil, c.Fail("the base URI '%s' is not an absolute URI", a[0])
			}
			rel, err := url.Parse(a[1].(string))
			if err != nil {
				return nil, c.Fail("the relative URI '%s' is not valid", a[1])
			}
			return base.ResolveReference(rel).String(), nil
		}),
		fn("uriComponent", 1, 1, kinds(s), func(c *Call, a []any) (any, error) { return EscapeDataString(a[0].(string)), nil }),
		fn("uriComponentToString", 1, 1, kinds(s), func(c *Call, a []any) (any, error) {
			r, err := url.PathUnescape(a[0].(string))
			if err != nil {
				return nil, c.Fail("the value '%s' is not a valid URI-encoded string", a[0])
			}
			return r, nil
		}),
	)
}

func stringArgs(a []any) []string {
	s := make([]string, len(a))
	for i, v := range a {
		s[i] = v.(string)
	}
	return s
}

func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// .NET's Convert.FromBase64String ignores white space.
		b, err = base64.StdEncoding.DecodeString(strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, s))
	}
	return b, err
}

// concat joins arrays into an array, or anything else into a string.
func concat(c *Call, a []any) (any, error) {
	if _, ok := a[0].([]any); ok {
		out := []any{}
		for i, v := range a {
			switch x := v.(type) {
			case []any:
				out = append(out, x...)
			case nil:
			default:
				return nil, c.argError(i, "The template function 'concat' expects its parameters to be all arrays or all strings, integers and booleans. The %s parameter is of type '%s'.", ordinal(i), TypeName(v))
			}
			if len(out) > maxBuild {
				return nil, c.Fail("the result has more than %d elements", maxBuild)
			}
		}
		return out, nil
	}
	var b strings.Builder
	for i, v := range a {
		if _, ok := v.([]any); ok {
			return nil, c.argError(i, "The template function 'concat' expects its parameters to be all arrays or all strings, integers and booleans. The %s parameter is of type 'Array'.", ordinal(i))
		}
		b.WriteString(ToString(v))
		if b.Len() > maxBuild*8 {
			return nil, c.Fail("the result is longer than %d characters", maxBuild*8)
		}
	}
	return b.String(), nil
}

// contains: an array element (deep, case-sensitive), an object key
// (case-insensitive) or a substring (case-sensitive).
func contains(c *Call, a []any) (any, error) {
	switch x := a[0].(type) {
	case string:
		return strings.Contains(x, ToString(a[1])), nil
	case []any:
		for _, e := range x {
			if Equal(e, a[1]) {
				return true, nil
			}
		}
		return false, nil
	case *Object:
		k, ok := a[1].(string)
		if !ok {
			k = ToString(a[1])
		}
		return x.Has(k), nil
	}
	return false, nil
}

func indexOf(c *Call, a []any, last bool) (any, error) {
	switch x := a[0].(type) {
	case string:
		sub, ok := a[1].(string)
		if !ok {
			return nil, c.argError(1, "The template function '%s' expects its second parameter to be of type 'String'. The provided value is of type '%s'.", c.Func.Name, TypeName(a[1]))
		}
		return int64(indexFold(x, sub, last)), nil
	case []any:
		if last {
			for i := len(x) - 1; i >= 0; i-- {
				if Equal(x[i], a[1]) {
					return int64(i), nil
				}
			}
		} else {
			for i, e := range x {
				if Equal(e, a[1]) {
					return int64(i), nil
				}
			}
		}
	}
	return int64(-1), nil
}

func padLeft(c *Call, a []any) (any, error) {
	v := ToString(a[0])
	n, err := intArg(c, a, 1)
	if err != nil {
		return nil, err
	}
	if n > maxBuild {
		return nil, c.Fail("the total length %d is too large", n)
	}
	pad := " "
	if len(a) > 2 {
		pad = a[2].(string)
		if utf8.RuneCountInString(pad) != 1 {
			return nil, c.Fail("the padding character must be a single character; found '%s'", pad)
		}
	}
	if l := utf16Len(v); int64(l) < n {
		return strings.Repeat(pad, int(n)-l) + v, nil
	}
	return v, nil
}

func skipTake(c *Call, a []any, skip bool) (any, error) {
	n, _ := toInt(a[1])
	clamp := func(l int) int {
		switch {
		case n < 0:
			return 0
		case n > int64(l):
			return l
		}
		return int(n)
	}
	switch x := a[0].(type) {
	case string:
		u := toU16(x)
		k := clamp(len(u))
		if skip {
			return fromU16(u[k:]), nil
		}
		return fromU16(u[:k]), nil
	case []any:
		k := clamp(len(x))
		if skip {
			return append([]any{}, x[k:]...), nil
		}
		return append([]any{}, x[:k]...), nil
	}
	return nil, nil
}

// splitAny splits s at any of delims, as .NET's String.Split(string[])
// does: at each position the first delimiter that matches wins.
func splitAny(s string, delims []string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); {
		matched := false
		for _, d := range delims {
			if d != "" && strings.HasPrefix(s[i:], d) {
				out = append(out, s[start:i])
				i += len(d)
				start = i
				matched = true
				break
			}
		}
		if !matched {
			i++
		}
	}
	return append(out, s[start:])
}

func substring(c *Call, a []any) (any, error) {
	u := toU16(a[0].(string))
	start, _ := toInt(a[1])
	length := int64(len(u)) - start
	if len(a) > 2 {
		length, _ = toInt(a[2])
	}
	if start < 0 || start > int64(len(u)) || length < 0 || start+length > int64(len(u)) {
		return nil, c.Errorf("The index and length parameters must refer to a location within the string. The index parameter: '%d', the length parameter: '%d', the length of the string parameter: '%d'. Please see https://aka.ms/arm-template-expressions for usage details.", start, length, len(u))
	}
	return fromU16(u[start : start+length]), nil
}

func dataURIToString(c *Call, a []any) (any, error) {
	s := a[0].(string)
	if !strings.HasPrefix(strings.ToLower(s), "data:") {
		return nil, c.Fail("the value '%s' is not a data URI", s)
	}
	meta, data, ok := strings.Cut(s[5:], ",")
	if !ok {
		return nil, c.Fail("the value '%s' is not a data URI", s)
	}
	if strings.HasSuffix(strings.ToLower(meta), ";base64") {
		b, err := decodeBase64(data)
		if err != nil {
			return nil, c.Fail("the data of '%s' is not valid Base64", s)
		}
		return string(b), nil
	}
	r, err := url.PathUnescape(data)
	if err != nil {
		return nil, c.Fail("the data of '%s' is not valid", s)
	}
	return r, nil
}

// EscapeDataString escapes s as .NET's Uri.EscapeDataString does (what
// uriComponent() returns): every byte but the unreserved characters of
// RFC 3986 is percent-encoded, in upper-case hex.
func EscapeDataString(s string) string {
	const upper = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.' || ch == '~' {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upper[ch>>4])
		b.WriteByte(upper[ch&15])
	}
	return b.String()
}

// indexFold finds sub in s ignoring case (.NET's OrdinalIgnoreCase) and
// returns the index in UTF-16 code units, -1 when absent. Folding is done
// rune by rune so that positions in the folded strings are positions in
// the originals.
func indexFold(s, sub string, last bool) int {
	fs, fsub := foldString(s), foldString(sub)
	var i int
	if last {
		i = strings.LastIndex(fs, fsub)
	} else {
		i = strings.Index(fs, fsub)
	}
	if i < 0 {
		return -1
	}
	return utf16Len(fs[:i])
}

func foldString(s string) string {
	return strings.Map(func(r rune) rune {
		u := unicode.ToUpper(r)
		if (u >= 0x10000) != (r >= 0x10000) {
			return r
		}
		return u
	}, s)
}

// like matches s against a wildcard pattern, '*' for any run of
// characters and '?' for one, as like() does (without regard to case: the
// caller folds both). Greedy matching with one backtrack point keeps it
// linear in practice.
func like(s, pattern string) bool {
	sr, pr := []rune(s), []rune(pattern)
	i, j, star, mark := 0, 0, -1, 0
	for i < len(sr) {
		switch {
		case j < len(pr) && (pr[j] == '?' || pr[j] == sr[i]):
			i++
			j++
		case j < len(pr) && pr[j] == '*':
			star, mark = j, i
			j++
		case star >= 0:
			j = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for j < len(pr) && pr[j] == '*' {
		j++
	}
	return j == len(pr)
}
