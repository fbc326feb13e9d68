package arm

import (
	"regexp"
	"strings"
)

// The OData $filter forms that ARM's lists and Microsoft Graph take from
// Azure's clients: terms joined with "and", most of them `name eq 'value'`
// (a quote inside the value doubled, as OData writes it).

var (
	filterAnd = regexp.MustCompile(`(?i)\s+and\s+`)
	filterEq  = regexp.MustCompile(`(?i)^(\w+)\s+eq\s+'((?:[^']|'')*)'$`)
)

// FilterTerms splits a $filter on "and" outside quoted values (a value may
// hold " and "), each term trimmed, empty ones dropped.
func FilterTerms(f string) []string {
	var out []string
	add := func(t string) {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	start := 0
	for _, loc := range filterAnd.FindAllStringIndex(f, -1) {
		if loc[0] >= start && strings.Count(f[start:loc[0]], "'")%2 == 0 {
			add(f[start:loc[0]])
			start = loc[1]
		}
	}
	add(f[start:])
	return out
}

// FilterEq reads a term `name eq 'value'` (name matched as written; a
// doubled quote in the value is one quote); ok is false for any other term.
func FilterEq(term string) (name, value string, ok bool) {
	m := filterEq.FindStringSubmatch(strings.TrimSpace(term))
	if m == nil {
		return "", "", false
	}
	return m[1], Unquote(m[2]), true
}

// Unquote is an OData string literal's value: a doubled quote is one.
func Unquote(v string) string { return strings.ReplaceAll(v, "''", "'") }
