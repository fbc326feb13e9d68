// Package deploy is the engine of Microsoft.Resources/deployments: it binds
// a template through a plan.Binder, runs the plan's resources through the
// resource engine in dependency order, as the deploying principal, records
// one deployment operation per resource, and survives restarts.
package deploy
