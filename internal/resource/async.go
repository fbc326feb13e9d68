package resource

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/operation"
	"github.com/privlink/privlink/internal/store"
)

// Operation kinds and actions of the engine's own long-running operations.
const (
	opProvision = "resource.provision"
	opDelete    = "resource.delete"

	opActionCreate = "create"
	opActionUpdate = "update"
	opActionDelete = "delete"
)

func (e *Engine) delete(ctx context.Context, k *Kind, r *Request) (*Response, error) {
	id := r.Path.ID
	if err := e.AuthorizeKind(ctx, k, r, "delete", id); err != nil {
		return nil, err
	}
	var resp *Response
	err := e.update(ctx, r, func(c *Ctx) error {
		old, err := e.loadForWrite(c, k, id)
		if err != nil {
			return err
		}
		if old == nil {
			if id.IsResourceGroup() {
				// ARM's own: a group that is not there is a 404, not a 204.
				return resourceNotFound(id)
			}
			resp = &Response{Status: http.StatusNoContent, Header: http.Header{}}
			return nil
		}
		if err := checkConditions(k, r, old, true); err != nil {
			return err
		}
		if old.Meta.OpAction == opActionDelete {
			// Already being deleted: answer with the operation in flight.
			op, err := c.Tx.GetOperation(old.Meta.Op)
			if err != nil {
				return err
			}
			resp = &Response{Status: http.StatusAccepted, Header: e.asyncHeaders(r, old, op, true)}
			return nil
		}
		if !k.Async && !k.AsyncDelete {
			if err := c.Remove(old); err != nil {
				return err
			}
			resp = &Response{Status: http.StatusOK, Header: http.Header{}}
			return nil
		}
		if old.Meta.Op != "" {
			if err := e.endOperation(c, old.Meta.Op, arm.StateCanceled, arm.Errorf("Canceled", "The operation was canceled by a delete of the resource.")); err != nil {
				return err
			}
		}
		if !k.NoState {
			old.SetState(k.states().Deleting)
		}
		op, od, err := e.startOperation(c, old, opActionDelete)
		if err != nil {
			return err
		}
		resp = &Response{Status: http.StatusAccepted, Header: e.asyncHeaders(r, old, op, true)}
		if e.instant() {
			// As completeInline for creates: the delete takes no time, so it
			// is done in this transaction; the answer is the same 202.
			if err := removeNow(c, old); err != nil {
				return err
			}
			return endNow(c, op, od, arm.StateSucceeded, nil)
		}
		return c.Save(old)
	})
	return resp, err
}

// instant reports whether operations take no time (no provisioning delay):
// their callers then complete them in the transaction that starts them.
func (e *Engine) instant() bool { return e.cfg.ProvisioningDelay <= 0 }

// startOperation records a new operation on d (the caller saves d) and
// returns it with its document. The worker is woken after the commit only
// for an operation with a delay: an instant one is its caller's to end.
func (e *Engine) startOperation(c *Ctx, d *Doc, action string) (*store.Operation, *operation.Doc, error) {
	kind := opProvision
	if action == opActionDelete {
		kind = opDelete
	}
	op := &store.Operation{ID: newOperationID(), Kind: kind, Resource: d.ID.Key(), Due: c.Now.Add(e.cfg.ProvisioningDelay)}
	doc := &operation.Doc{
		StartTime:    c.Now.UTC(),
		Action:       action,
		ResourceID:   d.ID.String(),
		Subscription: d.ID.SubscriptionID(),
		Namespace:    d.Kind.Namespace(),
		Location:     e.opLocation(c, d),
	}
	if c.Principal != nil {
		doc.StartedBy = c.Principal.ObjectID
	}
	if err := e.ops.Start(c.Tx, op, doc); err != nil {
		return nil, nil, err
	}
	d.Meta.Op, d.Meta.OpAction = op.ID, action
	c.started = c.started || !e.instant()
	return op, doc, nil
}

// newOperationID makes a time-ordered GUID (UUID version 7): new operations
// then sort after older ones, so a store appends them instead of writing into
// random places of its index, which is most of a durable write's cost.
func newOperationID() string { return uuid.Must(uuid.NewV7()).String() }

// opLocation is the region in an operation's status URL: the resource's, or
// its top-level ancestor's for child types.
func (e *Engine) opLocation(c *Ctx, d *Doc) string {
	if l := d.Str("location"); l != "" && KnownLocation(l) {
		return NormalizeLocation(l)
	}
	id := d.ID
	for len(id.Types) > 1 {
		id = id.Parent()
		if p, err := c.LoadKey(id.Key()); err == nil {
			if l := p.Str("location"); l != "" && KnownLocation(l) {
				return NormalizeLocation(l)
			}
		}
	}
	return "global"
}

// endOperation ends a running operation inside the caller's transaction.
func (e *Engine) endOperation(c *Ctx, id, status string, aerr *arm.Error) error {
	op, err := c.Tx.GetOperation(id)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if op.Status != arm.StateRunning {
		return nil
	}
	d, err := operation.Decode(op)
	if err != nil {
		return err
	}
	operation.Finish(op, d, status, aerr, c.Now)
	if err := c.Tx.PutOperation(op); err != nil {
		return err
	}
	c.ended = append(c.ended, id)
	return nil
}

// asyncHeaders are the polling headers of an accepted request.
func (e *Engine) asyncHeaders(r *Request, d *Doc, op *store.Operation, withLocation bool) http.Header {
	h := http.Header{}
	if r == nil {
		return h
	}
	v := url.QueryEscape(r.APIVersion)
	sub := d.ID.SubscriptionID()
	if d.Kind.StatusStyle == "arm" {
		h.Set("Location", r.BaseURL+"/subscriptions/"+sub+"/operationresults/"+op.ID+"?api-version="+v)
	} else {
		loc, ok := operation.Location(op)
		if !ok {
			loc = "global"
		}
		base := r.BaseURL + "/subscriptions/" + sub + "/providers/" + d.Kind.Namespace() + "/locations/" + loc
		status := base + "/operationStatuses/" + op.ID + "?api-version=" + v
		if d.Kind.StatusStyle == "kusto" {
			status = base + "/operationResults/" + op.ID + "?api-version=" + v
		}
		h.Set("Azure-AsyncOperation", status)
		if withLocation {
			h.Set("Location", base+"/operationResults/"+op.ID+"?api-version="+v+"&operationResultResponseType=Location")
		}
	}
	// Clients sleep for Retry-After before their first poll; an operation that
	// ends within the await window is better served by polling at once. That
	// takes "Retry-After: 0" rather than no header: azcore polls at once
	// either way, but go-azure-sdk (Terraform's azurerm) waits its default
	// ten seconds when the header is missing.
	if left := op.Due.Sub(e.cfg.Now()); left > awaitWindow {
		h.Set("Retry-After", strconv.Itoa(retryAfter(left)))
	} else {
		h.Set("Retry-After", "0")
	}
	return h
}

// retryAfter is the whole number of seconds until d, at least 1: clients
// wait their default interval (often 30 s) when it is absent or 0.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// runProvision completes an asynchronous create or update.
func (e *Engine) runProvision(ctx context.Context, tx store.Tx, op *store.Operation, now time.Time) error {
	od, err := operation.Decode(op)
	if err != nil {
		return err
	}
	c := &Ctx{Context: ctx, E: e, Tx: e.stepTx(ctx, tx), Now: now}
	d, err := c.LoadKey(op.Resource)
	if IsNotFound(err) || (err == nil && d.Meta.Op != op.ID) {
		operation.Finish(op, od, arm.StateCanceled, arm.Errorf("Canceled", "The resource changed or was deleted before the operation completed."), now)
		return nil
	}
	if err != nil {
		return err
	}
	status, aerr, err := provision(c, d)
	if err != nil {
		return err
	}
	c.forwardHooks()
	c.notifyOnCommit()
	operation.Finish(op, od, status, aerr, now)
	return nil
}

// provision completes d's asynchronous create or update and saves d: its
// kind's Provisioned rule, then its terminal provisioning state. status is
// Succeeded, or Failed with aerr when the rule refused; err is the store's
// failure or a rule's that is not an ARM error (the step is retried).
func provision(c *Ctx, d *Doc) (status string, aerr *arm.Error, err error) {
	d.Meta.Op, d.Meta.OpAction = "", ""
	status = arm.StateSucceeded
	if d.Kind.Provisioned != nil {
		if err := d.Kind.Provisioned(c, d); err != nil {
			if aerr = arm.AsError(err); aerr == nil {
				return "", nil, err
			}
			status = arm.StateFailed
		}
	}
	if !d.Kind.NoState {
		d.SetState(status)
	}
	return status, aerr, c.Save(d)
}

// completeInline completes op, the create or update of d that this
// request's transaction started, in that same transaction: what the
// operation's step would do at once, with no delay configured
// (Config.ProvisioningDelay). The store then writes the resource once, in
// its final state, and the operation once, ended: one commit per create
// instead of two, and no step for the worker to find. Clients see what they
// would see of a step run a moment later: the accepted answer and its
// polling headers, and an operation that has ended by their first poll.
func (e *Engine) completeInline(c *Ctx, d *Doc, op *store.Operation, od *operation.Doc) error {
	status, aerr, err := provision(c, d)
	if err != nil {
		return err
	}
	return endNow(c, op, od, status, aerr)
}

// endNow ends op, which c's transaction started, in that transaction, with
// status (and aerr for Failed); its pollers are told once it commits.
func endNow(c *Ctx, op *store.Operation, od *operation.Doc, status string, aerr *arm.Error) error {
	operation.Finish(op, od, status, aerr, c.Now)
	if err := c.Tx.PutOperation(op); err != nil {
		return err
	}
	c.ended = append(c.ended, op.ID)
	return nil
}

// runDelete completes an asynchronous delete: the resource and everything below it go.
func (e *Engine) runDelete(ctx context.Context, tx store.Tx, op *store.Operation, now time.Time) error {
	od, err := operation.Decode(op)
	if err != nil {
		return err
	}
	c := &Ctx{Context: ctx, E: e, Tx: e.stepTx(ctx, tx), Now: now}
	d, err := c.LoadKey(op.Resource)
	if IsNotFound(err) {
		operation.Finish(op, od, arm.StateSucceeded, nil, now)
		return nil
	}
	if err != nil {
		return err
	}
	if d.Meta.Op != op.ID {
		operation.Finish(op, od, arm.StateCanceled, arm.Errorf("Canceled", "The resource changed before the delete completed."), now)
		return nil
	}
	if err := removeNow(c, d); err != nil {
		return err
	}
	c.forwardHooks()
	c.notifyOnCommit()
	operation.Finish(op, od, arm.StateSucceeded, nil, now)
	return nil
}

// removeNow removes d, whose delete operation is completing, and everything
// below it. d's operation is taken off it first, so that Remove, which
// cancels the operations in flight on what it removes, leaves that one to
// its caller to finish.
func removeNow(c *Ctx, d *Doc) error {
	d.Meta.Op, d.Meta.OpAction = "", ""
	if err := c.Save(d); err != nil {
		return err
	}
	return c.Remove(d)
}

// awaitWindow is how long a status poll may wait for an operation about to
// end, so that short operations finish in one poll instead of one
// Retry-After later.
const awaitWindow = time.Second

// loadStatus reads an operation for a status URL, waiting briefly when it is due soon.
func (e *Engine) loadStatus(ctx context.Context, sub, id string) (*store.Operation, *operation.Doc, error) {
	op, d, err := e.ops.Get(ctx, id)
	if err == nil && op.Status == arm.StateRunning {
		if wait := op.Due.Sub(e.cfg.Now()) + 100*time.Millisecond; wait <= awaitWindow {
			e.ops.Await(ctx, id, wait)
			op, d, err = e.ops.Get(ctx, id)
		}
	}
	if IsNotFound(err) || (err == nil && !strings.EqualFold(d.Subscription, sub)) {
		return nil, nil, arm.Errorf(arm.CodeOperationNotFound, "The operation '%s' could not be found.", id)
	}
	if err != nil {
		return nil, nil, err
	}
	return op, d, nil
}

// StatusKind is the operation status type of a namespace:
// {ns}/locations/operationStatuses or {ns}/locations/operationResults. Both
// answer the operation document; with operationResultResponseType=Location
// (or for operationResults of namespaces other than Kusto, whose Location
// headers point there) they answer as a Location URL: 202 while running,
// 200 when done.
func StatusKind(namespace, segment string, apiVersions []string) *Kind {
	k := &Kind{
		Type:        namespace + "/locations/" + segment,
		APIVersions: apiVersions,
		Scope:       ScopeSubscription,
		ReadOnly:    true,
	}
	k.Handle = map[string]func(ctx context.Context, e *Engine, r *Request) (*Response, error){
		http.MethodGet: func(ctx context.Context, e *Engine, r *Request) (*Response, error) {
			id := r.Path.ID
			op, d, err := e.loadStatus(ctx, id.Subscription, id.Name())
			if err != nil {
				return nil, err
			}
			if err := e.authorizeStatus(ctx, r, d); err != nil {
				return nil, err
			}
			if strings.EqualFold(r.Query.Get("operationResultResponseType"), "Location") {
				resp, err := locationResponse(e, op, d)
				if err == nil && resp.Status == http.StatusAccepted {
					// Kusto's spec (OperationsResultsLocation_Get) declares
					// Azure-AsyncOperation on this 202: the operation's status URL.
					resp.Header.Set("Azure-AsyncOperation", r.BaseURL+id.String()+"?api-version="+url.QueryEscape(r.APIVersion))
				}
				return resp, err
			}
			return jsonResponse(http.StatusOK, statusBody(r, id, op, d)), nil
		},
	}
	return k
}

// OperationResult answers ARM's own /subscriptions/{s}/operationresults/{id}
// Location URLs (resource group deletion).
func (e *Engine) OperationResult(ctx context.Context, r *Request, sub, id string) (*Response, error) {
	op, d, err := e.loadStatus(ctx, sub, id)
	if err != nil {
		return nil, err
	}
	if err := e.authorizeStatus(ctx, r, d); err != nil {
		return nil, err
	}
	return locationResponse(e, op, d)
}

// authorizeStatus decides whether r may read the status of the operation
// d: the principal that started it may, any other needs the read access
// that a GET of the operation's resource needs (the operation id alone, a
// random GUID, grants nothing).
func (e *Engine) authorizeStatus(ctx context.Context, r *Request, d *operation.Doc) error {
	if r.Principal != nil && d.StartedBy != "" && strings.EqualFold(d.StartedBy, r.Principal.ObjectID) {
		return nil
	}
	rid, aerr := arm.ParseResourceID(d.ResourceID)
	if aerr != nil {
		return e.authorize(ctx, r, "Microsoft.Resources/subscriptions/read", arm.ResourceID{Subscription: r.Path.ID.SubscriptionID()})
	}
	if k := e.kinds[rid.TypeKey()]; k != nil {
		return e.AuthorizeKind(ctx, k, r, "read", rid)
	}
	return e.authorize(ctx, r, rid.Type()+"/read", rid)
}

func locationResponse(e *Engine, op *store.Operation, d *operation.Doc) (*Response, error) {
	switch op.Status {
	case arm.StateRunning:
		h := http.Header{}
		h.Set("Retry-After", strconv.Itoa(retryAfter(op.Due.Sub(e.cfg.Now()))))
		return &Response{Status: http.StatusAccepted, Header: h}, nil
	case arm.StateSucceeded:
		return &Response{Status: http.StatusOK, Header: http.Header{}}, nil
	}
	if d.Error != nil {
		return nil, d.Error
	}
	return nil, arm.Errorf(arm.CodeConflict, "The operation ended with status '%s'.", op.Status)
}

func statusBody(r *Request, id arm.ResourceID, op *store.Operation, d *operation.Doc) []byte {
	st := arm.OperationStatus{
		ID:        id.String(),
		Name:      op.ID,
		Status:    op.Status,
		StartTime: arm.FormatTime(d.StartTime),
		Error:     d.Error,
	}
	if d.EndTime != nil {
		st.EndTime = arm.FormatTime(*d.EndTime)
	}
	if strings.EqualFold(id.Namespace, "Microsoft.Kusto") {
		pct := 0.0
		if op.Status != arm.StateRunning {
			pct = 100
		}
		st.PercentComplete = &pct
		kind := operationKind(d)
		props := map[string]string{"operationKind": kind, "operationState": op.Status}
		st.Properties, _ = arm.Marshal(props)
	}
	b, _ := arm.Marshal(st)
	return b
}

// operationKind names an operation as Kusto does: "ClusterCreate", "ManagedPrivateEndpointDelete".
func operationKind(d *operation.Doc) string {
	id, err := arm.ParseResourceID(d.ResourceID)
	typ := "Resource"
	if err == nil && len(id.Types) > 0 {
		t := id.Types[len(id.Types)-1]
		t = strings.TrimSuffix(t, "s")
		typ = strings.ToUpper(t[:1]) + t[1:]
	}
	action := d.Action
	if action != "" {
		action = strings.ToUpper(action[:1]) + action[1:]
	}
	return typ + action
}
