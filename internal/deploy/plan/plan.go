// Package plan is the contract between the ARM template language
// (internal/deploy/template, which turns a template and its parameters into
// a Plan) and the deployment engine (internal/deploy, which runs a Plan
// through the resource engine). It holds types only, so that neither side
// imports the other.
package plan

import (
	"encoding/json"
	"time"
)

// Principal is who deploys: what deployer() returns and whose access the
// deployment's requests are made with.
type Principal struct {
	ObjectID          string
	TenantID          string
	UserPrincipalName string
}

// ResourceGroup is the resource group of a resource-group deployment, as
// resourceGroup() returns it.
type ResourceGroup struct {
	// ID is "/subscriptions/{s}/resourceGroups/{name}".
	ID       string
	Name     string
	Location string
	// Tags and ManagedBy are as stored on the group (nil/"" when absent).
	Tags      map[string]string
	ManagedBy string
}

// Scope is where a deployment runs and what the template's scope functions
// (resourceGroup(), subscription(), tenant(), deployment(), deployer(),
// environment()) return there.
type Scope struct {
	TenantID                string
	SubscriptionID          string
	SubscriptionDisplayName string
	// ResourceGroup is nil for a subscription-scope deployment.
	ResourceGroup *ResourceGroup
	// Location is the deployment's own location (required at subscription
	// scope, "" at resource-group scope).
	Location string
	// DeploymentName is the deployment's name (deployment().name).
	DeploymentName string
	// Mode is "Incremental" or "Complete".
	Mode string
	// TemplateLink is the request's properties.templateLink, raw (nil when the
	// template was inline); deployment().properties.templateLink shows it.
	TemplateLink json.RawMessage
	Deployer     Principal
	// Now is the deployment's start time (utcNow() in parameter defaults).
	Now time.Time
	// ResourceManager is the Resource Manager URL environment() reports
	// ("https://management.azure.com/" under Azure's public names).
	ResourceManager string
}

// Resource is one resource instance of a plan, after copy loops and
// conditions have been expanded: what the engine deploys, in an order that
// respects DependsOn.
type Resource struct {
	// Index is the resource's place in Plan.Resources().
	Index int
	// Symbolic is the symbolic name (languageVersion 2.0), or "".
	Symbolic string
	// Copy names the copy loop the resource came from ("" for none), and
	// CopyIndex is its index in that loop.
	Copy      string
	CopyIndex int
	// Serial and BatchSize are the loop's mode: a serial loop deploys
	// BatchSize instances at a time (1 when not given), in index order.
	Serial    bool
	BatchSize int
	// ID is the full resource id, in the deployment's scope or the
	// resource's own ("scope", "resourceGroup"/"subscriptionId" of nested
	// deployments), e.g. "/subscriptions/{s}/resourceGroups/{rg}/providers/
	// Microsoft.Kusto/clusters/c/managedPrivateEndpoints/m".
	ID string
	// Type is the full type as written ("Microsoft.Kusto/Clusters/ManagedPrivateEndpoints").
	Type string
	// APIVersion is the resource's apiVersion.
	APIVersion string
	// Name is the full name as written, segments joined with "/" ("c/m").
	Name string
	// Condition is false for a resource whose condition evaluated false:
	// it is not deployed (and Complete mode deletes it), and dependencies
	// on it are dropped.
	Condition bool
	// Existing marks a languageVersion 2.0 "existing" resource: read, not
	// deployed.
	Existing bool
	// DependsOn are indices in Plan.Resources(): explicit dependsOn (by
	// name, id or copy loop name) and the implicit edges of reference() and
	// list*() on resources of the template. Never cyclic.
	DependsOn []int
	// Nested is set for a Microsoft.Resources/deployments resource.
	Nested *NestedTarget
}

// NestedTarget is where a nested deployment runs.
type NestedTarget struct {
	// SubscriptionID and ResourceGroup are the nested deployment's scope
	// (the parent's unless the resource names others; ResourceGroup "" at
	// subscription scope).
	SubscriptionID string
	ResourceGroup  string
}

// Runtime is what the template language asks of the running deployment:
// the runtime functions reference() and list*(). Both act as the deploying
// principal. Errors are *arm.Error where the server answered one.
type Runtime interface {
	// Reference returns the body a GET of id answers at apiVersion ("" for
	// the api-version the template declared for it, or the newest).
	Reference(id, apiVersion string) (json.RawMessage, error)
	// Invoke POSTs {id}/{action}?api-version={apiVersion} with body (nil for
	// none) and returns the answer (listKeys, listSecrets, ...).
	Invoke(id, action, apiVersion string, body json.RawMessage) (json.RawMessage, error)
	// Secret returns the value of a Key Vault secret (a parameter's
	// {"reference": {"keyVault": {"id": vaultID}, "secretName": name,
	// "secretVersion": version}}; version "" is the current one).
	Secret(vaultID, name, version string) (string, error)
}

// Plan is a template bound to its parameters and scope. Its methods are
// safe for concurrent use (the engine deploys independent resources in
// parallel); evaluation within one plan and the outer-scope plans nested in
// it is serialized.
type Plan interface {
	// Resources are the plan's resource instances in template order.
	Resources() []*Resource
	// Body evaluates r's request body: the members a PUT carries
	// (location, tags, sku, kind, identity, plan, zones, properties, ...;
	// not type, apiVersion, name, dependsOn, condition, copy, comments or
	// scope), with property copy loops expanded and runtime functions
	// called through rt. With whatIf set, expressions that need a
	// resource not yet deployed are kept as their text ("[reference(...)]"),
	// as ARM's what-if shows them, instead of failing.
	Body(r *Resource, rt Runtime, whatIf bool) (json.RawMessage, error)
	// Outputs evaluates the template's outputs as the deployment GET shows
	// them: {"name": {"type": "String", "value": ...}}; secure outputs are
	// left out.
	Outputs(rt Runtime) (json.RawMessage, error)
	// Parameters are the bound parameters as the deployment GET shows them:
	// {"name": {"type": "String", "value": ...}}, without the values of
	// secure ones.
	Parameters() json.RawMessage
	// Nested binds the template of the nested deployment r (inline, or
	// linked through templateLink, resolved by the Binder's links), with
	// its parameters evaluated in this plan's context, and its expressions
	// in the outer (this plan's) or inner scope as it asks.
	Nested(r *Resource, rt Runtime, s Scope) (Plan, error)
	// Template is the template as the deployment was given it (what
	// exportTemplate answers), and Hash its templateHash.
	Template() json.RawMessage
	Hash() string
	// Mode is the deployment mode the plan was bound with.
	Mode() string
}

// Binder turns a template and parameters into a Plan. Errors are *arm.Error:
// InvalidTemplate (with the line and column of the offending value or
// expression) and InvalidTemplateDeployment (parameter values), found before
// anything is deployed.
type Binder interface {
	// Bind binds template (the JSON document) with parameters (the
	// request's properties.parameters: {"p": {"value": ...}} or
	// {"p": {"reference": {"keyVault": {"id": ...}, "secretName": ...}}})
	// in scope s. Key Vault references are resolved through rt.
	Bind(template, parameters json.RawMessage, s Scope, rt Runtime) (Plan, error)
}

// Links fetches the content of a templateLink or parametersLink URI (the
// engine maps URIs to local files; see privlink serve --template-root, and
// template.DirLinks, which maps a URI's host and path to a file under a
// directory).
type Links func(uri string) ([]byte, error)
