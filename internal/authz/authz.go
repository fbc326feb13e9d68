// Package authz decides whether a principal may perform an ARM action at a
// scope. Every request passes through an Authorizer; role-based access control
// plugs in here.
package authz

import (
	"context"

	"github.com/privlink/privlink/internal/arm"
)

// Authorizer answers whether p may perform action (e.g.
// "Microsoft.Kusto/clusters/managedPrivateEndpoints/write") at scope (a
// resource id). It returns nil when allowed, an *arm.Error with code
// AuthorizationFailed when not.
type Authorizer interface {
	Authorize(ctx context.Context, p *arm.Principal, action string, scope arm.ResourceID) error
}

// AllowAll permits every authenticated principal every action. It is the
// authorizer until role assignments exist.
type AllowAll struct{}

// Authorize implements Authorizer.
func (AllowAll) Authorize(context.Context, *arm.Principal, string, arm.ResourceID) error { return nil }

// Denied builds ARM's AuthorizationFailed error for p, action and scope.
func Denied(p *arm.Principal, action string, scope arm.ResourceID) *arm.Error {
	return arm.Errorf(arm.CodeAuthorizationFailed,
		"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		p.Name, p.ObjectID, action, scope.String())
}
