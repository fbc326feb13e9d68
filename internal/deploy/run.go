package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/deploy/plan"
	"github.com/privlink/privlink/internal/operation"
	"github.com/privlink/privlink/internal/resource"
	"github.com/privlink/privlink/internal/store"
)

// run is one deployment being run in this process.
type run struct {
	d    *Engine
	key  string // the deployment's store key
	opID string
}

// step is the handler of a deployment's operation. It runs inside the
// store's write transaction, so it deploys nothing itself: it makes sure a
// runner works on the deployment in this process (after a restart, the
// first step starts one again: that is how a deployment resumes) and asks
// to be called again after a lease, in case this process dies.
//
// Processes sharing a store (replicas) step the same operation in turn, so
// the operation records whose runner works on it (Doc.Runner, the
// stepping process's name) until when (Doc.RunnerUntil, which the runner
// renews every lease while it works): a step elsewhere leaves a live
// runner alone, and takes the deployment over once its runner's process
// stopped renewing (it died), so one runner works on a deployment at a time.
func (d *Engine) step(ctx context.Context, tx store.Tx, op *store.Operation, now time.Time) error {
	doc, err := operation.Decode(op)
	if err != nil {
		return err
	}
	me := operation.Owner(ctx)
	if doc.Runner != "" && doc.Runner != me && doc.RunnerUntil != nil && doc.RunnerUntil.After(now) {
		op.Due = *doc.RunnerUntil
		return nil
	}
	d.mu.Lock()
	if _, ok := d.running[op.Resource]; !ok {
		r := &run{d: d, key: op.Resource, opID: op.ID}
		d.running[op.Resource] = r
		go r.start(ctx, me)
	}
	d.mu.Unlock()
	until := now.Add(d.holdFor()).UTC()
	doc.Runner, doc.RunnerUntil = me, &until
	operation.Encode(op, doc)
	op.Due = now.Add(d.cfg.Lease)
	return nil
}

// holdFor is how long a runner's claim on its deployment lasts without
// renewal: three leases, so a late renewal is not mistaken for a death.
func (d *Engine) holdFor() time.Duration { return 3 * d.cfg.Lease }

// start runs the deployment to its end, unless ctx ends first (the server
// is shutting down): the operation then stays due and the next process
// resumes it. While it runs it renews its claim (see step); if another
// process took the deployment over, it stops.
func (r *run) start(ctx context.Context, me string) {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		r.d.mu.Lock()
		delete(r.d.running, r.key)
		r.d.mu.Unlock()
	}()
	go r.renew(ctx, cancel, me)
	if err := r.execute(ctx); err != nil && ctx.Err() == nil {
		r.d.cfg.Logger.Error("deployment runner", "deployment", r.key, "err", err)
	}
}

// renew keeps the runner's claim on its operation alive every lease until
// ctx ends or the operation ends; it cancels the runner when another
// process holds the claim.
func (r *run) renew(ctx context.Context, cancel context.CancelFunc, me string) {
	t := time.NewTicker(r.d.cfg.Lease)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var lost, over bool
		err := r.d.res.Store().Update(ctx, func(tx store.Tx) error {
			lost, over = false, false
			op, err := tx.GetOperation(r.opID)
			if err != nil {
				return err
			}
			if op.Status != arm.StateRunning {
				over = true
				return nil
			}
			doc, err := operation.Decode(op)
			if err != nil {
				return err
			}
			now := time.Now()
			if doc.Runner != me && doc.Runner != "" && doc.RunnerUntil != nil && doc.RunnerUntil.After(now) {
				lost = true
				return nil
			}
			until := now.Add(r.d.holdFor()).UTC()
			doc.Runner, doc.RunnerUntil = me, &until
			operation.Encode(op, doc)
			return tx.PutOperation(op)
		})
		switch {
		case lost:
			r.d.cfg.Logger.Warn("deployment runner: another process took the deployment over", "deployment", r.key)
			cancel()
			return
		case over, errors.Is(err, store.ErrNotFound):
			return
		case err != nil && ctx.Err() == nil:
			r.d.cfg.Logger.Warn("deployment runner: renewing its claim", "deployment", r.key, "err", err)
		}
	}
}

// outcome is how a deployment ended.
type outcome struct {
	state     string // Succeeded, Failed or Canceled
	err       *arm.Error
	outputs   json.RawMessage
	resources []string // ids of the resources deployed
}

// execute runs the deployment whose key is r.key.
func (r *run) execute(ctx context.Context) error {
	e := r.d.res
	var (
		id arm.ResourceID
		st state
	)
	err := e.View(ctx, func(c *resource.Ctx) error {
		doc, err := c.LoadKey(r.key)
		if err != nil {
			return err
		}
		id = doc.ID
		if !doc.Ext(extState, &st) {
			return fmt.Errorf("deployment %s has no state", doc.ID)
		}
		return nil
	})
	if resource.IsNotFound(err) {
		// Deleted under the runner (its resource group went away).
		return r.finishOperation(ctx, arm.StateCanceled, nil)
	}
	if err != nil {
		return err
	}
	if err := r.setState(ctx, id, "Running"); err != nil {
		return err
	}
	out := r.d.deploy(ctx, id, &st, nil)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := r.d.finish(ctx, id, &st, out, r.opID); err != nil {
		return err
	}
	return nil
}

// deploy binds and runs a deployment's plan (p, when the caller has bound
// it already) and says how it ended.
func (d *Engine) deploy(ctx context.Context, id arm.ResourceID, st *state, p plan.Plan) outcome {
	principal := st.Principal
	rt := &runtime{ctx: ctx, e: d.res, principal: &principal, baseURL: st.BaseURL, secrets: d.cfg.Secrets}
	if p == nil {
		var err error
		if p, err = d.bind(ctx, id, st); err != nil {
			return failed(err)
		}
	}
	rt.versions = map[string]string{}
	for _, res := range p.Resources() {
		if rid, aerr := arm.ParseResourceID(res.ID); aerr == nil {
			rt.versions[rid.Key()] = res.APIVersion
		}
	}
	x := &execution{d: d, ctx: ctx, id: id, st: st, p: p, rt: rt}
	out := x.run()
	if out.state != arm.StateSucceeded {
		return out
	}
	if p.Mode() == "Complete" && id.ResourceGroup != "" {
		if err := x.cleanup(); err != nil {
			return failed(err)
		}
	}
	outputs, err := p.Outputs(rt)
	if err != nil {
		return failed(err)
	}
	out.outputs = outputs
	return out
}

func failed(err error) outcome {
	ae := arm.AsError(err)
	if ae == nil {
		ae = arm.Errorf(arm.CodeInternalServerError, "The deployment failed: %v", err)
	}
	return outcome{state: arm.StateFailed, err: ae}
}

// execution is one run of a plan's resources.
type execution struct {
	d   *Engine
	ctx context.Context
	id  arm.ResourceID
	st  *state
	p   plan.Plan
	rt  *runtime

	mu       sync.Mutex
	failures []*arm.Error
	deployed []string
	// checked is when canceled() last read the store, stopped what it found.
	checked time.Time
	stopped bool
}

// Resource states during an execution.
const (
	pending = iota
	running
	done    // deployed, or nothing to deploy (condition false, existing)
	failure // its deployment failed
	blocked // something it depends on failed, or the deployment was canceled
)

type result struct {
	i   int
	err error
}

// run deploys the plan's resources: each one once everything it depends on
// is done, independent ones at the same time (up to Parallelism), serial
// copy loops one batch after the other. A failure stops what depends on it
// and nothing else; the deployment then fails with every failure listed.
func (x *execution) run() outcome {
	res := x.p.Resources()
	n := len(res)
	deps := make([][]int, n)
	for i, r := range res {
		deps[i] = append(deps[i], r.DependsOn...)
	}
	serialEdges(res, deps)
	dependents := make([][]int, n)
	waiting := make([]int, n)
	for i := range res {
		for _, j := range deps[i] {
			dependents[j] = append(dependents[j], i)
			waiting[i]++
		}
	}
	status := make([]int, n)
	prior, err := x.priorResults()
	if err != nil {
		return failed(err)
	}
	results := make(chan result)
	sem := make(chan struct{}, x.d.cfg.Parallelism)
	inflight := 0
	var ready []int
	var settle func(i, s int)
	settle = func(i, s int) {
		status[i] = s
		for _, j := range dependents[i] {
			if status[j] != pending {
				continue
			}
			if s == failure || s == blocked {
				settle(j, blocked)
				continue
			}
			if waiting[j]--; waiting[j] == 0 {
				ready = append(ready, j)
			}
		}
	}
	for i := range res {
		if waiting[i] == 0 {
			ready = append(ready, i)
		}
	}
	for {
		for len(ready) > 0 {
			i := ready[0]
			ready = ready[1:]
			if status[i] != pending {
				continue
			}
			r := res[i]
			switch {
			case !r.Condition || r.Existing:
				settle(i, done)
			case prior[i] == arm.StateSucceeded:
				x.noteDeployed(r)
				settle(i, done)
			case x.canceled():
				settle(i, blocked)
			default:
				status[i] = running
				inflight++
				go func(i int) {
					sem <- struct{}{}
					defer func() { <-sem }()
					results <- result{i, x.deployOne(res[i])}
				}(i)
			}
		}
		if inflight == 0 {
			break
		}
		rs := <-results
		inflight--
		if rs.err != nil {
			settle(rs.i, failure)
		} else {
			settle(rs.i, done)
		}
	}
	if x.ctx.Err() != nil {
		return outcome{state: arm.StateCanceled}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.failures) > 0 {
		return outcome{state: arm.StateFailed, err: &arm.Error{
			Code:    arm.CodeDeploymentFailed,
			Target:  x.id.String(),
			Message: "At least one resource deployment operation failed. Please list deployment operations for details. Please see https://aka.ms/arm-deployment-operations for usage details.",
			Details: x.failures,
		}, resources: x.deployed}
	}
	for i := range status {
		if status[i] == blocked {
			return outcome{state: arm.StateCanceled, resources: x.deployed}
		}
	}
	return outcome{state: arm.StateSucceeded, resources: x.deployed}
}

// serialEdges makes each batch of a serial copy loop wait for the batch before.
func serialEdges(res []*plan.Resource, deps [][]int) {
	loops := map[string][]*plan.Resource{}
	for _, r := range res {
		if r.Serial && r.Copy != "" {
			loops[strings.ToLower(r.Copy)] = append(loops[strings.ToLower(r.Copy)], r)
		}
	}
	for _, inst := range loops {
		sort.Slice(inst, func(a, b int) bool { return inst[a].CopyIndex < inst[b].CopyIndex })
		size := inst[0].BatchSize
		if size < 1 {
			size = 1
		}
		for k, r := range inst {
			if b := k / size; b > 0 {
				for _, prev := range inst[(b-1)*size : b*size] {
					deps[r.Index] = append(deps[r.Index], prev.Index)
				}
			}
		}
	}
}

func (x *execution) noteDeployed(r *plan.Resource) {
	x.mu.Lock()
	x.deployed = append(x.deployed, r.ID)
	x.mu.Unlock()
}

// canceled reports whether the deployment was asked to stop. The store is
// asked at most every 100 ms: a cancel takes effect on the resources not
// yet started, and 800 of them start within moments.
func (x *execution) canceled() bool {
	if x.ctx.Err() != nil {
		return true
	}
	if x.stopped {
		return true
	}
	if time.Since(x.checked) < 100*time.Millisecond {
		return false
	}
	x.checked = time.Now()
	var stop bool
	err := x.d.res.View(x.ctx, func(c *resource.Ctx) error {
		doc, err := c.LoadKey(x.id.Key())
		if err != nil {
			return err
		}
		doc.Ext(extCancel, &stop)
		return nil
	})
	x.stopped = err != nil || stop
	return x.stopped
}

// priorResults reads what an earlier run of this deployment (before a
// restart) already finished: resource index -> Succeeded or Failed.
func (x *execution) priorResults() (map[int]string, error) {
	out := map[int]string{}
	err := x.d.res.View(x.ctx, func(c *resource.Ctx) error {
		ops, err := c.Children(x.id, OperationsType)
		if err != nil {
			return err
		}
		for _, o := range ops {
			var s opState
			if o.Ext(extOp, &s) {
				out[s.Index] = s.State
			}
		}
		return nil
	})
	return out, err
}

// deployOne deploys one resource and records its deployment operation.
func (x *execution) deployOne(r *plan.Resource) error {
	start := time.Now()
	status, err := x.deployResource(r)
	if err != nil && x.ctx.Err() != nil {
		return err // shutting down: not the resource's failure
	}
	ae := arm.AsError(err)
	if err != nil && ae == nil {
		ae = arm.Errorf(arm.CodeInternalServerError, "Deploying the resource failed: %v", err)
	}
	if ae != nil {
		if status == 0 {
			status = ae.HTTPStatus()
		}
		x.mu.Lock()
		x.failures = append(x.failures, &arm.Error{Code: ae.Code, Message: ae.Message, Target: ae.Target, Details: ae.Details})
		x.mu.Unlock()
	} else {
		x.noteDeployed(r)
	}
	if rerr := x.record(r, "Create", start, status, ae); rerr != nil {
		return rerr
	}
	if ae != nil {
		return ae
	}
	return nil
}

// deployResource PUTs one resource (or runs one nested deployment) and
// waits for it; it returns the HTTP status the write answered.
func (x *execution) deployResource(r *plan.Resource) (int, error) {
	if r.Nested != nil {
		return x.deployNested(r)
	}
	body, err := x.p.Body(r, x.rt, false)
	if err != nil {
		return 0, err
	}
	resp, err := x.rt.call(http.MethodPut, r.ID, r.APIVersion, body)
	for tries := 0; err != nil && isCode(err, arm.CodeAnotherOperationInProgress) && tries < 600; tries++ {
		// A write of an earlier run (before a restart) is still under way:
		// let it end, then write again.
		if werr := x.settle(r); werr != nil {
			return 0, werr
		}
		resp, err = x.rt.call(http.MethodPut, r.ID, r.APIVersion, body)
	}
	if err != nil {
		return 0, err
	}
	if err := x.rt.await(resp); err != nil {
		return resp.Status, err
	}
	return resp.Status, nil
}

func isCode(err error, code string) bool {
	ae := arm.AsError(err)
	return ae != nil && ae.Code == code
}

// settle waits a moment for the operation in flight on r to end.
func (x *execution) settle(r *plan.Resource) error {
	select {
	case <-x.ctx.Done():
		return x.ctx.Err()
	case <-time.After(100 * time.Millisecond):
		return nil
	}
}

// deployNested runs a nested deployment: its own deployment record at its
// scope, named as the resource, run to its end before the parent goes on.
func (x *execution) deployNested(r *plan.Resource) (int, error) {
	sub, rg := r.Nested.SubscriptionID, r.Nested.ResourceGroup
	if sub == "" {
		sub = x.id.Subscription
	}
	name := r.Name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	id := arm.ResourceID{Subscription: sub, ResourceGroup: rg, Namespace: "Microsoft.Resources", Types: []string{"deployments"}, Names: []string{name}}
	if err := validateName(name); err != nil {
		return 0, err
	}
	st := *x.st
	st.Parent = x.id.String()
	st.Template, st.Parameters, st.TemplateLink = nil, nil, nil
	var s plan.Scope
	err := x.d.res.View(x.ctx, func(c *resource.Ctx) error {
		var err error
		s, err = x.d.scope(c, id, &st, name)
		return err
	})
	if err != nil {
		return 0, err
	}
	child, err := x.p.Nested(r, x.rt, s)
	if err != nil {
		return 0, err
	}
	st.Template = child.Template()
	st.Mode = child.Mode()
	status, err := x.d.startNested(x.ctx, id, &st, child)
	if err != nil {
		return status, err
	}
	out := x.d.deploy(x.ctx, id, &st, child)
	if x.ctx.Err() != nil {
		return 0, x.ctx.Err()
	}
	if err := x.d.finish(x.ctx, id, &st, out, ""); err != nil {
		return 0, err
	}
	if out.state != arm.StateSucceeded {
		if out.err != nil {
			return status, out.err
		}
		return status, arm.Errorf(arm.CodeDeploymentCanceled, "The nested deployment '%s' was canceled.", name)
	}
	return status, nil
}

// startNested writes a nested deployment's record, Running: a deployment
// of its scope's history like any other (see History), made as the
// deploying principal.
func (d *Engine) startNested(ctx context.Context, id arm.ResourceID, st *state, p plan.Plan) (int, error) {
	principal := st.Principal
	req := &resource.Request{Principal: &principal}
	full, err := d.admit(ctx, id, req)
	if err != nil {
		return 0, err
	}
	status := http.StatusCreated
	err = d.res.Update(ctx, func(c *resource.Ctx) error {
		doc, replaced, err := d.newRecord(c, id, p, st, "Running")
		if err != nil {
			return err
		}
		if replaced {
			status = http.StatusOK
		}
		return c.Save(doc)
	})
	if err == nil && full {
		d.trim(ctx, scopeOf(id), req)
	}
	return status, err
}

// record writes a resource's deployment operation.
func (x *execution) record(r *plan.Resource, provisioning string, start time.Time, status int, ae *arm.Error) error {
	state := arm.StateSucceeded
	msg := map[string]any{"status": "OK"}
	if ae != nil {
		state = arm.StateFailed
		msg = map[string]any{"status": "Failed", "error": ae}
	}
	code := http.StatusText(status)
	if status == 0 {
		code = "BadRequest"
	}
	code = strings.ReplaceAll(code, " ", "")
	return x.d.res.Update(x.ctx, func(c *resource.Ctx) error {
		if _, err := c.LoadKey(x.id.Key()); err != nil {
			return err // the deployment is gone
		}
		opID := operationName()
		oid := x.id.Child("operations", opID)
		doc := c.NewDoc(x.d.res.Kind(OperationsType), oid)
		doc.Obj.Delete("name")
		doc.Obj.Delete("type")
		doc.Obj.SetValue("operationId", opID)
		props := doc.Props()
		props.SetValue("provisioningOperation", provisioning)
		props.SetValue("provisioningState", state)
		props.SetValue("timestamp", arm.FormatTime(c.Now))
		props.SetValue("duration", isoDuration(c.Now.Sub(start)))
		props.SetValue("trackingId", c.E.NewID())
		props.SetValue("serviceRequestId", c.E.NewID())
		props.SetValue("statusCode", code)
		props.SetValue("statusMessage", msg)
		props.SetValue("targetResource", map[string]any{"id": r.ID, "resourceType": r.Type, "resourceName": r.Name, "apiVersion": r.APIVersion})
		doc.SetExt(extOp, opState{Index: r.Index, State: state})
		return c.Save(doc)
	})
}

// operationName is a deployment operation id as ARM writes them: 16
// upper-case hex digits.
func operationName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// isoDuration writes d as ARM's ISO 8601 durations ("PT1.2345678S").
func isoDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return fmt.Sprintf("PT%.7fS", d.Seconds())
}

// cleanup is Complete mode: the resource group's resources (groupResource)
// that the template does not name are deleted.
func (x *execution) cleanup() error {
	keep := map[string]bool{}
	for _, r := range x.p.Resources() {
		if !r.Condition {
			continue
		}
		if rid, aerr := arm.ParseResourceID(r.ID); aerr == nil {
			keep[rid.Key()] = true
		}
	}
	var doomed []*resource.Doc
	err := x.d.res.View(x.ctx, func(c *resource.Ctx) error {
		rg := arm.ResourceID{Subscription: x.id.Subscription, ResourceGroup: x.id.ResourceGroup}
		docs, err := c.Children(rg, "")
		if err != nil {
			return err
		}
		for _, d := range docs {
			if !keep[d.ID.Key()] && groupResource(d) {
				doomed = append(doomed, d)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range doomed {
		start := time.Now()
		v := x.rt.apiVersion(d.ID.String(), "")
		resp, err := x.rt.call(http.MethodDelete, d.ID.String(), v, nil)
		if err == nil {
			err = x.rt.await(resp)
		}
		r := &plan.Resource{Index: -1, ID: d.ID.String(), Type: d.Kind.Type, Name: strings.Join(d.ID.Names, "/"), APIVersion: v}
		status := http.StatusOK
		if resp != nil {
			status = resp.Status
		}
		ae := arm.AsError(err)
		if err != nil && ae == nil {
			return err
		}
		if rerr := x.record(r, "Delete", start, status, ae); rerr != nil {
			return rerr
		}
		if ae != nil {
			return &arm.Error{Code: arm.CodeDeploymentFailed, Target: x.id.String(), Message: "At least one resource deployment operation failed. Please list deployment operations for details. Please see https://aka.ms/arm-deployment-operations for usage details.", Details: []*arm.Error{ae}}
		}
	}
	return nil
}

// setState sets a deployment's provisioningState.
func (r *run) setState(ctx context.Context, id arm.ResourceID, s string) error {
	return r.d.res.Update(ctx, func(c *resource.Ctx) error {
		doc, err := c.LoadKey(id.Key())
		if err != nil {
			return err
		}
		if cur, _, _ := doc.Props().String("provisioningState"); terminal(cur) || cur == s {
			return nil
		}
		doc.Props().SetValue("provisioningState", s)
		return c.Save(doc)
	})
}

// finish writes how a deployment ended, and ends its operation (opID "" for
// a nested deployment, which has none).
func (d *Engine) finish(ctx context.Context, id arm.ResourceID, st *state, out outcome, opID string) error {
	err := d.res.Update(ctx, func(c *resource.Ctx) error {
		doc, err := c.LoadKey(id.Key())
		if resource.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		props := doc.Props()
		props.SetValue("provisioningState", out.state)
		props.SetValue("timestamp", arm.FormatTime(c.Now))
		props.SetValue("duration", isoDuration(c.Now.Sub(st.Started)))
		if out.outputs != nil {
			props.Set("outputs", out.outputs)
		}
		if len(out.resources) > 0 {
			ids := make([]map[string]string, len(out.resources))
			for i, r := range out.resources {
				ids[i] = map[string]string{"id": r}
			}
			props.SetValue("outputResources", ids)
		}
		if out.err != nil {
			props.SetValue("error", out.err)
		}
		doc.Meta.Op, doc.Meta.OpAction = "", ""
		if err := c.Save(doc); err != nil {
			return err
		}
		if opID == "" {
			return nil
		}
		return endOperation(c, opID, out)
	})
	if err == nil && opID != "" {
		d.res.Operations().Ended(opID)
	}
	return err
}

// endOperation ends a deployment's operation with its outcome.
func endOperation(c *resource.Ctx, opID string, out outcome) error {
	op, err := c.Tx.GetOperation(opID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if op.Status != arm.StateRunning {
		return nil
	}
	od, err := operation.Decode(op)
	if err != nil {
		return err
	}
	operation.Finish(op, od, out.state, out.err, c.Now)
	return c.Tx.PutOperation(op)
}

// finishOperation ends r's operation when there is no deployment left to finish.
func (r *run) finishOperation(ctx context.Context, status string, aerr *arm.Error) error {
	err := r.d.res.Update(ctx, func(c *resource.Ctx) error {
		return endOperation(c, r.opID, outcome{state: status, err: aerr})
	})
	if err == nil {
		r.d.res.Operations().Ended(r.opID)
	}
	return err
}
