package authz

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/store"
)

// The Microsoft.Authorization types RBAC reads from the store.
const (
	AssignmentType = "Microsoft.Authorization/roleAssignments"
	DefinitionType = "Microsoft.Authorization/roleDefinitions"
)

const (
	assignmentSegment = "/providers/microsoft.authorization/roleassignments/"
	definitionSegment = "/providers/microsoft.authorization/roledefinitions/"
)

// Block is one permission block of a role definition as written
// (properties.permissions[i]).
type Block struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
}

// Role is a role definition as RBAC evaluates it.
type Role struct {
	// ID is the definition's GUID, lower case (its name in every id).
	ID string
	// Name is the roleName ("Owner").
	Name string
	// Builtin roles are Azure's, the same in every scope.
	Builtin bool
	// Blocks are the permission blocks as written.
	Blocks []Block
	// AssignableScopes are the scopes the role may be assigned at or below
	// (lower-cased keys; "/" for built-in roles).
	AssignableScopes []string
	perms            []Permission
}

// NewRole compiles a role definition.
func NewRole(id, name string, builtin bool, blocks []Block, assignable []string) *Role {
	r := &Role{ID: strings.ToLower(id), Name: name, Builtin: builtin, Blocks: blocks}
	for _, s := range assignable {
		r.AssignableScopes = append(r.AssignableScopes, ScopeKey(s))
	}
	for _, b := range blocks {
		r.perms = append(r.perms, Permission{Actions: CompileAll(b.Actions), NotActions: CompileAll(b.NotActions)})
	}
	return r
}

// Grants reports whether the role grants the lower-cased action a.
func (r *Role) Grants(a string) bool {
	for i := range r.perms {
		if r.perms[i].Grants(a) {
			return true
		}
	}
	return false
}

// AssignableAt reports whether the role may be assigned at the scope with
// key k: k is one of its assignableScopes or lies below one.
func (r *Role) AssignableAt(k string) bool {
	for _, s := range r.AssignableScopes {
		if Within(k, s) {
			return true
		}
	}
	return false
}

// Within reports whether the scope key k is the scope key s or lies below it.
func Within(k, s string) bool {
	if s == "/" || k == s {
		return true
	}
	return strings.HasPrefix(k, s) && len(k) > len(s) && k[len(s)] == '/'
}

// ScopeKey is the case-insensitive key of a scope written as an id
// ("/subscriptions/S" -> "/subscriptions/s"; "" and "/" -> "/").
func ScopeKey(s string) string {
	s = strings.ToLower(strings.TrimSuffix(s, "/"))
	if s == "" {
		return "/"
	}
	return s
}

// Assignment is a role assignment as RBAC evaluates it.
type Assignment struct {
	// Key is the store key of the assignment.
	Key string
	// Scope is the key of the scope it was made at.
	Scope string
	// PrincipalID is the object id it grants to, lower case.
	PrincipalID string
	// RoleID is the GUID of its role definition, lower case.
	RoleID string
}

// RBAC is Azure role-based access control over the role assignments and
// role definitions in a store: a principal may perform an action at a
// scope when one of its assignments, at that scope or one above it, has a
// role whose permissions grant the action (learn.microsoft.com/azure/
// role-based-access-control/overview, "How Azure RBAC determines if a user
// has access to a resource"). Deny assignments and conditions are not
// evaluated.
//
// It keeps an index of the assignments by principal and scope, built once
// from the store (Load) and kept current by Refresh, which the
// Microsoft.Authorization rules call after each commit that changes an
// assignment or a role definition: the index changes with writes, never
// with time, so a change takes effect on the next request.
type RBAC struct {
	store   store.Store
	builtin map[string]*Role

	refresh sync.Mutex // orders Refresh calls: read the store, then apply

	mu          sync.RWMutex
	custom      map[string]*Role               // by GUID
	customKeys  map[string]string              // record key -> GUID
	assignments map[string]Assignment          // record key -> assignment
	byPrincipal map[string]map[string][]string // principal -> scope key -> role GUIDs
}

// NewRBAC returns access control over st with the given built-in roles.
// Call Load before serving.
func NewRBAC(st store.Store, builtins []*Role) *RBAC {
	r := &RBAC{store: st, builtin: map[string]*Role{}, custom: map[string]*Role{}, customKeys: map[string]string{},
		assignments: map[string]Assignment{}, byPrincipal: map[string]map[string][]string{}}
	for _, b := range builtins {
		r.builtin[b.ID] = b
	}
	return r
}

// Builtin returns the built-in role with the GUID id, or nil.
func (r *RBAC) Builtin(id string) *Role { return r.builtin[strings.ToLower(id)] }

// Builtins returns every built-in role (in no order).
func (r *RBAC) Builtins() []*Role {
	out := make([]*Role, 0, len(r.builtin))
	for _, b := range r.builtin {
		out = append(out, b)
	}
	return out
}

// Role returns the role (built-in or custom) with the GUID id, or nil.
func (r *RBAC) Role(id string) *Role {
	id = strings.ToLower(id)
	if b := r.builtin[id]; b != nil {
		return b
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.custom[id]
}

// Load builds the index from every assignment and custom role definition
// in the store.
func (r *RBAC) Load(ctx context.Context) error {
	return r.store.View(ctx, func(tx store.Tx) error {
		for _, typ := range []string{DefinitionType, AssignmentType} {
			recs, err := tx.List(store.Query{Type: typ})
			if err != nil {
				return err
			}
			for _, rec := range recs {
				if err := r.apply(rec.Key(), rec); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Refresh re-reads the records with the given keys (assignments or role
// definitions that a committed transaction wrote or removed) and updates
// the index from what the store holds now. Calls are serialized, and each
// reads after the commit that caused it, so the index ends as the store is
// whatever order concurrent commits call it in.
func (r *RBAC) Refresh(ctx context.Context, keys ...string) error {
	r.refresh.Lock()
	defer r.refresh.Unlock()
	return r.store.View(ctx, func(tx store.Tx) error {
		for _, k := range keys {
			rec, err := tx.Get(k)
			if err != nil && err != store.ErrNotFound {
				return err
			}
			if err := r.apply(k, rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// Follow brings the index up to date with a transaction another process
// committed (store.Feed): the assignments and definitions it wrote are
// read again; for a change that names nothing (ch.All) the whole index is
// built again from the store and swapped in.
func (r *RBAC) Follow(ctx context.Context, ch store.Change) error {
	if ch.All {
		return r.reload(ctx)
	}
	var keys []string
	for _, k := range ch.Keys {
		if strings.Contains(k, assignmentSegment) || strings.Contains(k, definitionSegment) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return r.Refresh(ctx, keys...)
}

// reload builds the index again from the store and replaces this one.
func (r *RBAC) reload(ctx context.Context) error {
	r.refresh.Lock()
	defer r.refresh.Unlock()
	fresh := NewRBAC(r.store, nil)
	if err := fresh.Load(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	r.custom, r.customKeys, r.assignments, r.byPrincipal = fresh.custom, fresh.customKeys, fresh.assignments, fresh.byPrincipal
	r.mu.Unlock()
	return nil
}

// apply sets (rec != nil) or removes (rec == nil) the record with key k in the index.
func (r *RBAC) apply(k string, rec *store.Record) error {
	switch {
	case strings.Contains(k, assignmentSegment):
		var a *Assignment
		if rec != nil {
			x, err := parseAssignment(k, rec.Body)
			if err != nil {
				return fmt.Errorf("authz: role assignment %s: %w", rec.ID, err)
			}
			a = &x
		}
		r.mu.Lock()
		r.setAssignment(k, a)
		r.mu.Unlock()
	case strings.Contains(k, definitionSegment):
		var role *Role
		if rec != nil {
			x, err := ParseDefinition(rec.Body)
			if err != nil {
				return fmt.Errorf("authz: role definition %s: %w", rec.ID, err)
			}
			role = x
		}
		r.mu.Lock()
		if old, ok := r.customKeys[k]; ok {
			delete(r.custom, old)
			delete(r.customKeys, k)
		}
		if role != nil {
			r.custom[role.ID] = role
			r.customKeys[k] = role.ID
		}
		r.mu.Unlock()
	}
	return nil
}

// setAssignment replaces the assignment with key k (nil: removes it). r.mu is held.
func (r *RBAC) setAssignment(k string, a *Assignment) {
	if old, ok := r.assignments[k]; ok {
		delete(r.assignments, k)
		if scopes := r.byPrincipal[old.PrincipalID]; scopes != nil {
			roles := scopes[old.Scope]
			for i, id := range roles {
				if id == old.RoleID {
					roles = append(roles[:i:i], roles[i+1:]...)
					break
				}
			}
			if len(roles) == 0 {
				delete(scopes, old.Scope)
			} else {
				scopes[old.Scope] = roles
			}
			if len(scopes) == 0 {
				delete(r.byPrincipal, old.PrincipalID)
			}
		}
	}
	if a == nil {
		return
	}
	r.assignments[k] = *a
	scopes := r.byPrincipal[a.PrincipalID]
	if scopes == nil {
		scopes = map[string][]string{}
		r.byPrincipal[a.PrincipalID] = scopes
	}
	scopes[a.Scope] = append(scopes[a.Scope], a.RoleID)
}

// storedAssignment is what RBAC reads of a stored role assignment.
type storedAssignment struct {
	Properties struct {
		RoleDefinitionID string `json:"roleDefinitionId"`
		PrincipalID      string `json:"principalId"`
	} `json:"properties"`
}

// parseAssignment reads the assignment stored at key k.
func parseAssignment(k string, body []byte) (Assignment, error) {
	var s storedAssignment
	if err := json.Unmarshal(body, &s); err != nil {
		return Assignment{}, err
	}
	i := strings.LastIndex(k, assignmentSegment)
	return Assignment{
		Key:         k,
		Scope:       ScopeKey(k[:i]),
		PrincipalID: strings.ToLower(s.Properties.PrincipalID),
		RoleID:      strings.ToLower(LastSegment(s.Properties.RoleDefinitionID)),
	}, nil
}

// LastSegment is what follows the last '/' of s (the GUID of a role
// definition id, whatever scope the id is written at).
func LastSegment(s string) string {
	return s[strings.LastIndexByte(s, '/')+1:]
}

// storedDefinition is what RBAC reads of a stored custom role definition.
type storedDefinition struct {
	Name       string `json:"name"`
	Properties struct {
		RoleName         string   `json:"roleName"`
		Permissions      []Block  `json:"permissions"`
		AssignableScopes []string `json:"assignableScopes"`
	} `json:"properties"`
}

// ParseDefinition compiles a stored custom role definition document.
func ParseDefinition(body []byte) (*Role, error) {
	var s storedDefinition
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, err
	}
	return NewRole(s.Name, s.Properties.RoleName, false, s.Properties.Permissions, s.Properties.AssignableScopes), nil
}

// Authorize implements Authorizer.
func (r *RBAC) Authorize(_ context.Context, p *arm.Principal, action string, scope arm.ResourceID) error {
	if r.Allowed(p, action, scope.Key()) {
		return nil
	}
	return Denied(p, action, scope)
}

// Allowed reports whether p may perform action at the scope with key k.
func (r *RBAC) Allowed(p *arm.Principal, action, k string) bool {
	a := strings.ToLower(action)
	r.mu.RLock()
	defer r.mu.RUnlock()
	scopes := r.byPrincipal[strings.ToLower(p.ObjectID)]
	if len(scopes) == 0 {
		return false
	}
	grants := func(s string) bool {
		for _, id := range scopes[s] {
			if role := r.role(id); role != nil && role.Grants(a) {
				return true
			}
		}
		return false
	}
	// The scope and every scope above it: each '/' of the key ends one
	// (most of those prefixes name no scope and find nothing).
	if grants("/") {
		return true
	}
	for i := 1; i < len(k); i++ {
		if k[i] == '/' && grants(k[:i]) {
			return true
		}
	}
	return k != "/" && grants(k)
}

// role looks a role up by GUID; r.mu is held.
func (r *RBAC) role(id string) *Role {
	if b := r.builtin[id]; b != nil {
		return b
	}
	return r.custom[id]
}

// Reach implements Authorizer.
func (r *RBAC) Reach(_ context.Context, p *arm.Principal, scope arm.ResourceID) Reach {
	k := scope.Key()
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out Reach
	for s := range r.byPrincipal[strings.ToLower(p.ObjectID)] {
		switch {
		case Within(k, s):
			out |= At
		case Within(s, k):
			out |= Below
		}
	}
	return out
}

// Permissions returns the permission blocks of every role p holds at the
// scope with key k or above it, one per role (the answer of
// {scope}/providers/Microsoft.Authorization/permissions).
func (r *RBAC) Permissions(p *arm.Principal, k string) []Block {
	r.mu.RLock()
	defer r.mu.RUnlock()
	seen := map[string]bool{}
	var out []Block
	for s, roles := range r.byPrincipal[strings.ToLower(p.ObjectID)] {
		if !Within(k, s) {
			continue
		}
		for _, id := range roles {
			if seen[id] {
				continue
			}
			seen[id] = true
			if role := r.role(id); role != nil {
				out = append(out, role.Blocks...)
			}
		}
	}
	return out
}

// Assignments returns the assignments of principal (any principal when
// principal is ""), in no order.
func (r *RBAC) Assignments(principal string) []Assignment {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Assignment
	for _, a := range r.assignments {
		if principal == "" || a.PrincipalID == strings.ToLower(principal) {
			out = append(out, a)
		}
	}
	return out
}
