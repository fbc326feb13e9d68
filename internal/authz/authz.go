// Package authz decides whether a principal may perform an ARM action at a
// scope. Every request passes through an Authorizer: AllowAll when access
// control is off, RBAC (Azure role-based access control: role definitions,
// role assignments up the scope tree) otherwise.
package authz

import (
	"context"

	"github.com/privlink/privlink/internal/arm"
)

// Authorizer decides what a principal may do.
type Authorizer interface {
	// Authorize answers whether p may perform action (e.g.
	// "Microsoft.Kusto/clusters/managedPrivateEndpoints/write") at scope (a
	// resource id): nil when allowed, an *arm.Error with code
	// AuthorizationFailed (403) when not.
	Authorize(ctx context.Context, p *arm.Principal, action string, scope arm.ResourceID) error
	// Reach tells where p holds access relative to scope: at it (or above
	// it), strictly below it, both or neither. A list at a scope that p may
	// not read as a whole shows the items p may read when p reaches below
	// it, and is refused only when p has no access in the scope at all, as
	// ARM lists the resource groups and resources a principal reaches; a
	// subscription is visible to a principal with any access in it.
	Reach(ctx context.Context, p *arm.Principal, scope arm.ResourceID) Reach
}

// Reach is a set of places where a principal holds access relative to a scope.
type Reach uint8

// The places of a Reach.
const (
	// At: some role assignment at the scope or above it.
	At Reach = 1 << iota
	// Below: some role assignment strictly below the scope.
	Below
)

// AllowAll permits every authenticated principal every action: access
// control off.
type AllowAll struct{}

// Authorize implements Authorizer.
func (AllowAll) Authorize(context.Context, *arm.Principal, string, arm.ResourceID) error { return nil }

// Reach implements Authorizer.
func (AllowAll) Reach(context.Context, *arm.Principal, arm.ResourceID) Reach { return At | Below }

// Denied builds ARM's AuthorizationFailed error (403) for p, action and
// scope, with the message ARM writes (learn.microsoft.com, "Troubleshoot
// Azure RBAC"): the client is the principal's user name or application id.
func Denied(p *arm.Principal, action string, scope arm.ResourceID) *arm.Error {
	return arm.Errorf(arm.CodeAuthorizationFailed,
		"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		p.Name, p.ObjectID, action, scope.String())
}
