package expr

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

func init() {
	s, i := KString, KInt
	register(
		fn("dateTimeAdd", 2, 3, kinds(s, s, s), func(c *Call, x []any) (any, error) {
			base, err := ParseDateTime(x[0].(string))
			if err != nil {
				return nil, c.Errorf("The template function 'dateTimeAdd' has an invalid parameter. The first parameter '%s' is not a valid ISO8601 date time string. Please see https://aka.ms/arm-syntax-functions .", x[0])
			}
			t, err := AddDuration(base, x[1].(string))
			if err != nil {
				return nil, c.Errorf("The template function 'dateTimeAdd' has an invalid parameter. The second parameter '%s' is not a valid ISO8601 Duration string. Please see https://aka.ms/arm-syntax-functions .", x[1])
			}
			// Without a format ARM writes the time as .NET's DateTime
			// does under en-US ("4/7/2023 2:53:14 PM" in its documentation).
			format := "M/d/yyyy h:mm:ss tt"
			if len(x) > 2 {
				format = x[2].(string)
			}
			r, err := FormatDateTime(t, format)
			if err != nil {
				return nil, c.Fail("%v", err)
			}
			return r, nil
		}),
		fn("dateTimeFromEpoch", 1, 1, kinds(i), func(c *Call, x []any) (any, error) {
			n := x[0].(int64)
			if n < -62135596800 || n > 253402300799 {
				return nil, c.Fail("the epoch time %d is out of range", n)
			}
			return time.Unix(n, 0).UTC().Format("2006-01-02T15:04:05Z"), nil
		}),
		fn("dateTimeToEpoch", 1, 1, kinds(s), func(c *Call, x []any) (any, error) {
			t, err := ParseDateTime(x[0].(string))
			if err != nil {
				return nil, c.Fail("the value '%s' is not a valid ISO 8601 date time", x[0])
			}
			return t.Unix(), nil
		}),
	)
}

// dateLayouts are the ISO 8601 forms ARM reads, including utcNow()'s
// default basic format.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"20060102T150405Z",
	"20060102T150405",
	"2006-01-02",
	"01/02/2006 15:04:05",
	"1/2/2006 3:04:05 PM",
}

// ParseDateTime reads an ISO 8601 date and time; without a zone it is UTC.
func ParseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	// "Z" is also accepted after a space-separated time and lower-case t.
	if t, err := time.Parse(time.RFC3339Nano, strings.Replace(strings.ToUpper(s), " ", "T", 1)); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("'%s' is not an ISO 8601 date and time", s)
}

// AddDuration adds an ISO 8601 duration ("P1Y2M3DT4H5M6.5S", "-P9D",
// "PT1H", "P2W") to t. Years and months move the calendar as .NET's
// AddYears/AddMonths do, keeping the day within the month.
func AddDuration(t time.Time, d string) (time.Time, error) {
	bad := fmt.Errorf("'%s' is not an ISO 8601 duration", d)
	sign := 1
	s := d
	if strings.HasPrefix(s, "-") {
		sign, s = -1, s[1:]
	} else if strings.HasPrefix(s, "+") {
		s = s[1:]
	}
	if len(s) < 2 || (s[0] != 'P' && s[0] != 'p') {
		return t, bad
	}
	s = s[1:]
	var years, months, days int
	var clock time.Duration
	inTime := false
	seen := false
	for len(s) > 0 {
		if s[0] == 'T' || s[0] == 't' {
			if inTime {
				return t, bad
			}
			inTime = true
			s = s[1:]
			if s == "" {
				return t, bad
			}
			continue
		}
		k := 0
		for k < len(s) && (s[k] >= '0' && s[k] <= '9' || s[k] == '.' || s[k] == ',') {
			k++
		}
		if k == 0 || k == len(s) {
			return t, bad
		}
		num := strings.Replace(s[:k], ",", ".", 1)
		unit := s[k] | 0x20
		s = s[k+1:]
		seen = true
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || f > 1e9 {
			return t, bad
		}
		whole := int(f)
		if !inTime {
			if f != float64(whole) {
				return t, bad
			}
			switch unit {
			case 'y':
				years += whole
			case 'm':
				months += whole
			case 'w':
				days += 7 * whole
			case 'd':
				days += whole
			default:
				return t, bad
			}
			continue
		}
		switch unit {
		case 'h':
			clock += time.Duration(f * float64(time.Hour))
		case 'm':
			clock += time.Duration(f * float64(time.Minute))
		case 's':
			clock += time.Duration(f * float64(time.Second))
		default:
			return t, bad
		}
	}
	if !seen {
		return t, bad
	}
	t = addMonths(t, sign*(12*years+months))
	t = t.AddDate(0, 0, sign*days)
	return t.Add(time.Duration(sign) * clock), nil
}

func addMonths(t time.Time, n int) time.Time {
	if n == 0 {
		return t
	}
	y, m, d := t.Date()
	total := int(m) - 1 + n
	y += total / 12
	total %= 12
	if total < 0 {
		total += 12
		y--
	}
	month := time.Month(total + 1)
	last := time.Date(y, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
	if d > last {
		d = last
	}
	return time.Date(y, month, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}
