package operation_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/operation"
	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/sqlite"
)

const kind = "test.step"

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a fake clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func openStore(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newStore(t *testing.T) *sqlite.DB {
	return openStore(t, filepath.Join(t.TempDir(), "privlink.db"))
}

func newEngine(s store.Store, c *clock, maxAttempts int) *operation.Engine {
	return operation.New(s, operation.Options{
		Now:         c.Now,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Poll:        10 * time.Millisecond,
		MaxAttempts: maxAttempts,
	})
}

// counter counts handler calls per operation.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) inc(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[id]++
}

func (c *counter) get(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[id]
}

// succeed is a handler that ends the operation on its first step.
func succeed(calls *counter) operation.Handler {
	return func(ctx context.Context, tx store.Tx, op *store.Operation, now time.Time) error {
		calls.inc(op.ID)
		d, err := operation.Decode(op)
		if err != nil {
			return err
		}
		operation.Finish(op, d, arm.StateSucceeded, nil, now)
		return nil
	}
}

func start(t *testing.T, s store.Store, e *operation.Engine, id string, due time.Time) {
	t.Helper()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		return e.Start(tx, &store.Operation{ID: id, Kind: kind, Resource: "/subscriptions/s/resourcegroups/rg", Due: due}, &operation.Doc{Action: "test"})
	})
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
}

func runDue(t *testing.T, e *operation.Engine) int {
	t.Helper()
	n, err := e.RunDue(context.Background())
	if err != nil {
		t.Fatalf("RunDue: %v", err)
	}
	return n
}

func get(t *testing.T, e *operation.Engine, id string) (*store.Operation, *operation.Doc) {
	t.Helper()
	op, d, err := e.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return op, d
}

func TestStart(t *testing.T) {
	s := newStore(t)
	c := newClock()
	e := newEngine(s, c, 0)
	e.Handle(kind, succeed(&counter{}))

	start(t, s, e, "op1", t0.Add(time.Second))
	op, d := get(t, e, "op1")
	if got, want := op.Status, arm.StateRunning; got != want {
		t.Fatalf("op.Status = %q, want %q", got, want)
	}
	if got, want := d.Status, arm.StateRunning; got != want {
		t.Fatalf("doc status = %q, want %q", got, want)
	}
	if got, want := d.StartTime, t0; !got.Equal(want) {
		t.Fatalf("StartTime = %v, want %v", got, want)
	}
	if got, want := d.Action, "test"; got != want {
		t.Fatalf("Action = %q, want %q", got, want)
	}
	if got, want := op.Due, t0.Add(time.Second); !got.Equal(want) {
		t.Fatalf("Due = %v, want %v", got, want)
	}

	err := s.Update(context.Background(), func(tx store.Tx) error {
		return e.Start(tx, &store.Operation{ID: "op2", Kind: "no.such.kind", Due: t0}, &operation.Doc{})
	})
	if err == nil {
		t.Fatalf("Start with an unregistered kind succeeded")
	}
	if _, _, err := e.Get(context.Background(), "op2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(op2) after a failed Start: %v, want ErrNotFound", err)
	}
}

func TestRunDueWaitsForDue(t *testing.T) {
	s := newStore(t)
	c := newClock()
	e := newEngine(s, c, 0)
	var calls counter
	e.Handle(kind, succeed(&calls))
	start(t, s, e, "op1", t0.Add(5*time.Second))

	tests := []struct {
		name      string
		advance   time.Duration
		wantSteps int
		wantCalls int
		status    string
	}{
		{"not yet due", 0, 0, 0, arm.StateRunning},
		{"a moment before due", 5*time.Second - time.Nanosecond, 0, 0, arm.StateRunning},
		{"exactly due", time.Nanosecond, 1, 1, arm.StateSucceeded},
		{"ended operations do not run again", time.Hour, 0, 1, arm.StateSucceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Advance(tt.advance)
			if got, want := runDue(t, e), tt.wantSteps; got != want {
				t.Fatalf("RunDue ran %d steps, want %d", got, want)
			}
			if got, want := calls.get("op1"), tt.wantCalls; got != want {
				t.Fatalf("handler called %d times, want %d", got, want)
			}
			op, d := get(t, e, "op1")
			if got, want := op.Status, tt.status; got != want {
				t.Fatalf("status = %q, want %q", got, want)
			}
			if got, want := d.Status, tt.status; got != want {
				t.Fatalf("doc status = %q, want %q", got, want)
			}
		})
	}
	op, d := get(t, e, "op1")
	if !op.Due.IsZero() {
		t.Fatalf("ended operation still due at %v", op.Due)
	}
	if d.EndTime == nil || !d.EndTime.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("EndTime = %v, want %v", d.EndTime, t0.Add(5*time.Second))
	}
	if d.Error != nil {
		t.Fatalf("Error = %v, want none", d.Error)
	}
}

// A handler that sets a later Due is called again then, with the state it saved.
func TestMultiStep(t *testing.T) {
	s := newStore(t)
	c := newClock()
	e := newEngine(s, c, 0)
	var calls counter
	e.Handle(kind, func(ctx context.Context, tx store.Tx, op *store.Operation, now time.Time) error {
		calls.inc(op.ID)
		d, err := operation.Decode(op)
		if err != nil {
			return err
		}
		var step int
		if len(d.Payload) > 0 {
			if _, err := fmt.Sscan(string(d.Payload), &step); err != nil {
				return err
			}
		}
		step++
		d.Payload = []byte(fmt.Sprint(step))
		if step == 3 {
			operation.Finish(op, d, arm.StateSucceeded, nil, now)
			return nil
		}
		op.Due = now.Add(10 * time.Second)
		operation.Encode(op, d)
		return nil
	})
	start(t, s, e, "op1", t0)

	for i, want := range []int{1, 1, 2, 2, 3} {
		runDue(t, e)
		if got := calls.get("op1"); got != want {
			t.Fatalf("round %d: handler called %d times, want %d", i, got, want)
		}
		c.Advance(5 * time.Second)
	}
	_, d := get(t, e, "op1")
	if got, want := d.Status, arm.StateSucceeded; got != want {
		t.Fatalf("status = %q, want %q", got, want)
	}
	if got, want := string(d.Payload), "3"; got != want {
		t.Fatalf("payload = %q, want %q", got, want)
	}
}

func TestRetryThenFail(t *testing.T) {
	s := newStore(t)
	c := newClock()
	e := newEngine(s, c, 3)
	var calls counter
	e.Handle(kind, func(ctx context.Context, tx store.Tx, op *store.Operation, now time.Time) error {
		calls.inc(op.ID)
		// The step's writes roll back with its error.
		if err := tx.Create(&store.Record{ID: fmt.Sprintf("/side/effect/%d", calls.get(op.ID)), Type: "T", Body: []byte(`{}`)}); err != nil {
			return err
		}
		return errors.New("boom")
	})
	start(t, s, e, "op1", t0)

	// Backoff doubles from 200ms: due again at +200ms, then +400ms after that.
	tests := []struct {
		name         string
		advance      time.Duration
		wantCalls    int
		wantAttempts int
		wantStatus   string
		wantDue      time.Time
	}{
		{"first failure", 0, 1, 1, arm.StateRunning, t0.Add(200 * time.Millisecond)},
		{"not retried before backoff", 199 * time.Millisecond, 1, 1, arm.StateRunning, t0.Add(200 * time.Millisecond)},
		{"second failure", time.Millisecond, 2, 2, arm.StateRunning, t0.Add(600 * time.Millisecond)},
		{"not retried before longer backoff", 399 * time.Millisecond, 2, 2, arm.StateRunning, t0.Add(600 * time.Millisecond)},
		{"third failure fails the operation", time.Millisecond, 3, 3, arm.StateFailed, time.Time{}},
		{"failed operation is not retried", time.Hour, 3, 3, arm.StateFailed, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Advance(tt.advance)
			runDue(t, e)
			if got, want := calls.get("op1"), tt.wantCalls; got != want {
				t.Fatalf("handler called %d times, want %d", got, want)
			}
			op, d := get(t, e, "op1")
			if got, want := d.Attempts, tt.wantAttempts; got != want {
				t.Fatalf("Attempts = %d, want %d", got, want)
			}
			if got, want := op.Status, tt.wantStatus; got != want {
				t.Fatalf("status = %q, want %q", got, want)
			}
			if got, want := op.Due, tt.wantDue; !got.Equal(want) {
				t.Fatalf("Due = %v, want %v", got, want)
			}
		})
	}

	_, d := get(t, e, "op1")
	if d.Error == nil {
		t.Fatalf("failed operation has no error")
	}
	if got, want := d.Error.Code, arm.CodeInternalServerError; got != want {
		t.Fatalf("error code = %q, want %q", got, want)
	}
	if got, want := d.Error.HTTPStatus(), http.StatusInternalServerError; got != want {
		t.Fatalf("error status = %d, want %d", got, want)
	}
	if d.EndTime == nil || !d.EndTime.Equal(t0.Add(600*time.Millisecond)) {
		t.Fatalf("EndTime = %v, want %v", d.EndTime, t0.Add(600*time.Millisecond))
	}
	// No failed step left anything behind.
	err := s.View(context.Background(), func(tx store.Tx) error {
		recs, err := tx.List(store.Query{})
		if err != nil {
			return err
		}
		if len(recs) != 0 {
			return fmt.Errorf("failed steps left %d records, first %s", len(recs), recs[0].ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPanickingHandler(t *testing.T) {
	s := newStore(t)
	c := newClock()
	e := newEngine(s, c, 2)
	var calls counter
	e.Handle(kind, func(ctx context.Context, tx store.Tx, op *store.Operation, now time.Time) error {
		calls.inc(op.ID)
		panic("kaboom")
	})
	start(t, s, e, "op1", t0)

	runDue(t, e) // must not crash the test binary
	if got, want := calls.get("op1"), 1; got != want {
		t.Fatalf("handler called %d times, want %d", got, want)
	}
	op, d := get(t, e, "op1")
	if got, want := d.Attempts, 1; got != want {
		t.Fatalf("Attempts after a panic = %d, want %d", got, want)
	}
	if got, want := op.Status, arm.StateRunning; got != want {
		t.Fatalf("status after one panic = %q, want %q", got, want)
	}

	c.Advance(time.Second)
	runDue(t, e)
	op, d = get(t, e, "op1")
	if got, want := op.Status, arm.StateFailed; got != want {
		t.Fatalf("status after MaxAttempts panics = %q, want %q", got, want)
	}
	if d.Error == nil || d.Error.Code != arm.CodeInternalServerError {
		t.Fatalf("error = %v, want %s", d.Error, arm.CodeInternalServerError)
	}

	// The store still works after the panics.
	var ok counter
	e.Handle("test.ok", succeed(&ok))
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		return e.Start(tx, &store.Operation{ID: "op2", Kind: "test.ok", Due: c.Now()}, &operation.Doc{})
	}); err != nil {
		t.Fatal(err)
	}
	runDue(t, e)
	if got, want := ok.get("op2"), 1; got != want {
		t.Fatalf("handler after panics called %d times, want %d", got, want)
	}
}

func TestAwait(t *testing.T) {
	s := newStore(t)
	c := newClock()
	e := newEngine(s, c, 0)
	var calls counter
	e.Handle(kind, succeed(&calls))
	ctx := context.Background()

	t.Run("returns when another goroutine ends the operation", func(t *testing.T) {
		start(t, s, e, "op1", t0.Add(time.Second))
		done := make(chan time.Duration, 1)
		go func() {
			begin := time.Now()
			e.Await(ctx, "op1", time.Minute)
			done <- time.Since(begin)
		}()
		select {
		case <-done:
			t.Fatalf("Await returned while the operation was running")
		case <-time.After(50 * time.Millisecond):
		}
		// Another worker ends it; its step calls Ended.
		c.Advance(time.Second)
		go func() {
			if _, err := e.RunDue(ctx); err != nil {
				t.Errorf("RunDue: %v", err)
			}
		}()
		select {
		case d := <-done:
			if d > 10*time.Second {
				t.Fatalf("Await took %v", d)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Await did not return after the operation ended")
		}
		op, _ := get(t, e, "op1")
		if got, want := op.Status, arm.StateSucceeded; got != want {
			t.Fatalf("status = %q, want %q", got, want)
		}
	})

	t.Run("Ended wakes every waiter", func(t *testing.T) {
		start(t, s, e, "op2", c.Now().Add(time.Hour))
		const n = 3
		var wg sync.WaitGroup
		var returned atomic.Int32
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.Await(ctx, "op2", time.Minute)
				returned.Add(1)
			}()
		}
		time.Sleep(50 * time.Millisecond)
		if got := returned.Load(); got != 0 {
			t.Fatalf("%d waiters returned before Ended", got)
		}
		// A waiter that subscribes only after an Ended would sleep on: keep
		// ending until all are back (well within their one-minute limit).
		all := make(chan struct{})
		go func() { wg.Wait(); close(all) }()
		deadline := time.After(10 * time.Second)
	wait:
		for {
			e.Ended("op2")
			select {
			case <-all:
				break wait
			case <-deadline:
				t.Fatalf("only %d of %d waiters returned after Ended", returned.Load(), n)
			case <-time.After(5 * time.Millisecond):
			}
		}
		if got, want := returned.Load(), int32(n); got != want {
			t.Fatalf("%d waiters returned, want %d", got, want)
		}
	})

	t.Run("times out while the operation runs", func(t *testing.T) {
		start(t, s, e, "op3", c.Now().Add(time.Hour))
		begin := time.Now()
		e.Await(ctx, "op3", 100*time.Millisecond)
		if d := time.Since(begin); d < 100*time.Millisecond || d > 10*time.Second {
			t.Fatalf("Await(100ms) took %v", d)
		}
		op, _ := get(t, e, "op3")
		if got, want := op.Status, arm.StateRunning; got != want {
			t.Fatalf("status = %q, want %q", got, want)
		}
	})

	t.Run("returns at once for an ended operation", func(t *testing.T) {
		begin := time.Now()
		e.Await(ctx, "op1", time.Minute)
		if d := time.Since(begin); d > 10*time.Second {
			t.Fatalf("Await on an ended operation took %v", d)
		}
	})

	t.Run("returns at once for an unknown operation", func(t *testing.T) {
		begin := time.Now()
		e.Await(ctx, "nope", time.Minute)
		if d := time.Since(begin); d > 10*time.Second {
			t.Fatalf("Await on an unknown operation took %v", d)
		}
	})

	t.Run("returns when the context ends", func(t *testing.T) {
		start(t, s, e, "op4", c.Now().Add(time.Hour))
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		begin := time.Now()
		e.Await(cctx, "op4", time.Minute)
		if d := time.Since(begin); d > 10*time.Second {
			t.Fatalf("Await with a 50ms context took %v", d)
		}
	})
}

// Run picks up an operation as soon as it is woken, then stops with its context.
func TestRun(t *testing.T) {
	s := newStore(t)
	c := newClock()
	e := newEngine(s, c, 0)
	var calls counter
	e.Handle(kind, succeed(&calls))

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { e.Run(ctx); close(stopped) }()

	start(t, s, e, "op1", t0)
	e.Wake()
	e.Await(context.Background(), "op1", 10*time.Second)
	op, _ := get(t, e, "op1")
	if got, want := op.Status, arm.StateSucceeded; got != want {
		t.Fatalf("status = %q, want %q", got, want)
	}
	if got, want := calls.get("op1"), 1; got != want {
		t.Fatalf("handler called %d times, want %d", got, want)
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not return after its context ended")
	}
}

// An operation written before a crash or restart runs in the next process.
func TestResumeAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "privlink.db")
	c := newClock()

	s1, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e1 := newEngine(s1, c, 0)
	var failOnce counter
	e1.Handle(kind, func(ctx context.Context, tx store.Tx, op *store.Operation, now time.Time) error {
		failOnce.inc(op.ID)
		return errors.New("process is going down")
	})
	start(t, s1, e1, "op1", t0.Add(time.Second))
	start(t, s1, e1, "op2", t0)
	runDue(t, e1) // op2 fails once; op1 is not due yet
	if got, want := failOnce.get("op1"), 0; got != want {
		t.Fatalf("op1 ran %d times before due", got)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, path)
	e2 := newEngine(s2, c, 0)
	var calls counter
	e2.Handle(kind, succeed(&calls))
	if got, want := runDue(t, e2), 0; got != want {
		t.Fatalf("RunDue after restart ran %d steps before anything was due, want %d", got, want)
	}
	c.Advance(2 * time.Second)
	if got, want := runDue(t, e2), 2; got != want {
		t.Fatalf("RunDue after restart ran %d steps, want %d", got, want)
	}
	for _, id := range []string{"op1", "op2"} {
		if got, want := calls.get(id), 1; got != want {
			t.Fatalf("%s: handler called %d times after restart, want %d", id, got, want)
		}
		op, d := get(t, e2, id)
		if got, want := op.Status, arm.StateSucceeded; got != want {
			t.Fatalf("%s: status = %q, want %q", id, got, want)
		}
		if got, want := d.StartTime, t0; !got.Equal(want) {
			t.Fatalf("%s: StartTime = %v, want %v", id, got, want)
		}
	}
	// The failed attempt before the restart was remembered.
	_, d := get(t, e2, "op2")
	if got, want := d.Attempts, 1; got != want {
		t.Fatalf("op2 Attempts = %d, want %d", got, want)
	}
}

// Two workers over one store run each step once, however they interleave.
func TestTwoWorkersRunEachStepOnce(t *testing.T) {
	s := newStore(t)
	c := newClock()
	var calls counter
	e1, e2 := newEngine(s, c, 0), newEngine(s, c, 0)
	e1.Handle(kind, succeed(&calls))
	e2.Handle(kind, succeed(&calls))

	// More than one RunDue batch (64).
	const n = 150
	for i := range n {
		start(t, s, e1, fmt.Sprintf("op%03d", i), t0)
	}
	var wg sync.WaitGroup
	for _, e := range []*operation.Engine{e1, e2, e1, e2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if _, err := e.RunDue(context.Background()); err != nil {
					t.Errorf("RunDue: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	for i := range n {
		id := fmt.Sprintf("op%03d", i)
		if got, want := calls.get(id), 1; got != want {
			t.Fatalf("%s: handler called %d times, want %d", id, got, want)
		}
		op, _ := get(t, e1, id)
		if got, want := op.Status, arm.StateSucceeded; got != want {
			t.Fatalf("%s: status = %q, want %q", id, got, want)
		}
	}
}

// viewHook is a store whose View calls after() once it returns: a way to
// learn that a worker has listed the due operations.
type viewHook struct {
	store.Store
	after func()
}

func (v viewHook) View(ctx context.Context, fn func(store.Tx) error) error {
	err := v.Store.View(ctx, fn)
	v.after()
	return err
}

// A worker that listed an operation as due while another was running its
// step must not run the step again once that one commits, whether the step
// ended the operation or put it off until later.
func TestStaleListingDoesNotRunTwice(t *testing.T) {
	reschedule := func(calls *counter) operation.Handler {
		return func(ctx context.Context, tx store.Tx, op *store.Operation, now time.Time) error {
			calls.inc(op.ID)
			op.Due = now.Add(time.Minute)
			return nil
		}
	}
	tests := []struct {
		name       string
		step       func(*counter) operation.Handler
		wantStatus string
	}{
		{"step ends the operation", succeed, arm.StateSucceeded},
		{"step reschedules the operation", reschedule, arm.StateRunning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			c := newClock()
			var calls counter

			inStep := make(chan struct{})
			listed := make(chan struct{})
			var listedOnce sync.Once

			e1 := newEngine(s, c, 0)
			e1.Handle(kind, func(ctx context.Context, tx store.Tx, op *store.Operation, now time.Time) error {
				close(inStep)
				select {
				case <-listed: // e2 has seen the operation as due
				case <-time.After(10 * time.Second):
					return errors.New("second worker never listed the operation")
				}
				return tt.step(&calls)(ctx, tx, op, now)
			})
			e2 := newEngine(viewHook{Store: s, after: func() { listedOnce.Do(func() { close(listed) }) }}, c, 0)
			e2.Handle(kind, tt.step(&calls))

			start(t, s, e1, "op1", t0)
			done1 := make(chan int)
			go func() { n, _ := e1.RunDue(context.Background()); done1 <- n }()
			<-inStep
			n2, err := e2.RunDue(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got, want := n2, 1; got != want {
				t.Fatalf("second worker saw %d due operations, want %d (the listing must be stale)", got, want)
			}
			<-done1
			if got, want := calls.get("op1"), 1; got != want {
				t.Fatalf("handler called %d times, want %d", got, want)
			}
			op, _ := get(t, e1, "op1")
			if got, want := op.Status, tt.wantStatus; got != want {
				t.Fatalf("status = %q, want %q", got, want)
			}
		})
	}
}

// TestExpire: an ended operation stays readable for the retention period
// (by the engine's clock), then its record goes; running ones and the
// resources stay.
func TestExpire(t *testing.T) {
	s := newStore(t)
	c := newClock()
	e := newEngine(s, c, 0)
	e.Handle(kind, succeed(&counter{}))
	res := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Test/things/kept"
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		return tx.Create(&store.Record{ID: res, Type: "Microsoft.Test/things", Body: []byte(`{}`)})
	}); err != nil {
		t.Fatal(err)
	}
	start(t, s, e, "early", t0)
	runDue(t, e)
	c.Advance(time.Hour)
	start(t, s, e, "late", t0.Add(time.Hour))
	runDue(t, e)
	start(t, s, e, "running", t0.Add(48*time.Hour))

	tests := []struct {
		name    string
		advance time.Duration
		expired int
		gone    []string
		kept    []string
	}{
		{"within retention", 23 * time.Hour, 0, nil, []string{"early", "late", "running"}},
		{"first past retention", time.Minute, 1, []string{"early"}, []string{"late", "running"}},
		{"second past retention", time.Hour, 1, []string{"late"}, []string{"running"}},
	}
	for _, tc := range tests {
		c.Advance(tc.advance)
		n, err := e.Expire(context.Background(), operation.DefaultRetention)
		if err != nil {
			t.Fatalf("%s: Expire: %v", tc.name, err)
		}
		if n != tc.expired {
			t.Errorf("%s: Expire removed %d, want %d", tc.name, n, tc.expired)
		}
		for _, id := range tc.gone {
			if _, _, err := e.Get(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: %s err = %v, want ErrNotFound", tc.name, id, err)
			}
		}
		for _, id := range tc.kept {
			get(t, e, id)
		}
	}
	if err := s.View(context.Background(), func(tx store.Tx) error { _, err := tx.Get(store.Key(res)); return err }); err != nil {
		t.Fatalf("the resource after expiry: %v", err)
	}
}

// TestExpireInBatches: more expired operations than one transaction takes
// all go in one Expire call.
func TestExpireInBatches(t *testing.T) {
	s := newStore(t)
	c := newClock()
	e := newEngine(s, c, 0)
	const n = 12000
	for i := 0; i < n; i += 1000 {
		if err := s.Update(context.Background(), func(tx store.Tx) error {
			for j := i; j < i+1000; j++ {
				if err := tx.PutOperation(&store.Operation{ID: fmt.Sprintf("op%05d", j), Kind: kind, Resource: "/r", Status: arm.StateSucceeded, Doc: []byte(`{}`), Ended: t0}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(25 * time.Hour)
	got, err := e.Expire(context.Background(), operation.DefaultRetention)
	if err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Fatalf("Expire removed %d, want %d", got, n)
	}
}

// TestLocationAsDecode: Location reads what Decode reads, from a document
// as Encode writes it and from one it does not (whitespace, escapes).
func TestLocationAsDecode(t *testing.T) {
	for _, doc := range []string{`{"status":"Running","location":"westus"}`, `{"status":"Running"}`, `{ "location" : "west\u0020us" }`, `{"location":"été"}`} {
		op := &store.Operation{ID: "o", Doc: []byte(doc)}
		d, err := operation.Decode(op)
		if err != nil {
			t.Fatal(err)
		}
		if loc, ok := operation.Location(op); !ok || loc != d.Location {
			t.Errorf("Location(%s) = %q, %v; Decode reads %q", doc, loc, ok, d.Location)
		}
	}
	op := &store.Operation{ID: "o"}
	operation.Encode(op, &operation.Doc{Status: "Running", Location: "eastus2"})
	if loc, ok := operation.Location(op); !ok || loc != "eastus2" {
		t.Errorf("Location of an encoded document = %q, %v", loc, ok)
	}
	if _, ok := operation.Location(&store.Operation{ID: "o", Doc: []byte(`[`)}); ok {
		t.Errorf("Location of a bad document reports ok")
	}
}
