package catalog

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
)

// The catalog is four generated files of one format, a line per type,
//
//	Microsoft.Storage/storageAccounts<TAB>2015-05-01-preview,2015-06-15,...,2026-04-01
//
// types sorted case-insensitively, api-versions oldest first, '#' lines
// being comments (their headers name the sources they were read from):
//
//   - specs.txt: every type of Azure's REST API specifications at every
//     api-version they publish, previews included, as Azure/bicep-types-az
//     compiles them (about 3,400 types in 280 namespaces);
//   - restspecs.txt: the types that the PUT operations of the specs'
//     resource-manager OpenAPI documents create, at their version folder's
//     api-version, read from Azure/azure-rest-api-specs itself: documents
//     that no readme tag names, and so bicep-types-az leaves out, included
//     (Microsoft.Authorization/roleAssignments at 2021-04-01-preview);
//   - sdks.txt: the types that Azure's JavaScript management SDKs
//     (@azure/arm-*, newest releases of the last three majors) address for
//     the namespaces privlink serves, with the api-versions they call, which
//     run ahead of the specs digest;
//   - templates.txt: the type and api-version of every resource that
//     Microsoft's quickstart ARM templates (Azure/azure-quickstart-templates)
//     deploy, pairs that ARM accepted in that repository's tests.
//
// The catalog is their union. All are rebuilt by ./gen (see README.md):
//
//go:generate go run ./gen -specs specs.txt -scopes scopes.txt -sdks sdks.txt -bicep=${BICEP_TYPES_AZ} -restspecs restspecs.txt -specsrepo=${AZURE_REST_API_SPECS} -templates templates.txt -quickstarts=${AZURE_QUICKSTART_TEMPLATES}

//go:embed specs.txt
var specsData string

//go:embed restspecs.txt
var restSpecsData string

//go:embed sdks.txt
var sdksData string

//go:embed templates.txt
var templatesData string

// scopes.txt says where each type of specs.txt lives and whether it carries
// a location (see Shape).
//
//go:embed scopes.txt
var scopesData string

// entry is one type: its spelling and its api-versions, oldest first.
type entry struct {
	name     string
	versions []string
}

// index is the parsed catalog.
type index struct {
	types      map[string]*entry   // by lower-cased type
	shapes     map[string]Shape    // by lower-cased type
	namespaces map[string][]string // lower-cased namespace -> type names, sorted
	nsNames    []string            // namespaces, spelled as most of their types spell them
}

// data is parsed once, at start-up, so that a malformed data file stops
// the program at once rather than in the middle of a request.
// The specs come first, so that a type is spelled as Azure's specifications
// spell it.
var data = mustParse(map[string]string{
	"specs.txt":     specsData,
	"restspecs.txt": restSpecsData,
	"sdks.txt":      sdksData,
	"templates.txt": templatesData,
	"scopes.txt":    scopesData,
}, "specs.txt", "restspecs.txt", "sdks.txt", "templates.txt")

// mustParse merges the files named in order (the first spelling of a type
// wins) and panics on a malformed line.
func mustParse(files map[string]string, order ...string) *index {
	ix, err := parse(files, order...)
	if err != nil {
		panic("catalog: " + err.Error())
	}
	return ix
}

func parse(files map[string]string, order ...string) (*index, error) {
	ix := &index{types: map[string]*entry{}, namespaces: map[string][]string{}}
	for _, name := range order {
		for n, line := range strings.Split(files[name], "\n") {
			if line == "" || line[0] == '#' {
				continue
			}
			typ, list, ok := strings.Cut(line, "\t")
			ns, _, nested := strings.Cut(typ, "/")
			if !ok || !nested || ns == "" || list == "" {
				return nil, fmt.Errorf("%s:%d: want Namespace/type<TAB>versions, have %q", name, n+1, line)
			}
			key := strings.ToLower(typ)
			e := ix.types[key]
			if e == nil {
				e = &entry{name: typ}
				ix.types[key] = e
				ix.namespaces[strings.ToLower(ns)] = append(ix.namespaces[strings.ToLower(ns)], typ)
			}
			e.versions = append(e.versions, strings.Split(list, ",")...)
		}
	}
	for _, e := range ix.types {
		slices.Sort(e.versions)
		e.versions = slices.Compact(e.versions)
	}
	for _, names := range ix.namespaces {
		slices.SortFunc(names, compareFold)
		// A few namespaces are spelled differently by some of their types
		// ("microsoft.insights/..."): the spelling of most wins.
		count := map[string]int{}
		for _, n := range names {
			ns, _, _ := strings.Cut(n, "/")
			count[ns]++
		}
		best := ""
		for ns, c := range count {
			if best == "" || c > count[best] || (c == count[best] && ns < best) {
				best = ns
			}
		}
		ix.nsNames = append(ix.nsNames, best)
	}
	slices.SortFunc(ix.nsNames, compareFold)
	shapes, err := parseShapes(files["scopes.txt"])
	if err != nil {
		return nil, err
	}
	ix.shapes = shapes
	return ix, nil
}

// Scopes is a set of the places a resource type lives, with the bits of
// bicep's ScopeType (which scopes.txt is read from).
type Scopes uint8

// The scopes.
const (
	Tenant          Scopes = 1 << iota // /providers/{ns}/{type}/{name}
	ManagementGroup                    // below /providers/Microsoft.Management/managementGroups/{mg}
	Subscription                       // /subscriptions/{s}/providers/...
	ResourceGroup                      // /subscriptions/{s}/resourceGroups/{g}/providers/...
	Extension                          // {any resource id}/providers/{ns}/{type}/{name}
)

// Location says what a type's body declares of a location.
type Location string

// Locations, as scopes.txt names them.
const (
	LocationNone     Location = "none"
	LocationOptional Location = "optional"
	LocationRequired Location = "required"
	LocationReadOnly Location = "readonly"
)

// Shape is what the specs say of a type beyond its api-versions: where it
// lives, whether it can be written, and its location.
type Shape struct {
	// Scopes is where the type may be read or written, in any api-version;
	// 0 when the specs do not say.
	Scopes Scopes
	// Writable reports whether some api-version lets the type be written.
	Writable bool
	// Location is what the newest api-version declares of the body's location.
	Location Location
}

// ShapeOf returns the shape of a type (matched case-insensitively) and
// whether the catalog knows it; types that bicep-types-az does not compile
// (those that only the other sources name) have none.
func ShapeOf(resourceType string) (Shape, bool) {
	s, ok := data.shapes[strings.ToLower(resourceType)]
	return s, ok
}

func parseShapes(file string) (map[string]Shape, error) {
	out := map[string]Shape{}
	for n, line := range strings.Split(file, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("scopes.txt:%d: want type<TAB>scopes<TAB>access<TAB>location, have %q", n+1, line)
		}
		var s Shape
		for _, c := range f[1] {
			i := strings.IndexRune("TMSGE", c)
			if i < 0 && c != '-' {
				return nil, fmt.Errorf("scopes.txt:%d: unknown scope %q", n+1, c)
			}
			if i >= 0 {
				s.Scopes |= 1 << i
			}
		}
		s.Writable = f[2] == "rw"
		s.Location = Location(f[3])
		switch s.Location {
		case LocationNone, LocationOptional, LocationRequired, LocationReadOnly:
		default:
			return nil, fmt.Errorf("scopes.txt:%d: unknown location %q", n+1, f[3])
		}
		out[strings.ToLower(f[0])] = s
	}
	return out, nil
}

// All returns every type of the catalog, spelled as the catalog spells it,
// sorted case-insensitively.
func All() []string {
	keys := make([]string, 0, len(data.types))
	for k := range data.types {
		keys = append(keys, k)
	}
	// The keys are lower case already: sorting them is the case-insensitive
	// order without lower-casing at every comparison.
	slices.Sort(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = data.types[k].name
	}
	return out
}

func compareFold(a, b string) int {
	if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// Versions returns the api-versions of a resource type such as
// "Microsoft.Storage/storageAccounts" or "microsoft.kusto/clusters/managedPrivateEndpoints"
// (matched case-insensitively, as ARM does), oldest first, or nil when the
// catalog does not list the type. The slice is the caller's.
func Versions(resourceType string) []string {
	if e := data.types[strings.ToLower(resourceType)]; e != nil {
		return slices.Clone(e.versions)
	}
	return nil
}

// Has reports whether the catalog lists version for resourceType, both
// matched case-insensitively (the catalog's versions are lower case).
func Has(resourceType, version string) bool {
	e := data.types[strings.ToLower(resourceType)]
	if e == nil {
		return false
	}
	_, found := slices.BinarySearch(e.versions, strings.ToLower(version))
	return found
}

// Name returns the catalog's spelling of resourceType (that of Azure's
// specifications: "Microsoft.Devices/IotHubs" for "microsoft.devices/iothubs"),
// and whether the catalog lists it.
func Name(resourceType string) (string, bool) {
	if e := data.types[strings.ToLower(resourceType)]; e != nil {
		return e.name, true
	}
	return "", false
}

// Types returns the full names of the types of a namespace such as
// "Microsoft.Kusto" (in any case): "Microsoft.Kusto/clusters",
// "Microsoft.Kusto/clusters/databases", ..., sorted case-insensitively, or
// nil for a namespace the catalog does not know.
func Types(namespace string) []string {
	return slices.Clone(data.namespaces[strings.ToLower(namespace)])
}

// Namespaces returns every namespace of the catalog, sorted case-insensitively.
func Namespaces() []string { return slices.Clone(data.nsNames) }

// Accept returns the api-versions a served type accepts: the union of
// known (what privlink accepted before the catalog, kept so that nothing
// that worked stops working) and the catalog's versions of resourceType,
// oldest first. A type the catalog does not list takes the versions of its
// nearest listed parent: child types that Azure serves only as lists, such
// as a storage account's privateLinkResources, are called with their
// parent's api-versions.
func Accept(resourceType string, known ...string) []string {
	out := slices.Clone(known)
	for t := resourceType; ; {
		if e := data.types[strings.ToLower(t)]; e != nil {
			out = append(out, e.versions...)
			break
		}
		i := strings.LastIndexByte(t, '/')
		if i < 0 || !strings.Contains(t[:i], "/") {
			break // the namespace alone is no type
		}
		t = t[:i]
	}
	slices.Sort(out)
	return slices.Compact(out)
}
