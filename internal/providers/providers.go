// Package providers wires every resource provider's rules into an engine.
package providers

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/authz"
	"github.com/privlink/privlink/internal/providers/authorization"
	"github.com/privlink/privlink/internal/providers/devices"
	"github.com/privlink/privlink/internal/providers/digitaltwins"
	"github.com/privlink/privlink/internal/providers/eventhub"
	"github.com/privlink/privlink/internal/providers/generic"
	"github.com/privlink/privlink/internal/providers/keyvault"
	"github.com/privlink/privlink/internal/providers/kusto"
	"github.com/privlink/privlink/internal/providers/managedidentity"
	"github.com/privlink/privlink/internal/providers/network"
	"github.com/privlink/privlink/internal/providers/privatelink"
	"github.com/privlink/privlink/internal/providers/resources"
	"github.com/privlink/privlink/internal/providers/sql"
	"github.com/privlink/privlink/internal/providers/storage"
	"github.com/privlink/privlink/internal/resource"
)

// Providers are the registered providers that the rest of the server
// reaches into.
type Providers struct {
	// Links is the private link target registry.
	Links *privatelink.Registry
	// Authorization serves role assignments and definitions.
	Authorization *authorization.Provider
}

// Register adds all of privlink's types to e: role assignments and
// definitions over rbac (nil: a fresh index over e's store, for tests and
// tools that do not enforce access control).
func Register(e *resource.Engine, rbac *authz.RBAC) *Providers {
	if rbac == nil {
		rbac = authz.NewRBAC(e.Store(), authorization.BuiltinRoles())
	}
	az := authorization.Register(e, rbac, e.Config().Logger)
	resources.Register(e, az.GrantCreator)
	reg := privatelink.NewRegistry()
	storage.Register(e, reg)
	eventhub.Register(e, reg)
	devices.Register(e, reg)
	keyvault.Register(e, reg)
	sql.Register(e, reg)
	digitaltwins.Register(e, reg)
	kusto.Register(e, reg)
	managedidentity.Register(e)
	network.Register(e, reg)
	// Every served RP namespace gets its operation status URLs and its
	// operations list. Namespaces served only generically have no
	// long-running operations, so they need neither.
	for _, n := range e.Namespaces() {
		if !n.Served || strings.EqualFold(n.Name, "Microsoft.Resources") || strings.EqualFold(n.Name, "Microsoft.Subscription") || !ownRules(e, n.Name) {
			continue
		}
		versions := apiVersions(e, n.Name)
		e.Register(
			resource.StatusKind(n.Name, "operationStatuses", versions),
			resource.StatusKind(n.Name, "operationResults", versions),
			operationsKind(e, n.Name, versions),
		)
	}
	// Every other type of the catalog, generically.
	generic.Register(e)
	return &Providers{Links: reg, Authorization: az}
}

// ownRules reports whether privlink has rules of its own for a type of ns.
func ownRules(e *resource.Engine, ns string) bool {
	for _, k := range e.Kinds(ns) {
		if !k.Generic {
			return true
		}
	}
	return false
}

// apiVersions is the union of a namespace's kinds' api-versions, oldest first.
func apiVersions(e *resource.Engine, ns string) []string {
	var out []string
	for _, k := range e.Kinds(ns) {
		out = append(out, k.APIVersions...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

type operation struct {
	Name         string  `json:"name"`
	IsDataAction bool    `json:"isDataAction"`
	Display      display `json:"display"`
	Origin       string  `json:"origin"`
}

type display struct {
	Provider    string `json:"provider"`
	Resource    string `json:"resource"`
	Operation   string `json:"operation"`
	Description string `json:"description"`
}

// operationsKind is GET /providers/{ns}/operations: the actions of the namespace's types.
func operationsKind(e *resource.Engine, ns string, versions []string) *resource.Kind {
	k := &resource.Kind{Type: ns + "/operations", APIVersions: versions, Scope: resource.ScopeTenant, ReadOnly: true}
	k.Handle = map[string]func(context.Context, *resource.Engine, *resource.Request) (*resource.Response, error){
		http.MethodGet + " list": func(ctx context.Context, e *resource.Engine, r *resource.Request) (*resource.Response, error) {
			// Every principal of the tenant may list what a provider's
			// operations are, as in Azure.
			var ops []operation
			provider := "Microsoft " + strings.TrimPrefix(ns, "Microsoft.")
			for _, kk := range e.Kinds(ns) {
				if kk.Handle != nil {
					continue
				}
				_, rest, _ := strings.Cut(kk.Type, "/")
				res := rest[strings.LastIndexByte(rest, '/')+1:]
				verbs := []string{"read"}
				if !kk.ReadOnly {
					verbs = append(verbs, "write", "delete")
				}
				for _, v := range verbs {
					ops = append(ops, operation{Name: kk.Type + "/" + v, Display: display{Provider: provider, Resource: res, Operation: v + " " + res, Description: strings.ToUpper(v[:1]) + v[1:] + " " + res + "."}, Origin: "user,system"})
				}
				for _, a := range sortedKeys(kk.Actions) {
					ops = append(ops, operation{Name: kk.Type + "/" + a + "/action", Display: display{Provider: provider, Resource: res, Operation: a, Description: a + " on " + res + "."}, Origin: "user,system"})
				}
			}
			b, _ := arm.Marshal(map[string]any{"value": ops})
			return &resource.Response{Status: http.StatusOK, Body: b, Header: http.Header{}}, nil
		},
	}
	return k
}

func sortedKeys(m map[string]resource.Action) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
