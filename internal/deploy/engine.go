package deploy

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/deploy/plan"
	"github.com/privlink/privlink/internal/resource"
)

// Types served here.
const (
	// Type is the deployment type.
	Type = "Microsoft.Resources/deployments"
	// OperationsType is a deployment's operations (one per resource).
	OperationsType = Type + "/operations"
	// StatusType answers a deployment's Azure-AsyncOperation URL.
	StatusType = Type + "/operationStatuses"
)

// APIVersions are the Deployments API versions (armresources v1.2 uses
// 2021-04-01), with every version the catalog lists.
var APIVersions = catalog.Accept(Type, "2019-10-01", "2020-06-01", "2020-10-01", "2021-01-01", "2021-04-01", "2022-09-01")

// opRun is the operation kind that keeps a deployment running across
// restarts (see Engine.step).
const opRun = "deployment.run"

// ext keys of the private state kept in a deployment's Meta.
const (
	extState = "deployment"
	extOp    = "deploymentOperation"
	// extCancel marks a deployment asked to stop starting resources; apart
	// from the state, which holds the whole template, so that the runner's
	// checks read a few bytes.
	extCancel = "deploymentCancel"
)

// Config configures an Engine.
type Config struct {
	// Binder turns templates into plans (internal/deploy/template).
	Binder plan.Binder
	// Links fetches templateLink and parametersLink URIs (nil: refused).
	Links plan.Links
	// Secrets reads Key Vault secrets for parameter references (nil: refused).
	Secrets SecretFunc
	// Parallelism bounds the resources deployed at once (default 64).
	Parallelism int
	// Lease is how long a runner holds a deployment before another step of
	// its operation checks on it (default 1 s): a deployment in flight when
	// its process died resumes that long after the next one starts.
	Lease time.Duration
	// History bounds each scope's deployment history (zero: Azure's 800,
	// deleting from 700 down to 600; see History).
	History History
	Logger  *slog.Logger
}

// SecretFunc reads the value of a Key Vault secret (vault id, secret name,
// version "" for the current one) in a store transaction.
type SecretFunc func(c *resource.Ctx, vaultID, name, version string) (string, error)

// Engine runs deployments.
type Engine struct {
	res *resource.Engine
	cfg Config

	mu      sync.Mutex
	running map[string]*run // by deployment key, in this process
	// trimming holds the scopes whose history is being trimmed (by key).
	trimming map[string]bool
}

// Register adds the deployment types to e and returns the engine that runs them.
func Register(e *resource.Engine, cfg Config) *Engine {
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = 64
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.History = cfg.History.withDefaults()
	d := &Engine{res: e, cfg: cfg, running: map[string]*run{}, trimming: map[string]bool{}}
	k := &resource.Kind{
		Type:             Type,
		APIVersions:      APIVersions,
		ARMOwned:         true,
		AlsoSubscription: true,
		NoState:          true,
		ValidateName:     validateName,
	}
	k.Handle = map[string]func(context.Context, *resource.Engine, *resource.Request) (*resource.Response, error){
		http.MethodPut:           d.put,
		http.MethodDelete:        d.delete,
		http.MethodGet:           d.get,
		http.MethodHead:          d.get,
		http.MethodGet + " list": d.list,
	}
	k.RawActions = map[string]func(context.Context, *resource.Engine, *resource.Request) (*resource.Response, error){
		"cancel":         d.cancel,
		"validate":       d.validate,
		"whatif":         d.whatIf,
		"exporttemplate": d.exportTemplate,
	}
	e.Register(k,
		&resource.Kind{Type: OperationsType, APIVersions: APIVersions, ARMOwned: true, AlsoSubscription: true, ReadOnly: true, NoState: true, Pageable: true},
		statusKind(d),
	)
	e.Operations().Handle(opRun, d.step)
	return d
}

// deploymentName is ARM's rule for deployment names (the Deployments API's
// path parameter pattern); the length limit is checked apart, with its own code.
var deploymentName = regexp.MustCompile(`^[-\w._()]+$`)

func validateName(name string) *arm.Error {
	if len(name) > 64 {
		return arm.Errorf(arm.CodeDeploymentNameLengthLimitExceeded, "The provided deployment name '%s' has a length of '%d' which exceeds the maximum length of '64'.", name, len(name))
	}
	if !deploymentName.MatchString(name) {
		return arm.Errorf(arm.CodeInvalidDeploymentName, "The deployment name '%s' is invalid. It can include alphanumeric, underscore, parentheses, hyphen and period characters only.", name)
	}
	return nil
}

// state is a deployment's private state: what the runner needs to run (and
// resume) it, never served.
type state struct {
	// Template is the template as given (inline, or fetched from its link).
	Template json.RawMessage `json:"template"`
	// Parameters are the request's parameters, secure values included.
	Parameters   json.RawMessage `json:"parameters,omitempty"`
	TemplateLink json.RawMessage `json:"templateLink,omitempty"`
	Mode         string          `json:"mode"`
	Principal    arm.Principal   `json:"principal"`
	// BaseURL is the scheme and host the client used (for environment()).
	BaseURL       string    `json:"baseUrl"`
	CorrelationID string    `json:"correlationId"`
	Started       time.Time `json:"started"`
	Location      string    `json:"location,omitempty"`
	// Parent is the id of the deployment that runs this one as a nested
	// deployment ("" for one a client created).
	Parent string `json:"parent,omitempty"`
}

// opState is the private state of a deployment operation.
type opState struct {
	// Index is the resource's index in the plan.
	Index int `json:"index"`
	// State is Succeeded or Failed.
	State string `json:"state"`
}

// terminal reports whether a deployment's provisioningState is final.
func terminal(s string) bool {
	switch s {
	case arm.StateSucceeded, arm.StateFailed, arm.StateCanceled:
		return true
	}
	return false
}
