package arm

import (
	"strings"
)

// ResourceID is a parsed ARM resource id. Segments keep the casing they were
// written with; comparisons go through Key, which ARM treats case-insensitively.
//
// Shapes:
//
//	/                                              tenant root (all fields empty)
//	/subscriptions/{s}                             a subscription
//	/subscriptions/{s}/resourceGroups/{rg}         a resource group
//	/subscriptions/{s}/providers/{ns}              a provider registration (Namespace set, no Types)
//	{scope}/providers/{ns}/{t1}/{n1}[/{t2}/{n2}…]  a resource under a tenant, subscription or group scope
//	{resource}/providers/{ns}/{t}/{n}              an extension resource (Scope is the resource)
type ResourceID struct {
	// Scope is set for extension resources: the resource they extend.
	Scope         *ResourceID
	Subscription  string
	ResourceGroup string
	Namespace     string
	Types         []string
	Names         []string
}

// Path is a request path split into the resource it names and an optional
// trailing segment: a collection ("…/clusters/c/managedPrivateEndpoints") or an
// action ("…/clusters/c/managedPrivateEndpointsCheckNameAvailability").
type Path struct {
	ID   ResourceID
	Tail string
}

// ParsePath splits an ARM request path. It is purely syntactic: whether the
// tail is a collection or an action is for the caller, who knows the types.
// Keywords (subscriptions, resourceGroups, providers) match case-insensitively.
func ParsePath(p string) (Path, *Error) {
	segs := splitPath(p)
	var out Path
	id := &out.ID
	i := 0
	bad := func() (Path, *Error) {
		return Path{}, Errorf(CodeInvalidResourceID, "The resource path '%s' is not a valid Azure Resource Manager path.", p)
	}
	if len(segs) == 0 {
		return out, nil
	}
	// An empty segment right after a provider namespace is what clients
	// send for a resource with no parent: azure-cli's 'az resource show
	// -n NAME --resource-type NS/TYPE' builds
	// providers/{ns}/{parentResourcePath}/{type}/{name} with an empty
	// parent path, and ARM takes it. Nothing is dropped there, so it goes.
	for i := 2; i < len(segs); i++ {
		if segs[i] == "" && strings.EqualFold(segs[i-2], "providers") && segs[i-1] != "" {
			segs = append(segs[:i:i], segs[i+1:]...)
		}
	}
	// Any other empty segment ("//") would silently drop a subscription,
	// group, namespace or name and leave an id that names something else.
	for _, s := range segs {
		if s == "" {
			return bad()
		}
	}
	if strings.EqualFold(segs[0], "subscriptions") {
		if len(segs) == 1 {
			out.Tail = segs[0]
			return out, nil
		}
		id.Subscription = segs[1]
		i = 2
		if i < len(segs) && strings.EqualFold(segs[i], "resourceGroups") {
			if i+1 >= len(segs) {
				out.Tail = segs[i]
				return out, nil
			}
			id.ResourceGroup = segs[i+1]
			i += 2
		}
	}
	// ARM's older path of deployments and their operations, which the
	// Deployments API still uses for a resource group's deployment
	// operations: /subscriptions/{s}/resourcegroups/{rg}/deployments/{name}/...
	// names what .../providers/Microsoft.Resources/deployments/{name}/... does.
	if id.ResourceGroup != "" && i+1 < len(segs) && strings.EqualFold(segs[i], "deployments") {
		id.Namespace = "Microsoft.Resources"
	}
	for i < len(segs) {
		if !strings.EqualFold(segs[i], "providers") {
			// A trailing non-provider segment directly under a scope:
			// /subscriptions/{s}/resources, /subscriptions/{s}/locations, ...
			if i == len(segs)-1 && id.Namespace == "" {
				out.Tail = segs[i]
				return out, nil
			}
			if id.Namespace == "" {
				return bad()
			}
			// Inside a provider: pairs of type/name, maybe a trailing type.
			if i == len(segs)-1 {
				out.Tail = segs[i]
				return out, nil
			}
			id.Types = append(id.Types, segs[i])
			id.Names = append(id.Names, segs[i+1])
			i += 2
			continue
		}
		// "providers": begins a namespace, possibly an extension of the resource so far.
		if i == len(segs)-1 {
			out.Tail = segs[i]
			return out, nil
		}
		if id.Namespace != "" {
			if len(id.Types) == 0 {
				return bad()
			}
			scope := *id
			*id = ResourceID{Scope: &scope}
		}
		id.Namespace = segs[i+1]
		i += 2
	}
	return out, nil
}

// ParseResourceID parses a full id that must name a resource, not a collection.
func ParseResourceID(s string) (ResourceID, *Error) {
	p, err := ParsePath(s)
	if err != nil {
		return ResourceID{}, err
	}
	if p.Tail != "" || !strings.HasPrefix(s, "/") {
		return ResourceID{}, Errorf(CodeInvalidResourceID, "The resource id '%s' is not a valid Azure Resource Manager resource id.", s)
	}
	return p.ID, nil
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// IsRoot reports whether id is the tenant root.
func (id ResourceID) IsRoot() bool {
	return id.Scope == nil && id.Subscription == "" && id.Namespace == ""
}

// IsSubscription reports whether id names a subscription.
func (id ResourceID) IsSubscription() bool {
	return id.Scope == nil && id.Subscription != "" && id.ResourceGroup == "" && id.Namespace == ""
}

// IsResourceGroup reports whether id names a resource group.
func (id ResourceID) IsResourceGroup() bool {
	return id.Scope == nil && id.ResourceGroup != "" && id.Namespace == ""
}

// IsProvider reports whether id names a provider registration (/subscriptions/{s}/providers/{ns}).
func (id ResourceID) IsProvider() bool {
	return id.Scope == nil && id.Subscription != "" && id.ResourceGroup == "" && id.Namespace != "" && len(id.Types) == 0
}

// Root returns the outermost scope of an extension chain (id itself when it is no extension).
func (id ResourceID) Root() ResourceID {
	for id.Scope != nil {
		id = *id.Scope
	}
	return id
}

// SubscriptionID returns the subscription the id lives in, following extension scopes.
func (id ResourceID) SubscriptionID() string { return id.Root().Subscription }

// ResourceGroupName returns the resource group the id lives in, following extension scopes.
func (id ResourceID) ResourceGroupName() string { return id.Root().ResourceGroup }

// Type is the full resource type: "Microsoft.Kusto/clusters/managedPrivateEndpoints",
// or Microsoft.Resources/{subscriptions,resourceGroups,providers} for ARM's own.
func (id ResourceID) Type() string {
	switch {
	case id.IsSubscription():
		return "Microsoft.Resources/subscriptions"
	case id.IsResourceGroup():
		return "Microsoft.Resources/resourceGroups"
	case id.IsProvider():
		return "Microsoft.Resources/providers"
	case id.Namespace == "":
		return ""
	}
	return id.Namespace + "/" + strings.Join(id.Types, "/")
}

// TypeKey is the lower-cased Type, for lookups.
func (id ResourceID) TypeKey() string { return strings.ToLower(id.Type()) }

// Name is the last name segment.
func (id ResourceID) Name() string {
	switch {
	case len(id.Names) > 0:
		return id.Names[len(id.Names)-1]
	case id.IsProvider():
		return id.Namespace
	case id.ResourceGroup != "":
		return id.ResourceGroup
	}
	return id.Subscription
}

// Parent is the id one level up: the parent resource of a child, the scope of
// a top-level resource, the subscription of a group.
func (id ResourceID) Parent() ResourceID {
	switch {
	case len(id.Types) > 1:
		p := id
		p.Types = id.Types[: len(id.Types)-1 : len(id.Types)-1]
		p.Names = id.Names[: len(id.Names)-1 : len(id.Names)-1]
		return p
	case len(id.Types) == 1 && id.Scope != nil:
		return *id.Scope
	case len(id.Types) == 1 || id.IsProvider():
		return ResourceID{Subscription: id.Subscription, ResourceGroup: id.ResourceGroup}
	case id.IsResourceGroup():
		return ResourceID{Subscription: id.Subscription}
	}
	return ResourceID{}
}

// Child returns the id of a child resource of this one. For a scope (tenant,
// subscription or group) the namespace must be given in typ ("Microsoft.Kusto/clusters").
func (id ResourceID) Child(typ, name string) ResourceID {
	c := id
	if len(id.Types) == 0 && !id.IsProvider() {
		ns, rest, _ := strings.Cut(typ, "/")
		c.Namespace, typ = ns, rest
	}
	c.Types = append(append([]string(nil), id.Types...), typ)
	c.Names = append(append([]string(nil), id.Names...), name)
	return c
}

// String formats the id with ARM's canonical keywords.
func (id ResourceID) String() string {
	var b strings.Builder
	b.Grow(id.size())
	id.write(&b, false)
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// size is the length of String, to size its buffer once.
func (id ResourceID) size() int {
	n := 0
	if id.Scope != nil {
		n += id.Scope.size()
	} else {
		n += len("/subscriptions/") + len(id.Subscription) + len("/resourceGroups/") + len(id.ResourceGroup)
	}
	n += len("/providers/") + len(id.Namespace)
	for i, t := range id.Types {
		n += len(t) + len(id.Names[i]) + 2
	}
	return n
}

func (id ResourceID) write(b *strings.Builder, lower bool) {
	if id.Scope != nil {
		id.Scope.write(b, lower)
	} else {
		if id.Subscription != "" {
			b.WriteString("/subscriptions/")
			put(b, id.Subscription, lower)
		}
		if id.ResourceGroup != "" {
			put(b, "/resourceGroups/", lower)
			put(b, id.ResourceGroup, lower)
		}
	}
	if id.Namespace != "" {
		b.WriteString("/providers/")
		put(b, id.Namespace, lower)
	}
	for i, t := range id.Types {
		b.WriteByte('/')
		put(b, t, lower)
		b.WriteByte('/')
		put(b, id.Names[i], lower)
	}
}

// put writes s to b, its ASCII letters lower-cased if lower.
func put(b *strings.Builder, s string, lower bool) {
	if !lower {
		b.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
}

// Key is the case-insensitive identity of the id: its lower-cased String
// (strings.ToLower's). It is built lower-cased in one allocation rather
// than as String and then ToLower's copy: keys are made on every read and
// write of a record (a durable create makes dozens).
func (id ResourceID) Key() string {
	var b strings.Builder
	b.Grow(id.size())
	id.write(&b, true)
	if b.Len() == 0 {
		return "/"
	}
	k := b.String()
	for i := 0; i < len(k); i++ {
		if k[i] >= 0x80 {
			return strings.ToLower(k) // Unicode letters: ToLower's rules
		}
	}
	return k
}

// Equal reports whether two ids name the same resource.
func (id ResourceID) Equal(o ResourceID) bool { return id.Key() == o.Key() }

// WithTypes returns a copy of id whose type segments are spelled as given (same
// count), for RPs that answer with their own casing ("Clusters" for "clusters").
func (id ResourceID) WithTypes(ns string, types []string) ResourceID {
	c := id
	if ns != "" {
		c.Namespace = ns
	}
	c.Types = append([]string(nil), types...)
	return c
}

// ValidSubscriptionID reports whether s is a well-formed subscription id: a
// GUID written as 32 hexadecimal digits in groups of 8-4-4-4-12, in either
// case. (.NET's Guid parser also reads other spellings, such as 32 digits
// without hyphens or braces around them; no client writes those in a path,
// and privlink's subscriptions are stored in this form, so only it is read.)
func ValidSubscriptionID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// CheckSubscriptionID returns ARM's error for a malformed subscription id
// (400 InvalidSubscriptionId), which ARM gives before looking anything up:
// such a subscription cannot exist, so "not found" would mislead.
func CheckSubscriptionID(s string) *Error {
	if ValidSubscriptionID(s) {
		return nil
	}
	return Errorf(CodeInvalidSubscriptionID, "The provided subscription identifier '%s' is malformed or invalid.", s)
}

// KeyOf lower-cases an id string for lookups.
func KeyOf(id string) string { return strings.ToLower(id) }
