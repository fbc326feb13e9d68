package arm_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/arm"
)

const (
	tSub     = "/subscriptions/s1"
	tRG      = tSub + "/resourceGroups/rg1"
	tCluster = tRG + "/providers/Microsoft.Kusto/clusters/c1"
	tDB      = tCluster + "/databases/d1"
	tRA      = tCluster + "/providers/Microsoft.Authorization/roleAssignments/ra1"
)

// Parsed forms of the ids above, written out by hand.
var (
	wantSub     = arm.ResourceID{Subscription: "s1"}
	wantRG      = arm.ResourceID{Subscription: "s1", ResourceGroup: "rg1"}
	wantCluster = arm.ResourceID{Subscription: "s1", ResourceGroup: "rg1", Namespace: "Microsoft.Kusto", Types: []string{"clusters"}, Names: []string{"c1"}}
	wantDB      = arm.ResourceID{Subscription: "s1", ResourceGroup: "rg1", Namespace: "Microsoft.Kusto", Types: []string{"clusters", "databases"}, Names: []string{"c1", "d1"}}
)

func ptr[T any](v T) *T { return &v }

func TestParsePath(t *testing.T) {
	tests := []struct {
		name string
		path string
		want arm.Path
	}{
		{"empty", "", arm.Path{}},
		{"tenant root", "/", arm.Path{}},
		{"subscriptions collection", "/subscriptions", arm.Path{Tail: "subscriptions"}},
		{"tenants collection", "/tenants", arm.Path{Tail: "tenants"}},
		{"subscription", tSub, arm.Path{ID: wantSub}},
		{"subscription trailing slash", tSub + "/", arm.Path{ID: wantSub}},
		{"subscription without leading slash", "subscriptions/s1", arm.Path{ID: wantSub}},
		{"resource groups collection", tSub + "/resourceGroups", arm.Path{ID: wantSub, Tail: "resourceGroups"}},
		{"subscription resources collection", tSub + "/resources", arm.Path{ID: wantSub, Tail: "resources"}},
		{"subscription locations collection", tSub + "/locations", arm.Path{ID: wantSub, Tail: "locations"}},
		{"providers collection", tSub + "/providers", arm.Path{ID: wantSub, Tail: "providers"}},
		{"resource group", tRG, arm.Path{ID: wantRG}},
		{"resource group trailing slashes", tRG + "//", arm.Path{ID: wantRG}},
		{"resource group resources collection", tRG + "/resources", arm.Path{ID: wantRG, Tail: "resources"}},
		{"resource group providers tail", tRG + "/providers", arm.Path{ID: wantRG, Tail: "providers"}},
		{
			"provider registration", tSub + "/providers/Microsoft.Kusto",
			arm.Path{ID: arm.ResourceID{Subscription: "s1", Namespace: "Microsoft.Kusto"}},
		},
		{
			"provider register action", tSub + "/providers/Microsoft.Kusto/register",
			arm.Path{ID: arm.ResourceID{Subscription: "s1", Namespace: "Microsoft.Kusto"}, Tail: "register"},
		},
		{
			"subscription-level provider resource", tSub + "/providers/Microsoft.Kusto/locations/westus/operationResults/op1",
			arm.Path{ID: arm.ResourceID{Subscription: "s1", Namespace: "Microsoft.Kusto", Types: []string{"locations", "operationResults"}, Names: []string{"westus", "op1"}}},
		},
		{
			"tenant-level resource", "/providers/Microsoft.Subscription/aliases/x",
			arm.Path{ID: arm.ResourceID{Namespace: "Microsoft.Subscription", Types: []string{"aliases"}, Names: []string{"x"}}},
		},
		{
			"tenant-level collection", "/providers/Microsoft.Kusto/operations",
			arm.Path{ID: arm.ResourceID{Namespace: "Microsoft.Kusto"}, Tail: "operations"},
		},
		{
			"tenant-level namespace", "/providers/Microsoft.Kusto",
			arm.Path{ID: arm.ResourceID{Namespace: "Microsoft.Kusto"}},
		},
		{
			"top-level collection", tRG + "/providers/Microsoft.Kusto/clusters",
			arm.Path{ID: arm.ResourceID{Subscription: "s1", ResourceGroup: "rg1", Namespace: "Microsoft.Kusto"}, Tail: "clusters"},
		},
		{"top-level resource", tCluster, arm.Path{ID: wantCluster}},
		// azure-cli's az resource show -n c1 --resource-type Microsoft.Kusto/clusters.
		{"top-level resource, empty parent path", tRG + "/providers/Microsoft.Kusto//clusters/c1", arm.Path{ID: wantCluster}},
		{"nested child resource", tDB, arm.Path{ID: wantDB}},
		{
			"deeply nested child", tDB + "/principalAssignments/p1",
			arm.Path{ID: arm.ResourceID{Subscription: "s1", ResourceGroup: "rg1", Namespace: "Microsoft.Kusto",
				Types: []string{"clusters", "databases", "principalAssignments"}, Names: []string{"c1", "d1", "p1"}}},
		},
		{"child collection tail", tCluster + "/managedPrivateEndpoints", arm.Path{ID: wantCluster, Tail: "managedPrivateEndpoints"}},
		{"action tail", tCluster + "/managedPrivateEndpointsCheckNameAvailability", arm.Path{ID: wantCluster, Tail: "managedPrivateEndpointsCheckNameAvailability"}},
		{"nested action tail", tDB + "/listPrincipals", arm.Path{ID: wantDB, Tail: "listPrincipals"}},
		{
			"case-insensitive keywords", "/Subscriptions/s1/RESOURCEGROUPS/rg1/Providers/Microsoft.Kusto/clusters/c1",
			arm.Path{ID: wantCluster},
		},
		{
			"keyword casing preserved in names", "/subscriptions/S1/resourcegroups/RG1/providers/MICROSOFT.KUSTO/Clusters/C1",
			arm.Path{ID: arm.ResourceID{Subscription: "S1", ResourceGroup: "RG1", Namespace: "MICROSOFT.KUSTO", Types: []string{"Clusters"}, Names: []string{"C1"}}},
		},
		{
			"extension resource", tRA,
			arm.Path{ID: arm.ResourceID{Scope: ptr(wantCluster), Namespace: "Microsoft.Authorization", Types: []string{"roleAssignments"}, Names: []string{"ra1"}}},
		},
		{
			"extension resource, keyword upper-case", tCluster + "/PROVIDERS/Microsoft.Authorization/roleAssignments/ra1",
			arm.Path{ID: arm.ResourceID{Scope: ptr(wantCluster), Namespace: "Microsoft.Authorization", Types: []string{"roleAssignments"}, Names: []string{"ra1"}}},
		},
		{
			"extension collection", tCluster + "/providers/Microsoft.Authorization/roleAssignments",
			arm.Path{ID: arm.ResourceID{Scope: ptr(wantCluster), Namespace: "Microsoft.Authorization"}, Tail: "roleAssignments"},
		},
		{
			"extension of a child resource", tDB + "/providers/Microsoft.Insights/diagnosticSettings/ds",
			arm.Path{ID: arm.ResourceID{Scope: ptr(wantDB), Namespace: "Microsoft.Insights", Types: []string{"diagnosticSettings"}, Names: []string{"ds"}}},
		},
		{
			"extension of an extension", tRA + "/providers/Microsoft.Foo/bars/b1",
			arm.Path{ID: arm.ResourceID{
				Scope:     ptr(arm.ResourceID{Scope: ptr(wantCluster), Namespace: "Microsoft.Authorization", Types: []string{"roleAssignments"}, Names: []string{"ra1"}}),
				Namespace: "Microsoft.Foo", Types: []string{"bars"}, Names: []string{"b1"},
			}},
		},
		{
			// At a group scope an extension type is just a resource of that namespace.
			"role assignment on a resource group", tRG + "/providers/Microsoft.Authorization/roleAssignments/ra1",
			arm.Path{ID: arm.ResourceID{Subscription: "s1", ResourceGroup: "rg1", Namespace: "Microsoft.Authorization", Types: []string{"roleAssignments"}, Names: []string{"ra1"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := arm.ParsePath(tt.path)
			if err != nil {
				t.Fatalf("ParsePath(%q): %v", tt.path, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParsePath(%q)\n got %#v\nwant %#v", tt.path, got, tt.want)
			}
		})
	}
}

func TestParsePathInvalid(t *testing.T) {
	tests := []struct {
		name string
		path string
	}{
		{"unknown root segment", "/foo/bar"},
		{"unknown segment under subscription", tSub + "/foo/bar"},
		{"unknown segment under resource group", tRG + "/foo/bar"},
		{"unknown pair before providers", tRG + "/foo/bar/providers/Microsoft.Kusto/clusters/c1"},
		{"providers right after a namespace", tSub + "/providers/Microsoft.Kusto/providers/Microsoft.Authorization/roleAssignments/x"},
		{"tenant providers right after a namespace", "/providers/Microsoft.Kusto/providers/Microsoft.Foo/bars/b"},
		{"empty subscription", "/subscriptions//resourceGroups/rg1"},
		{"empty resource group", tSub + "/resourceGroups//providers/Microsoft.Kusto/clusters/c1"},
		{"empty namespace", tRG + "/providers//clusters/c1"},
		{"empty tenant namespace", "/providers//x"},
		{"empty resource name", tRG + "/providers/Microsoft.Kusto/clusters//databases/d1"},
		{"empty segment after subscription", tSub + "//resourceGroups/rg1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := arm.ParsePath(tt.path)
			if err == nil {
				t.Fatalf("ParsePath(%q) = %#v, want error", tt.path, got)
			}
			if got, want := err.Code, arm.CodeInvalidResourceID; got != want {
				t.Fatalf("code = %q, want %q", got, want)
			}
			if got, want := err.HTTPStatus(), http.StatusBadRequest; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			if !strings.Contains(err.Message, tt.path) {
				t.Fatalf("message %q does not name the path %q", err.Message, tt.path)
			}
			if _, err := arm.ParseResourceID(tt.path); err == nil {
				t.Fatalf("ParseResourceID(%q) succeeded, want error", tt.path)
			}
		})
	}
}

func TestParseResourceID(t *testing.T) {
	tests := []struct {
		name    string
		id      string
		wantErr bool
	}{
		{"tenant root", "/", false},
		{"subscription", tSub, false},
		{"resource group", tRG, false},
		{"provider registration", tSub + "/providers/Microsoft.Kusto", false},
		{"tenant-level resource", "/providers/Microsoft.Subscription/aliases/x", false},
		{"subscription-level provider resource", tSub + "/providers/Microsoft.Kusto/locations/westus/operationResults/op1", false},
		{"resource", tCluster, false},
		{"child", tDB, false},
		{"extension", tRA, false},
		{"trailing slash", tCluster + "/", false},
		{"empty", "", true},
		{"no leading slash", "subscriptions/s1", true},
		{"subscriptions collection", "/subscriptions", true},
		{"resource groups collection", tSub + "/resourceGroups", true},
		{"top-level collection", tRG + "/providers/Microsoft.Kusto/clusters", true},
		{"child collection", tCluster + "/databases", true},
		{"action", tCluster + "/managedPrivateEndpointsCheckNameAvailability", true},
		{"tenant-level collection", "/providers/Microsoft.Kusto/operations", true},
		{"extension collection", tCluster + "/providers/Microsoft.Authorization/roleAssignments", true},
		{"garbage", "/not/an/arm/id", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := arm.ParseResourceID(tt.id)
			if got, want := err != nil, tt.wantErr; got != want {
				t.Fatalf("ParseResourceID(%q) error = %v, want error %v", tt.id, err, want)
			}
			if err != nil {
				if got, want := err.Code, arm.CodeInvalidResourceID; got != want {
					t.Fatalf("code = %q, want %q", got, want)
				}
				return
			}
			// The canonical form parses back to the same id.
			again, err := arm.ParseResourceID(id.String())
			if err != nil {
				t.Fatalf("ParseResourceID(%q) (round trip): %v", id.String(), err)
			}
			if !reflect.DeepEqual(again, id) {
				t.Fatalf("round trip of %q\n got %#v\nwant %#v", id.String(), again, id)
			}
		})
	}
}

func TestResourceIDMethods(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		str    string // String
		typ    string // Type
		idName string // Name
		parent string // Parent().String()
		root   string // Root().String()
		sub    string // SubscriptionID
		rg     string // ResourceGroupName
		isRoot bool
		isSub  bool
		isRG   bool
		isProv bool
	}{
		{
			name: "tenant root", in: "/",
			str: "/", typ: "", idName: "", parent: "/", root: "/", isRoot: true,
		},
		{
			name: "subscription", in: "/Subscriptions/S1/",
			str: "/subscriptions/S1", typ: "Microsoft.Resources/subscriptions", idName: "S1", parent: "/", root: "/subscriptions/S1",
			sub: "S1", isSub: true,
		},
		{
			name: "resource group", in: "/SUBSCRIPTIONS/s1/RESOURCEGROUPS/RG1",
			str: "/subscriptions/s1/resourceGroups/RG1", typ: "Microsoft.Resources/resourceGroups", idName: "RG1", parent: "/subscriptions/s1",
			root: "/subscriptions/s1/resourceGroups/RG1", sub: "s1", rg: "RG1", isRG: true,
		},
		{
			name: "provider registration", in: "/subscriptions/s1/Providers/Microsoft.Kusto",
			str: "/subscriptions/s1/providers/Microsoft.Kusto", typ: "Microsoft.Resources/providers", idName: "Microsoft.Kusto", parent: "/subscriptions/s1",
			root: "/subscriptions/s1/providers/Microsoft.Kusto", sub: "s1", isProv: true,
		},
		{
			name: "subscription-level provider resource", in: tSub + "/providers/Microsoft.Kusto/locations/westus/operationResults/op1",
			str: tSub + "/providers/Microsoft.Kusto/locations/westus/operationResults/op1", typ: "Microsoft.Kusto/locations/operationResults", idName: "op1",
			parent: tSub + "/providers/Microsoft.Kusto/locations/westus", root: tSub + "/providers/Microsoft.Kusto/locations/westus/operationResults/op1", sub: "s1",
		},
		{
			name: "subscription-level top-level resource", in: tSub + "/providers/Microsoft.Kusto/locations/westus",
			str: tSub + "/providers/Microsoft.Kusto/locations/westus", typ: "Microsoft.Kusto/locations", idName: "westus",
			parent: tSub, root: tSub + "/providers/Microsoft.Kusto/locations/westus", sub: "s1",
		},
		{
			name: "tenant-level resource", in: "/providers/Microsoft.Subscription/aliases/x",
			str: "/providers/Microsoft.Subscription/aliases/x", typ: "Microsoft.Subscription/aliases", idName: "x", parent: "/",
			root: "/providers/Microsoft.Subscription/aliases/x",
		},
		{
			name: "top-level resource", in: "/subscriptions/s1/resourcegroups/rg1/providers/Microsoft.Kusto/clusters/c1",
			str: tCluster, typ: "Microsoft.Kusto/clusters", idName: "c1", parent: tRG, root: tCluster, sub: "s1", rg: "rg1",
		},
		{
			name: "child resource", in: tDB,
			str: tDB, typ: "Microsoft.Kusto/clusters/databases", idName: "d1", parent: tCluster, root: tDB, sub: "s1", rg: "rg1",
		},
		{
			name: "extension resource", in: tRA,
			str: tRA, typ: "Microsoft.Authorization/roleAssignments", idName: "ra1", parent: tCluster, root: tCluster, sub: "s1", rg: "rg1",
		},
		{
			name: "extension of an extension", in: tRA + "/providers/Microsoft.Foo/bars/b1",
			str: tRA + "/providers/Microsoft.Foo/bars/b1", typ: "Microsoft.Foo/bars", idName: "b1", parent: tRA, root: tCluster, sub: "s1", rg: "rg1",
		},
		{
			name: "child of an extension resource", in: tRA + "/children/k1",
			str: tRA + "/children/k1", typ: "Microsoft.Authorization/roleAssignments/children", idName: "k1", parent: tRA, root: tCluster, sub: "s1", rg: "rg1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := arm.ParseResourceID(tt.in)
			if err != nil {
				t.Fatalf("ParseResourceID(%q): %v", tt.in, err)
			}
			if got, want := id.String(), tt.str; got != want {
				t.Fatalf("String() = %q, want %q", got, want)
			}
			if got, want := id.Key(), strings.ToLower(tt.str); got != want {
				t.Fatalf("Key() = %q, want %q", got, want)
			}
			if got, want := id.Type(), tt.typ; got != want {
				t.Fatalf("Type() = %q, want %q", got, want)
			}
			if got, want := id.TypeKey(), strings.ToLower(tt.typ); got != want {
				t.Fatalf("TypeKey() = %q, want %q", got, want)
			}
			if got, want := id.Name(), tt.idName; got != want {
				t.Fatalf("Name() = %q, want %q", got, want)
			}
			if got, want := id.Parent().String(), tt.parent; got != want {
				t.Fatalf("Parent() = %q, want %q", got, want)
			}
			if got, want := id.Root().String(), tt.root; got != want {
				t.Fatalf("Root() = %q, want %q", got, want)
			}
			if got, want := id.SubscriptionID(), tt.sub; got != want {
				t.Fatalf("SubscriptionID() = %q, want %q", got, want)
			}
			if got, want := id.ResourceGroupName(), tt.rg; got != want {
				t.Fatalf("ResourceGroupName() = %q, want %q", got, want)
			}
			if got, want := id.IsRoot(), tt.isRoot; got != want {
				t.Fatalf("IsRoot() = %v, want %v", got, want)
			}
			if got, want := id.IsSubscription(), tt.isSub; got != want {
				t.Fatalf("IsSubscription() = %v, want %v", got, want)
			}
			if got, want := id.IsResourceGroup(), tt.isRG; got != want {
				t.Fatalf("IsResourceGroup() = %v, want %v", got, want)
			}
			if got, want := id.IsProvider(), tt.isProv; got != want {
				t.Fatalf("IsProvider() = %v, want %v", got, want)
			}
			// Any spelling of the keywords and names names the same resource.
			upper, err := arm.ParseResourceID(strings.ToUpper(tt.in))
			if err != nil {
				t.Fatalf("ParseResourceID(upper-case %q): %v", tt.in, err)
			}
			if !upper.Equal(id) || !id.Equal(upper) {
				t.Fatalf("%q and its upper-case form are not Equal", tt.in)
			}
		})
	}
}

func TestResourceIDParentChain(t *testing.T) {
	id, err := arm.ParseResourceID(tDB + "/providers/Microsoft.Authorization/roleAssignments/ra1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		tDB + "/providers/Microsoft.Authorization/roleAssignments/ra1",
		tDB,
		tCluster,
		tRG,
		tSub,
		"/",
	}
	var got []string
	for i := 0; ; i++ {
		got = append(got, id.String())
		if id.IsRoot() || i > 10 {
			break
		}
		id = id.Parent()
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parent chain\n got %q\nwant %q", got, want)
	}
}

func TestResourceIDChild(t *testing.T) {
	mustParse := func(s string) arm.ResourceID {
		t.Helper()
		id, err := arm.ParseResourceID(s)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	tests := []struct {
		name     string
		parent   string
		typ      string
		child    string
		want     string
		wantType string
		// wantParent is the child's Parent when it is not the receiver.
		wantParent string
	}{
		{"tenant-level resource from root", "/", "Microsoft.Subscription/aliases", "x", "/providers/Microsoft.Subscription/aliases/x", "Microsoft.Subscription/aliases", ""},
		{"subscription-level resource", tSub, "Microsoft.Kusto/locations", "westus", tSub + "/providers/Microsoft.Kusto/locations/westus", "Microsoft.Kusto/locations", ""},
		{"resource in a group", tRG, "Microsoft.Kusto/clusters", "c1", tCluster, "Microsoft.Kusto/clusters", ""},
		{"child of a resource", tCluster, "databases", "d1", tDB, "Microsoft.Kusto/clusters/databases", ""},
		{"grandchild", tDB, "principalAssignments", "p1", tDB + "/principalAssignments/p1", "Microsoft.Kusto/clusters/databases/principalAssignments", ""},
		{"resource of a provider registration", tSub + "/providers/Microsoft.Kusto", "locations", "westus", tSub + "/providers/Microsoft.Kusto/locations/westus", "Microsoft.Kusto/locations", tSub},
		{"child of an extension resource", tRA, "children", "k1", tRA + "/children/k1", "Microsoft.Authorization/roleAssignments/children", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(tt.parent)
			before := p.String()
			c := p.Child(tt.typ, tt.child)
			if got, want := c.String(), tt.want; got != want {
				t.Fatalf("Child(%q, %q) = %q, want %q", tt.typ, tt.child, got, want)
			}
			if got, want := c.Type(), tt.wantType; got != want {
				t.Fatalf("Child type = %q, want %q", got, want)
			}
			if got, want := c.Name(), tt.child; got != want {
				t.Fatalf("Child name = %q, want %q", got, want)
			}
			wantParent := tt.wantParent
			if wantParent == "" {
				wantParent = p.String()
			}
			if got, want := c.Parent().String(), wantParent; got != want {
				t.Fatalf("Child(...).Parent() = %q, want %q", got, want)
			}
			if !reflect.DeepEqual(c, mustParse(tt.want)) {
				t.Fatalf("Child = %#v, parsed %q = %#v", c, tt.want, mustParse(tt.want))
			}
			if got, want := p.String(), before; got != want {
				t.Fatalf("Child changed its receiver: %q, was %q", got, want)
			}
		})
	}
}

// Ids share no backing arrays: deriving one never changes another.
func TestResourceIDNoAliasing(t *testing.T) {
	db, err := arm.ParseResourceID(tDB + "/principalAssignments/p1")
	if err != nil {
		t.Fatal(err)
	}
	want := db.String()

	parent := db.Parent()
	parent.Types = append(parent.Types, "other")
	parent.Names = append(parent.Names, "x")
	if got := db.String(); got != want {
		t.Fatalf("appending to Parent() changed the child: %q, want %q", got, want)
	}

	a := parent.Child("one", "a")
	b := parent.Child("two", "b")
	if got, want := a.Name(), "a"; got != want {
		t.Fatalf("sibling Child changed the first: Name() = %q, want %q", got, want)
	}
	if got, want := a.Type(), "Microsoft.Kusto/clusters/databases/other/one"; got != want {
		t.Fatalf("sibling Child changed the first: Type() = %q, want %q", got, want)
	}
	if got, want := b.Name(), "b"; got != want {
		t.Fatalf("Name() = %q, want %q", got, want)
	}

	types := []string{"Clusters", "Databases", "PrincipalAssignments"}
	w := db.WithTypes("", types)
	types[0] = "mutated"
	if got, want := w.Types[0], "Clusters"; got != want {
		t.Fatalf("WithTypes kept the caller's slice: Types[0] = %q, want %q", got, want)
	}
	if got := db.String(); got != want {
		t.Fatalf("WithTypes changed its receiver: %q, want %q", got, want)
	}
}

func TestResourceIDWithTypes(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		ns    string
		types []string
		want  string
	}{
		{"type casing", tCluster, "", []string{"Clusters"}, tRG + "/providers/Microsoft.Kusto/Clusters/c1"},
		{"namespace and types", "/subscriptions/s1/resourceGroups/rg1/providers/microsoft.kusto/CLUSTERS/c1/DATABASES/d1",
			"Microsoft.Kusto", []string{"Clusters", "Databases"}, tRG + "/providers/Microsoft.Kusto/Clusters/c1/Databases/d1"},
		{"extension keeps its scope", tRA, "", []string{"RoleAssignments"}, tCluster + "/providers/Microsoft.Authorization/RoleAssignments/ra1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := arm.ParseResourceID(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			w := id.WithTypes(tt.ns, tt.types)
			if got, want := w.String(), tt.want; got != want {
				t.Fatalf("WithTypes = %q, want %q", got, want)
			}
			if !w.Equal(id) {
				t.Fatalf("WithTypes changed identity: %q vs %q", w.Key(), id.Key())
			}
			if got, want := id.String(), strings.TrimSuffix(tt.in, "/"); !strings.EqualFold(got, want) {
				t.Fatalf("receiver changed: %q", got)
			}
		})
	}
}

func TestResourceIDEqual(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"same", tCluster, tCluster, true},
		{"different casing", tCluster, strings.ToUpper(tCluster), true},
		{"keyword casing", tCluster, "/Subscriptions/s1/ResourceGroups/rg1/Providers/Microsoft.Kusto/clusters/c1", true},
		{"different name", tCluster, tRG + "/providers/Microsoft.Kusto/clusters/c2", false},
		{"parent and child", tCluster, tDB, false},
		{"resource and its extension", tCluster, tRA, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := arm.ParseResourceID(tt.a)
			if err != nil {
				t.Fatal(err)
			}
			b, err := arm.ParseResourceID(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := a.Equal(b), tt.want; got != want {
				t.Fatalf("Equal(%q, %q) = %v, want %v", tt.a, tt.b, got, want)
			}
		})
	}
}

func TestValidSubscriptionID(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"00000000-0000-4000-8000-000000000002", true},
		{"ABCDEF01-2345-6789-abcd-ef0123456789", true},
		{"", false},
		{"not-a-guid", false},
		{"00000000000040008000000000000002", false},
		{"{00000000-0000-4000-8000-000000000002}", false},
		{"00000000-0000-4000-8000-0000000000021", false},
		{"00000000-0000-4000-8000-00000000000", false},
		{"0000000g-0000-4000-8000-000000000002", false},
		{"00000000_0000-4000-8000-000000000002", false},
		{"000000000-000-4000-8000-000000000002", false},
		{"00000000-0000-4000-8000-00000000000é", false},
	}
	for _, tt := range tests {
		if got := arm.ValidSubscriptionID(tt.in); got != tt.want {
			t.Errorf("ValidSubscriptionID(%q) = %v, want %v", tt.in, got, tt.want)
		}
		aerr := arm.CheckSubscriptionID(tt.in)
		if got := aerr == nil; got != tt.want {
			t.Errorf("CheckSubscriptionID(%q) = %v", tt.in, aerr)
		}
		if aerr != nil && (aerr.Code != arm.CodeInvalidSubscriptionID || aerr.HTTPStatus() != 400 || !strings.Contains(aerr.Message, "'"+tt.in+"' is malformed or invalid")) {
			t.Errorf("CheckSubscriptionID(%q) = %+v", tt.in, aerr)
		}
	}
}

// Key builds the lower-cased id in one pass; it must agree with
// strings.ToLower of String for every id, ASCII or not.
func TestKeyIsLowerString(t *testing.T) {
	for _, s := range []string{
		"/subscriptions/00000000-0000-0000-0000-00000000000A/resourceGroups/RG/providers/Microsoft.Kusto/clusters/C1/managedPrivateEndpoints/MPE",
		"/subscriptions/s/resourceGroups/Ünïcode-RG/providers/Microsoft.Storage/storageAccounts/İstanbul",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kusto/clusters/c/providers/Microsoft.Authorization/roleAssignments/ABC",
		"/subscriptions/S",
	} {
		id, err := arm.ParseResourceID(s)
		if err != nil {
			t.Fatalf("ParseResourceID(%q): %v", s, err)
		}
		if got, want := id.Key(), strings.ToLower(id.String()); got != want {
			t.Errorf("Key() = %q, want %q", got, want)
		}
	}
}
