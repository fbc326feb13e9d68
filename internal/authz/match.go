package authz

import "strings"

// Pattern is one compiled entry of a role's actions or notActions:
// "Microsoft.Storage/storageAccounts/read", "*/read", "Microsoft.Network/*",
// "Microsoft.Cost*/*". ARM compares actions case-insensitively, and a "*"
// stands for any run of characters, '/' included, wherever it appears in
// the string (learn.microsoft.com/azure/role-based-access-control/
// role-definitions, "Actions": "The wildcard (*) character extends a
// permission to everything that matches the action string you provide").
type Pattern struct {
	// parts are the lower-cased pieces between the '*'s; a pattern without
	// '*' has one part, "*" alone has two empty ones.
	parts []string
}

// Compile compiles an action pattern.
func Compile(s string) Pattern {
	return Pattern{parts: strings.Split(strings.ToLower(s), "*")}
}

// Match reports whether the lower-cased action a matches p.
func (p Pattern) Match(a string) bool {
	parts := p.parts
	if len(parts) == 1 {
		return a == parts[0]
	}
	first, last := parts[0], parts[len(parts)-1]
	if !strings.HasPrefix(a, first) {
		return false
	}
	a = a[len(first):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(a, mid)
		if i < 0 {
			return false
		}
		a = a[i+len(mid):]
	}
	return strings.HasSuffix(a, last)
}

// Permission is one permission block of a role definition, compiled: an
// action is granted when some Actions pattern matches it and no NotActions
// pattern does (notActions subtract from the block they are written in, not
// from other roles: learn.microsoft.com/azure/role-based-access-control/
// role-definitions, "NotActions").
type Permission struct {
	Actions, NotActions []Pattern
}

// Grants reports whether the block grants the lower-cased action a.
func (p *Permission) Grants(a string) bool {
	granted := false
	for _, x := range p.Actions {
		if x.Match(a) {
			granted = true
			break
		}
	}
	if !granted {
		return false
	}
	for _, x := range p.NotActions {
		if x.Match(a) {
			return false
		}
	}
	return true
}

// CompileAll compiles a list of action patterns.
func CompileAll(ss []string) []Pattern {
	out := make([]Pattern, len(ss))
	for i, s := range ss {
		out[i] = Compile(s)
	}
	return out
}
