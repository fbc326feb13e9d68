// Package generic serves every resource type of the catalog that privlink
// has no rules of its own for (virtual networks, Kusto databases, role
// assignments, ... about 3,400 types) with ARM's generic semantics: what was
// sent is echoed, provisioningState is Succeeded at once, identities get
// their ids, children need their parent, and deletes cascade.
package generic

import (
	"strings"

	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/resource"
)

// Register adds a generic kind for every catalog type that e has no kind
// for yet, and returns how many it added. Call it after every provider has
// registered its own kinds; a kind registered later replaces the generic one.
func Register(e *resource.Engine) int {
	var kinds []*resource.Kind
	for _, t := range catalog.All() {
		if e.Kind(t) != nil {
			continue
		}
		if k := Kind(t); k != nil {
			kinds = append(kinds, k)
		}
	}
	e.Register(kinds...)
	return len(kinds)
}

// Kind returns the generic kind of a catalog type, or nil when the catalog
// does not list it. Providers that give a type a few rules of their own (a
// listKeys action, a read-only value) start from it.
//
// The kind's shape follows the catalog (scopes.txt, from Azure's specs as
// bicep-types-az compiles them):
//
//   - scopes: where the specs say the type lives; a type they give no
//     scopes takes its nearest parent's, else a resource group.
//   - location: a type whose body declares a writable location carries one.
//     It is required (Tracked) when the specs mark it required, and also
//     for top-level resource-group types that are no extension types: ARM
//     requires a location of every tracked resource in a group, and some
//     specs leave it optional where the service refuses its absence
//     (Microsoft.Network: Azure/azure-rest-api-specs#16265, Azure/bicep#12046,
//     "LocationRequired: The location property is required for this
//     definition."). Elsewhere it is optional (child types such as private
//     DNS zones' virtualNetworkLinks, subscription and extension types
//     such as policy assignments). A read-only location is the parent's
//     (Event Hubs' hubs show their namespace's), and types with none are
//     proxy resources: a location sent is dropped.
//   - types that no api-version lets be written (privateLinkResources
//     lists and the like) are read-only.
//   - creates answer 200, not 201: the specs of several such types declare
//     only 200 for PUT, and their SDKs refuse any status not declared
//     (armeventhub v1.3's EventHubsClient.CreateOrUpdate and
//     ConsumerGroupsClient.CreateOrUpdate accept 200 alone), while every
//     client of every type accepts 200, the answer to an update.
//   - no ETag, synchronous writes and deletes, PATCH merges (RFC 7396).
func Kind(typ string) *resource.Kind {
	name, ok := catalog.Name(typ)
	if !ok {
		return nil
	}
	shape, known := catalog.ShapeOf(name)
	child := strings.Count(name, "/") > 1
	if !known {
		// Only the SDKs name it: a proxy resource where its parent lives,
		// or a tracked top-level type in a resource group.
		shape = catalog.Shape{Writable: true, Location: catalog.LocationNone}
		if !child {
			shape.Location = catalog.LocationRequired
		}
	}
	k := &resource.Kind{
		Type:          name,
		APIVersions:   catalog.Versions(name),
		Scopes:        scopesOf(name, shape),
		Generic:       true,
		Pageable:      false,
		Patchable:     true,
		ReadOnly:      !shape.Writable,
		CreatedStatus: 200,
		Build:         build(shape.Location == catalog.LocationReadOnly),
		BeforeDelete:  ReleaseIdentity,
	}
	switch shape.Location {
	case catalog.LocationRequired:
		k.Tracked = true
	case catalog.LocationOptional:
		k.OptionalLocation = true
		if !child && k.Scopes&resource.InResourceGroup != 0 && k.Scopes&resource.InExtension == 0 {
			k.OptionalLocation, k.Tracked = false, true
		}
	}
	return k
}

// scopesOf is where a type lives: the specs' scopes, else its nearest
// parent's, else a resource group.
func scopesOf(typ string, shape catalog.Shape) resource.Scopes {
	for t, s := typ, shape; ; {
		if s.Scopes != 0 {
			return resource.Scopes(s.Scopes)
		}
		i := strings.LastIndexByte(t, '/')
		if i < 0 || !strings.Contains(t[:i], "/") {
			return resource.InResourceGroup
		}
		t = t[:i]
		s, _ = catalog.ShapeOf(t)
	}
}

// build is the generic rule of a PUT or merged PATCH: the engine has copied
// what was sent; identities get their ids, and a read-only location is the
// parent's.
func build(parentLocation bool) func(c *resource.Ctx, w *resource.Write) error {
	return func(c *resource.Ctx, w *resource.Write) error {
		if parentLocation && w.Parent != nil {
			if l := w.Parent.Str("location"); l != "" {
				w.Doc.Obj.SetValue("location", l)
			}
		}
		return Identity(c, w)
	}
}
