package resource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/authz"
	"github.com/privlink/privlink/internal/operation"
	"github.com/privlink/privlink/internal/store"
)

// Config tunes an Engine.
type Config struct {
	Now func() time.Time
	// ProvisioningDelay is how long asynchronous operations take.
	ProvisioningDelay time.Duration
	// PageSize bounds pageable lists (default 100).
	PageSize int
	// Authorizer decides every request (default authz.AllowAll).
	Authorizer authz.Authorizer
	Logger     *slog.Logger
	// NewID makes operation ids and other GUIDs (default random UUIDs).
	NewID func() string
}

// Namespace describes a resource provider namespace.
type Namespace struct {
	// Name is the canonical spelling, e.g. "Microsoft.Kusto".
	Name string
	// Builtin namespaces are registered in every subscription from its start.
	Builtin bool
	// Default namespaces are registered in the default subscription.
	Default bool
	// Served namespaces have kinds in privlink; the others are only known,
	// so that subscriptions can register them.
	Served bool
}

// Engine serves ARM requests for all registered kinds.
type Engine struct {
	cfg   Config
	store store.Store
	ops   *operation.Engine
	kinds map[string]*Kind
	// tracked caches TrackedTypes for the kinds registered so far.
	trackedMu  sync.Mutex
	tracked    []string
	trackedN   int
	byNS       map[string][]*Kind // lower-cased namespace -> kinds, sorted by type
	namespaces map[string]*Namespace
	decoded    decodeCache
	// subscriptions are the subscription ids known to exist (lower case).
	// Subscriptions are never deleted, so the set only grows.
	subscriptions sync.Map
	// watchers run after commits (Watch).
	watchers []func(keys []string)
	// steps is the watched transaction of the operation steps being run.
	steps stepWatch
}

// New returns an engine over s; ops runs its long-running operations.
func New(s store.Store, ops *operation.Engine, cfg Config) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 100
	}
	if cfg.Authorizer == nil {
		cfg.Authorizer = authz.AllowAll{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NewID == nil {
		cfg.NewID = func() string { return uuid.NewString() }
	}
	e := &Engine{cfg: cfg, store: s, ops: ops, kinds: map[string]*Kind{}, byNS: map[string][]*Kind{}, namespaces: map[string]*Namespace{}}
	ops.Handle(opProvision, e.runProvision)
	ops.Handle(opDelete, e.runDelete)
	return e
}

// Register adds kinds. It panics on a duplicate: kinds are wired at start-up.
func (e *Engine) Register(kinds ...*Kind) {
	for _, k := range kinds {
		key := arm.KeyOf(k.Type)
		if cur, dup := e.kinds[key]; dup {
			if !cur.Generic || k.Generic {
				panic("resource: kind registered twice: " + k.Type)
			}
			// Rules of its own replace a type's generic kind, whenever
			// they are registered.
			nsKey := arm.KeyOf(cur.Namespace())
			e.byNS[nsKey] = slices.DeleteFunc(e.byNS[nsKey], func(x *Kind) bool { return x == cur })
		}
		if len(k.APIVersions) == 0 {
			panic("resource: kind without api-versions: " + k.Type)
		}
		e.kinds[key] = k
		ns := k.Namespace()
		// Kept sorted as kinds arrive, so that Kinds costs nothing per
		// request (the generic kinds make thousands).
		nsKey := arm.KeyOf(ns)
		list := e.byNS[nsKey]
		i, _ := slices.BinarySearchFunc(list, k.Type, func(a *Kind, t string) int { return strings.Compare(a.Type, t) })
		e.byNS[nsKey] = slices.Insert(list, i, k)
		if n := e.namespaces[arm.KeyOf(ns)]; n != nil {
			n.Served = true
		} else {
			e.namespaces[arm.KeyOf(ns)] = &Namespace{Name: ns, Served: true}
		}
	}
}

// AddNamespaces declares provider namespaces (served or merely known).
func (e *Engine) AddNamespaces(ns ...Namespace) {
	for _, n := range ns {
		key := arm.KeyOf(n.Name)
		if cur := e.namespaces[key]; cur != nil {
			cur.Builtin = cur.Builtin || n.Builtin
			cur.Default = cur.Default || n.Default
			continue
		}
		n := n
		e.namespaces[key] = &n
	}
}

// Namespace returns the namespace record for name, or nil.
func (e *Engine) Namespace(name string) *Namespace { return e.namespaces[arm.KeyOf(name)] }

// Namespaces returns every known namespace, sorted by name.
func (e *Engine) Namespaces() []*Namespace {
	out := make([]*Namespace, 0, len(e.namespaces))
	for _, n := range e.namespaces {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Kinds returns the kinds of a namespace, sorted by type.
func (e *Engine) Kinds(namespace string) []*Kind {
	return slices.Clone(e.byNS[arm.KeyOf(namespace)])
}

// TrackedTypes returns the types, in lower case, of the tracked kinds that
// ARM lists in {scope}/resources (not its own, like resource groups), for a
// store query to pick them from everything else stored in a scope.
func (e *Engine) TrackedTypes() []string {
	e.trackedMu.Lock()
	defer e.trackedMu.Unlock()
	if e.tracked == nil || e.trackedN != len(e.kinds) {
		e.tracked = e.tracked[:0]
		for key, k := range e.kinds {
			if k.Tracked && !k.ARMOwned {
				e.tracked = append(e.tracked, key)
			}
		}
		sort.Strings(e.tracked)
		e.trackedN = len(e.kinds)
	}
	return e.tracked
}

// ParentListedTypes returns the stored types (lower case, sorted) that are
// only ever listed as their parent's children: the child kinds that are not
// tracked (so a scope's resource list never asks for them), not virtual, and
// have no child kinds of their own (so that the key range
// {parent}/{type's last segment}/ holds their records and nothing else). A
// managed private endpoint and a private endpoint connection are such types:
// a store may keep them out of its indexes by parent and by type
// (sqlite.DB.SetParentListed), which halves what a create of an endpoint
// writes into indexes.
func (e *Engine) ParentListedTypes() []string {
	// The types that are some kind's parent type (thousands of kinds: one
	// pass, not one per pair).
	parents := make(map[string]bool, len(e.kinds))
	for key := range e.kinds {
		for i := strings.LastIndexByte(key, '/'); i > 0; i = strings.LastIndexByte(key[:i], '/') {
			parents[key[:i]] = true
		}
	}
	var out []string
	for key, k := range e.kinds {
		if k.isChild() && !k.Tracked && k.Get == nil && k.List == nil && !parents[key] {
			out = append(out, key)
		}
	}
	sort.Strings(out)
	return out
}

// Kind returns the kind registered for a type, or nil.
func (e *Engine) Kind(typ string) *Kind { return e.kinds[arm.KeyOf(typ)] }

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.cfg.Now() }

// NewID returns a new GUID.
func (e *Engine) NewID() string { return e.cfg.NewID() }

// Store is the engine's store.
func (e *Engine) Store() store.Store { return e.store }

// Operations is the engine's operation engine.
func (e *Engine) Operations() *operation.Engine { return e.ops }

// Config returns the engine's configuration.
func (e *Engine) Config() Config { return e.cfg }

// Serve answers one ARM request.
func (e *Engine) Serve(ctx context.Context, r *Request) (*Response, error) {
	id := r.Path.ID
	// ARM resolves a request's subscription before it authorizes anything:
	// an unknown subscription is SubscriptionNotFound (404) for every
	// caller, while a resource group or resource in a subscription the
	// caller may not read is AuthorizationFailed whether it exists or not.
	if sub := id.SubscriptionID(); sub != "" {
		if err := e.knownSubscription(ctx, sub); err != nil {
			return nil, err
		}
	}
	if r.Path.Tail == "" {
		if id.IsRoot() {
			return nil, arm.Errorf(arm.CodePathNotFound, "The requested path '/' is not an Azure Resource Manager resource path.")
		}
		k, err := e.kindFor(id, r)
		if err != nil {
			return nil, err
		}
		if h := k.Handle[r.Method]; h != nil {
			return h(ctx, e, r)
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			return e.get(ctx, k, r)
		case http.MethodPut:
			if k.ReadOnly {
				return nil, methodNotAllowed(r)
			}
			return e.put(ctx, k, r)
		case http.MethodPatch:
			if k.ReadOnly || !k.Patchable {
				return nil, methodNotAllowed(r)
			}
			return e.patch(ctx, k, r)
		case http.MethodDelete:
			if k.ReadOnly {
				return nil, methodNotAllowed(r)
			}
			return e.delete(ctx, k, r)
		}
		return nil, methodNotAllowed(r)
	}
	// A collection of a child (or top-level) type?
	if typ, scope, ok := collectionType(id, r.Path.Tail); ok {
		if k := e.kinds[arm.KeyOf(typ)]; k != nil {
			if err := e.checkAPIVersion(k, r); err != nil {
				return nil, err
			}
			if h := k.Handle[r.Method+" list"]; h != nil {
				return h(ctx, e, r)
			}
			if r.Method != http.MethodGet {
				return nil, methodNotAllowed(r)
			}
			return e.list(ctx, k, scope, r)
		}
	}
	// An action or extra collection on an item.
	if k := e.kinds[id.TypeKey()]; k != nil && !id.IsRoot() {
		tail := strings.ToLower(r.Path.Tail)
		if a := k.RawActions[tail]; a != nil && inScope(k, id) {
			if err := e.checkAPIVersion(k, r); err != nil {
				return nil, err
			}
			if r.Method != http.MethodPost {
				return nil, methodNotAllowed(r)
			}
			return a(ctx, e, r)
		}
		if a := k.Actions[tail]; a != nil {
			if err := e.checkAPIVersion(k, r); err != nil {
				return nil, err
			}
			if r.Method != http.MethodPost {
				return nil, methodNotAllowed(r)
			}
			return e.action(ctx, k, a, r, r.Path.Tail+"/action")
		}
		if a := k.Collections[tail]; a != nil {
			if err := e.checkAPIVersion(k, r); err != nil {
				return nil, err
			}
			if r.Method != http.MethodGet {
				return nil, methodNotAllowed(r)
			}
			return e.action(ctx, k, a, r, r.Path.Tail+"/read")
		}
	}
	if typ, _, ok := collectionType(id, r.Path.Tail); ok {
		return nil, e.unknownType(typ, r)
	}
	return nil, arm.Errorf(arm.CodePathNotFound, "The requested path '%s' does not name an Azure Resource Manager resource, collection or action.", strings.TrimSuffix(id.String(), "/")+"/"+r.Path.Tail)
}

// CheckSubscription answers what ARM answers for id's subscription before
// anything else: InvalidSubscriptionId for a malformed one,
// SubscriptionNotFound for one that does not exist, nil otherwise (and for
// ids outside subscriptions). Emulator endpoints that look at resources
// call it before authorizing, as Serve does.
func (e *Engine) CheckSubscription(ctx context.Context, id arm.ResourceID) error {
	sub := id.SubscriptionID()
	if sub == "" {
		return nil
	}
	if aerr := arm.CheckSubscriptionID(sub); aerr != nil {
		return aerr
	}
	return e.knownSubscription(ctx, sub)
}

// knownSubscription answers SubscriptionNotFound for a subscription that
// does not exist.
func (e *Engine) knownSubscription(ctx context.Context, sub string) error {
	key := strings.ToLower(sub)
	if _, ok := e.subscriptions.Load(key); ok {
		return nil
	}
	err := e.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(arm.ResourceID{Subscription: sub}.Key())
		return err
	})
	if IsNotFound(err) {
		return resourceNotFound(arm.ResourceID{Subscription: sub})
	}
	if err != nil {
		return mapStoreError(err)
	}
	e.subscriptions.Store(key, true)
	return nil
}

// collectionType maps a path ending in a collection segment to the type it
// lists and the scope the list runs in.
func collectionType(id arm.ResourceID, tail string) (typ string, scope arm.ResourceID, ok bool) {
	switch {
	case id.IsRoot() && strings.EqualFold(tail, "subscriptions"):
		return "Microsoft.Resources/subscriptions", id, true
	case id.IsSubscription():
		return "Microsoft.Resources/" + tail, id, true
	case id.Namespace != "" && len(id.Types) == 0:
		// {scope}/providers/{ns}/{type}: a top-level collection in scope.
		s := id
		s.Namespace = ""
		if s.Scope != nil && s.Subscription == "" {
			s = *s.Scope
		}
		return id.Namespace + "/" + tail, s, true
	case len(id.Types) > 0:
		return id.Type() + "/" + tail, id, true
	}
	return "", arm.ResourceID{}, false
}

// kindFor finds the kind of an item path and checks the api-version for it.
func (e *Engine) kindFor(id arm.ResourceID, r *Request) (*Kind, error) {
	k := e.kinds[id.TypeKey()]
	if k == nil || !inScope(k, id) {
		return nil, e.unknownType(id.Type(), r)
	}
	if err := e.checkAPIVersion(k, r); err != nil {
		return nil, err
	}
	return k, nil
}

// inScope reports whether id lies where resources of kind k live: a
// resource-group type (and its children) in a resource group, a subscription
// type directly in a subscription, a tenant type at the root, a management
// group type below a management group, and an extension type below any
// resource (subscriptions and resource groups included, which ARM writes
// without an extension's /providers/ segment).
func inScope(k *Kind, id arm.ResourceID) bool {
	if len(id.Types) == 0 {
		return true // ARM's own: subscriptions, resource groups, registrations
	}
	s := k.scopes()
	if id.Scope != nil {
		if s&InExtension != 0 {
			return true
		}
		return s&InManagementGroup != 0 && isManagementGroup(*id.Scope)
	}
	switch {
	case id.Subscription == "":
		return s&InTenant != 0
	case id.ResourceGroup == "":
		return s&(InSubscription|InExtension) != 0
	}
	return s&(InResourceGroup|InExtension) != 0
}

// isManagementGroup reports whether id names a management group.
func isManagementGroup(id arm.ResourceID) bool {
	return id.Scope == nil && id.Subscription == "" && len(id.Types) == 1 &&
		strings.EqualFold(id.Namespace, "Microsoft.Management") && strings.EqualFold(id.Types[0], "managementGroups")
}

func (e *Engine) unknownType(typ string, r *Request) error {
	ns, _, _ := strings.Cut(typ, "/")
	if n := e.namespaces[arm.KeyOf(ns)]; n == nil || !n.Served {
		return arm.Errorf(arm.CodeInvalidResourceNamespace, "The resource namespace '%s' is invalid.", ns)
	}
	_, rest, _ := strings.Cut(typ, "/")
	return arm.Errorf(arm.CodeInvalidResourceType, "The resource type '%s' could not be found in the namespace '%s' for api version '%s'.", rest, ns, r.APIVersion)
}

func (e *Engine) checkAPIVersion(k *Kind, r *Request) error {
	if r.APIVersion == "" {
		return arm.Errorf(arm.CodeMissingAPIVersion, "The api-version query parameter (?api-version=) is required for all requests.")
	}
	if k.supports(r.APIVersion) {
		return nil
	}
	if k.ARMOwned {
		return arm.Errorf(arm.CodeInvalidAPIVersion, "The api-version '%s' is invalid. The supported versions are '%s'. The supported locations are ''.", r.APIVersion, strings.Join(Newest(k.APIVersions), ","))
	}
	_, rest, _ := strings.Cut(k.Type, "/")
	loc := "global"
	if k.Tracked || k.isChild() {
		loc = strings.Join(Locations, ",")
	}
	return arm.Errorf(arm.CodeNoRegisteredProviderFound, "No registered resource provider found for location '%s' and API version '%s' for type '%s'. The supported api-versions are '%s'. The supported locations are '%s'.",
		requestLocation(r), r.APIVersion, rest, strings.Join(k.APIVersions, ", "), loc)
}

func requestLocation(r *Request) string {
	if o, err := arm.ParseObject(r.Body); err == nil {
		if l, ok, _ := o.String("location"); ok {
			return NormalizeLocation(l)
		}
	}
	return "global"
}

// Newest returns api-versions newest first (kinds list them oldest first).
func Newest(versions []string) []string {
	out := slices.Clone(versions)
	slices.Reverse(out)
	return out
}

func methodNotAllowed(r *Request) error {
	return arm.Errorf(arm.CodeMethodNotAllowed, "The requested resource does not support http method '%s'.", r.Method)
}

// Authorize asks the authorizer about action at scope, for Kinds whose
// Handle overrides the engine (and so its own checks).
func (e *Engine) Authorize(ctx context.Context, r *Request, action string, scope arm.ResourceID) error {
	return e.authorize(ctx, r, action, scope)
}

// AuthorizeKind decides whether r may perform verb ("read", "write",
// "delete", "{action}/action") on the resource id of kind k: the kind's own
// Authorize rule when it has one, else the Authorizer.
func (e *Engine) AuthorizeKind(ctx context.Context, k *Kind, r *Request, verb string, id arm.ResourceID) error {
	if r.Principal == nil {
		return arm.Errorf(arm.CodeAuthenticationFailed, "Authentication failed. The 'Authorization' header is missing.")
	}
	if k.Authorize != nil {
		return k.Authorize(ctx, e, r, k.Action(verb), id)
	}
	return e.cfg.Authorizer.Authorize(ctx, r.Principal, k.Action(verb), id)
}

// Reach tells where r's principal holds access relative to scope (see
// authz.Authorizer.Reach).
func (e *Engine) Reach(ctx context.Context, r *Request, scope arm.ResourceID) authz.Reach {
	if r.Principal == nil {
		return 0
	}
	return e.cfg.Authorizer.Reach(ctx, r.Principal, scope)
}

// authorize asks the authorizer about action at scope.
func (e *Engine) authorize(ctx context.Context, r *Request, action string, scope arm.ResourceID) error {
	if r.Principal == nil {
		return arm.Errorf(arm.CodeAuthenticationFailed, "Authentication failed. The 'Authorization' header is missing.")
	}
	return e.cfg.Authorizer.Authorize(ctx, r.Principal, action, scope)
}

// servedID spells id as the kind serves it.
func (k *Kind) servedID(id arm.ResourceID) string {
	if id.Namespace == "" || len(id.Types) == 0 {
		return id.String()
	}
	ids := k.IDTypes
	if ids == nil {
		ids = k.typeSegments()
	}
	if len(ids) != len(id.Types) {
		return id.String()
	}
	return id.WithTypes(k.Namespace(), ids).String()
}

func (k *Kind) servedName(id arm.ResourceID) string {
	if k.Name != nil {
		return k.Name(id)
	}
	return id.Name()
}

// update runs fn in a write transaction with a Ctx, waking the operation
// worker and notifying waiters once it commits.
func (e *Engine) update(ctx context.Context, r *Request, fn func(c *Ctx) error) error {
	var c *Ctx
	err := e.store.Update(ctx, func(tx store.Tx) error {
		c = &Ctx{Context: ctx, E: e, Tx: e.watchTx(tx), Req: r, Now: e.cfg.Now()}
		if r != nil {
			c.Principal = r.Principal
		}
		return fn(c)
	})
	if err != nil {
		return mapStoreError(err)
	}
	e.notify(c.Tx)
	if c.started {
		e.ops.Wake()
	}
	for _, id := range c.ended {
		e.ops.Ended(id)
	}
	for _, fn := range c.committed {
		fn()
	}
	return nil
}

// view runs fn in a read transaction with a Ctx.
func (e *Engine) view(ctx context.Context, r *Request, fn func(c *Ctx) error) error {
	err := e.store.View(ctx, func(tx store.Tx) error {
		c := &Ctx{Context: ctx, E: e, Tx: tx, Req: r, Now: e.cfg.Now()}
		if r != nil {
			c.Principal = r.Principal
		}
		return fn(c)
	})
	return mapStoreError(err)
}

// mapStoreError is the one place where storage errors become ARM errors.
// Rules return *arm.Error for the client's mistakes; a store error that
// reaches here unexplained is privlink's fault.
func mapStoreError(err error) error {
	if err == nil || arm.AsError(err) != nil {
		return err
	}
	switch {
	case errors.Is(err, store.ErrConflict):
		return arm.Errorf(arm.CodeConflict, "The resource was changed by another request at the same time. Retry the request.")
	case errors.Is(err, store.ErrTooLarge):
		// Only PostgreSQL has such a bound (an index entry of about 2,700
		// bytes, a resource's key with its parent's, which compresses to
		// about the key), above the ids that 260-byte names let clients
		// build for the catalog's types (seven names deep at most): this
		// is for certainty. The client's id, not privlink, is at fault.
		return arm.Errorf(arm.CodeInvalidResourceID, "The resource id is too long to be stored: this privlink's PostgreSQL database indexes a resource's id with its parent's in entries of up to about 2,700 bytes.")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("store: %w", err)
}

// Update runs fn in a write transaction outside any request (start-up
// seeding, emulator endpoints).
func (e *Engine) Update(ctx context.Context, fn func(c *Ctx) error) error {
	return e.update(ctx, nil, fn)
}

// UpdateFor runs fn in a write transaction on behalf of request r, for
// kinds whose Handle serves a method itself: the Ctx carries r and its
// principal, and OnCommit functions run once it commits.
func (e *Engine) UpdateFor(ctx context.Context, r *Request, fn func(c *Ctx) error) error {
	return e.update(ctx, r, fn)
}

// ViewFor runs fn in a read transaction on behalf of request r.
func (e *Engine) ViewFor(ctx context.Context, r *Request, fn func(c *Ctx) error) error {
	return e.view(ctx, r, fn)
}

// View runs fn in a read transaction outside any request.
func (e *Engine) View(ctx context.Context, fn func(c *Ctx) error) error {
	return e.view(ctx, nil, fn)
}
