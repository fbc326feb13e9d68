package expr

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// formatComposite implements format(): .NET composite formatting,
// "{index[,alignment][:formatString]}" with "{{" and "}}" for braces, under
// the invariant culture.
func formatComposite(f string, args []any) (string, error) {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		ch := f[i]
		switch ch {
		case '}':
			if i+1 < len(f) && f[i+1] == '}' {
				b.WriteByte('}')
				i++
				continue
			}
			return "", fmt.Errorf("input string was not in a correct format: unmatched '}' at position %d", i)
		case '{':
			if i+1 < len(f) && f[i+1] == '{' {
				b.WriteByte('{')
				i++
				continue
			}
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("input string was not in a correct format: unmatched '{' at position %d", i)
			}
			item := f[i+1 : i+end]
			i += end
			spec := ""
			if k := strings.IndexByte(item, ':'); k >= 0 {
				item, spec = item[:k], item[k+1:]
			}
			align := 0
			if k := strings.IndexByte(item, ','); k >= 0 {
				a, err := strconv.Atoi(strings.TrimSpace(item[k+1:]))
				if err != nil || a > 1<<14 || a < -(1<<14) {
					return "", fmt.Errorf("input string was not in a correct format: bad alignment in '{%s}'", f[i-end+1:i])
				}
				align = a
				item = item[:k]
			}
			idx, err := strconv.Atoi(strings.TrimSpace(item))
			if err != nil || idx < 0 {
				return "", fmt.Errorf("input string was not in a correct format: bad index in '{%s}'", f[i-end+1:i])
			}
			if idx >= len(args) {
				return "", fmt.Errorf("index (zero based) must be greater than or equal to zero and less than the size of the argument list")
			}
			s, err := formatValue(args[idx], spec)
			if err != nil {
				return "", err
			}
			if n := utf16Len(s); align > n {
				s = strings.Repeat(" ", align-n) + s
			} else if -align > n {
				s += strings.Repeat(" ", -align-n)
			}
			b.WriteString(s)
		default:
			b.WriteByte(ch)
		}
	}
	return b.String(), nil
}

// formatValue formats one argument with a .NET format string: numeric
// formats for integers, none for the rest.
func formatValue(v any, spec string) (string, error) {
	switch x := v.(type) {
	case int64:
		if spec != "" {
			return formatNumber(float64(x), x, true, spec)
		}
	case float64, json.Number:
		if spec != "" {
			f := toFloat(x)
			return formatNumber(f, int64(f), false, spec)
		}
	}
	return ToString(v), nil
}

// formatNumber implements the standard numeric formats D, N, F, X, G, P,
// E and C (as the invariant culture writes them: '¤' for currency), and
// custom formats of '0', '#', ',' and '.'.
func formatNumber(f float64, i int64, isInt bool, spec string) (string, error) {
	letter := spec[0]
	prec := -1
	if len(spec) > 1 {
		p, err := strconv.Atoi(spec[1:])
		if err != nil {
			return formatCustomNumber(f, spec)
		}
		if p > 99 {
			return "", fmt.Errorf("format specifier '%s' was invalid", spec)
		}
		prec = p
	}
	switch letter {
	case 'D', 'd':
		if !isInt {
			return "", fmt.Errorf("format specifier '%s' is only valid for integers", spec)
		}
		neg := i < 0
		u := strconv.FormatUint(absU(i), 10)
		if prec > len(u) {
			u = strings.Repeat("0", prec-len(u)) + u
		}
		if neg {
			u = "-" + u
		}
		return u, nil
	case 'X', 'x':
		if !isInt {
			return "", fmt.Errorf("format specifier '%s' is only valid for integers", spec)
		}
		u := strconv.FormatUint(uint64(i), 16)
		if letter == 'X' {
			u = strings.ToUpper(u)
		}
		if prec > len(u) {
			u = strings.Repeat("0", prec-len(u)) + u
		}
		return u, nil
	case 'N', 'n':
		if prec < 0 {
			prec = 2
		}
		return groupThousands(strconv.FormatFloat(f, 'f', prec, 64)), nil
	case 'F', 'f':
		if prec < 0 {
			prec = 2
		}
		return strconv.FormatFloat(f, 'f', prec, 64), nil
	case 'P', 'p':
		if prec < 0 {
			prec = 2
		}
		return groupThousands(strconv.FormatFloat(f*100, 'f', prec, 64)) + " %", nil
	case 'C', 'c':
		if prec < 0 {
			prec = 2
		}
		return "¤" + groupThousands(strconv.FormatFloat(f, 'f', prec, 64)), nil
	case 'E', 'e':
		if prec < 0 {
			prec = 6
		}
		s := strconv.FormatFloat(f, 'e', prec, 64)
		// .NET writes at least three exponent digits: 1.000000E+003.
		mant, exp, _ := strings.Cut(s, "e")
		sign := exp[0]
		digits := exp[1:]
		for len(digits) < 3 {
			digits = "0" + digits
		}
		e := "e"
		if letter == 'E' {
			e = "E"
		}
		return mant + e + string(sign) + digits, nil
	case 'G', 'g':
		if isInt {
			return strconv.FormatInt(i, 10), nil
		}
		return strconv.FormatFloat(f, 'g', prec, 64), nil
	}
	return formatCustomNumber(f, spec)
}

func absU(i int64) uint64 {
	if i < 0 {
		return uint64(-(i + 1)) + 1
	}
	return uint64(i)
}

func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for k, ch := range intPart {
		if k > 0 && (len(intPart)-k)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	r := b.String()
	if hasFrac {
		r += "." + frac
	}
	if neg {
		r = "-" + r
	}
	return r
}

// formatCustomNumber handles custom numeric formats made of '0' (digit or
// zero), '#' (digit if significant), ',' (grouping) and '.' (decimal
// point); other characters are copied.
func formatCustomNumber(f float64, spec string) (string, error) {
	intSpec, fracSpec, _ := strings.Cut(spec, ".")
	if strings.Trim(intSpec, "0#,") != "" || strings.Trim(fracSpec, "0#") != "" {
		return "", fmt.Errorf("format specifier '%s' is not supported", spec)
	}
	decimals := len(fracSpec)
	minFrac := strings.Count(fracSpec, "0")
	s := strconv.FormatFloat(math.Abs(f), 'f', decimals, 64)
	ip, fp, _ := strings.Cut(s, ".")
	fp = strings.TrimRight(fp, "0")
	if len(fp) < minFrac {
		fp += strings.Repeat("0", minFrac-len(fp))
	}
	minInt := strings.Count(intSpec, "0")
	if ip == "0" && minInt == 0 {
		ip = ""
	}
	if len(ip) < minInt {
		ip = strings.Repeat("0", minInt-len(ip)) + ip
	}
	if strings.Contains(intSpec, ",") && ip != "" {
		ip = groupThousands(ip)
	}
	r := ip
	if fp != "" {
		r += "." + fp
	}
	if r == "" {
		r = "0"
	}
	if f < 0 && strings.Trim(r, "0.,") != "" {
		r = "-" + r
	}
	return r, nil
}

// .NET standard date and time formats under the invariant culture
// (utcNow('d') is "03/05/2019" in ARM's documentation).
var standardDateFormats = map[byte]string{
	'd': "MM/dd/yyyy",
	'D': "dddd, dd MMMM yyyy",
	'f': "dddd, dd MMMM yyyy HH:mm",
	'F': "dddd, dd MMMM yyyy HH:mm:ss",
	'g': "MM/dd/yyyy HH:mm",
	'G': "MM/dd/yyyy HH:mm:ss",
	'm': "MMMM dd",
	'M': "MMMM dd",
	'o': "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
	'O': "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
	'r': "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
	'R': "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
	's': "yyyy'-'MM'-'dd'T'HH':'mm':'ss",
	't': "HH:mm",
	'T': "HH:mm:ss",
	'u': "yyyy'-'MM'-'dd HH':'mm':'ss'Z'",
	'U': "dddd, dd MMMM yyyy HH:mm:ss",
	'y': "yyyy MMMM",
	'Y': "yyyy MMMM",
}

// FormatDateTime formats t (UTC) with a .NET standard or custom date and
// time format string, as utcNow(format) and dateTimeAdd(..., format) do.
func FormatDateTime(t time.Time, format string) (string, error) {
	t = t.UTC()
	if len(format) == 1 {
		std, ok := standardDateFormats[format[0]]
		if !ok {
			return "", fmt.Errorf("the format '%s' is not a valid standard date and time format", format)
		}
		format = std
	}
	var b strings.Builder
	run := func(i int) int {
		n := 1
		for i+n < len(format) && format[i+n] == format[i] {
			n++
		}
		return n
	}
	for i := 0; i < len(format); {
		ch := format[i]
		switch ch {
		case 'y':
			n := run(i)
			y := t.Year()
			switch {
			case n == 1:
				b.WriteString(strconv.Itoa(y % 100))
			case n == 2:
				fmt.Fprintf(&b, "%02d", y%100)
			default:
				fmt.Fprintf(&b, "%0*d", n, y)
			}
			i += n
		case 'M':
			n := run(i)
			switch n {
			case 1:
				b.WriteString(strconv.Itoa(int(t.Month())))
			case 2:
				fmt.Fprintf(&b, "%02d", int(t.Month()))
			case 3:
				b.WriteString(t.Month().String()[:3])
			default:
				b.WriteString(t.Month().String())
			}
			i += n
		case 'd':
			n := run(i)
			switch n {
			case 1:
				b.WriteString(strconv.Itoa(t.Day()))
			case 2:
				fmt.Fprintf(&b, "%02d", t.Day())
			case 3:
				b.WriteString(t.Weekday().String()[:3])
			default:
				b.WriteString(t.Weekday().String())
			}
			i += n
		case 'h':
			n := run(i)
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			if n == 1 {
				b.WriteString(strconv.Itoa(h))
			} else {
				fmt.Fprintf(&b, "%02d", h)
			}
			i += n
		case 'H':
			n := run(i)
			if n == 1 {
				b.WriteString(strconv.Itoa(t.Hour()))
			} else {
				fmt.Fprintf(&b, "%02d", t.Hour())
			}
			i += n
		case 'm':
			n := run(i)
			if n == 1 {
				b.WriteString(strconv.Itoa(t.Minute()))
			} else {
				fmt.Fprintf(&b, "%02d", t.Minute())
			}
			i += n
		case 's':
			n := run(i)
			if n == 1 {
				b.WriteString(strconv.Itoa(t.Second()))
			} else {
				fmt.Fprintf(&b, "%02d", t.Second())
			}
			i += n
		case 'f', 'F':
			n := run(i)
			if n > 7 {
				return "", fmt.Errorf("the format '%s' is not valid", format)
			}
			frac := fmt.Sprintf("%09d", t.Nanosecond())[:n]
			if ch == 'F' {
				frac = strings.TrimRight(frac, "0")
			}
			b.WriteString(frac)
			i += n
		case 't':
			n := run(i)
			ampm := "AM"
			if t.Hour() >= 12 {
				ampm = "PM"
			}
			if n == 1 {
				b.WriteString(ampm[:1])
			} else {
				b.WriteString(ampm)
			}
			i += n
		case 'K':
			b.WriteString("Z")
			i++
		case 'z':
			n := run(i)
			switch n {
			case 1:
				b.WriteString("+0")
			case 2:
				b.WriteString("+00")
			default:
				b.WriteString("+00:00")
			}
			i += n
		case 'g':
			n := run(i)
			b.WriteString("A.D.")
			i += n
		case '\'', '"':
			end := strings.IndexByte(format[i+1:], ch)
			if end < 0 {
				return "", fmt.Errorf("the format '%s' has an unterminated quoted string", format)
			}
			b.WriteString(format[i+1 : i+1+end])
			i += end + 2
		case '\\':
			if i+1 < len(format) {
				b.WriteByte(format[i+1])
			}
			i += 2
		case '%':
			i++
		default:
			b.WriteByte(ch)
			i++
		}
	}
	return b.String(), nil
}
