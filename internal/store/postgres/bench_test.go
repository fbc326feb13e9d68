package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/postgres"
)

// endpointWorld is what a create of a Kusto managed private endpoint reads
// before it writes: the subscription, the resource group, the Kusto and
// Network registrations of the subscription, the cluster and the storage
// account the endpoint connects to (keys, lower case).
type endpointWorld struct {
	sub, rg, kustoReg, netReg, cluster, target string
	clusterID                                  string
}

// pad makes a document about n bytes long, as big as the resource
// engine's (an endpoint's is about 900 bytes with its systemData).
func pad(prefix string, n int) []byte {
	return []byte(prefix + `,"pad":"` + strings.Repeat("x", max(0, n-len(prefix)-10)) + `"}`)
}

// seedEndpointWorld writes the records of an endpointWorld in d.
func seedEndpointWorld(tb testing.TB, d store.Store, sub string) *endpointWorld {
	tb.Helper()
	s := "/subscriptions/" + sub
	rg := s + "/resourceGroups/rg"
	w := &endpointWorld{
		sub: store.Key(s), rg: store.Key(rg),
		kustoReg: store.Key(s + "/providers/Microsoft.Kusto"), netReg: store.Key(s + "/providers/Microsoft.Network"),
		clusterID: rg + "/providers/Microsoft.Kusto/clusters/c1",
		target:    store.Key(rg + "/providers/Microsoft.Storage/storageAccounts/st1"),
	}
	w.cluster = store.Key(w.clusterID)
	recs := []*store.Record{
		{ID: s, Type: "Microsoft.Resources/subscriptions", Body: pad(`{"id":"`+s+`"`, 400)},
		{ID: rg, Type: "Microsoft.Resources/resourceGroups", Body: pad(`{"id":"`+rg+`"`, 400)},
		{ID: s + "/providers/Microsoft.Kusto", Type: "Microsoft.Resources/providers", Body: []byte(`{"namespace":"Microsoft.Kusto","registrationState":"Registered"}`)},
		{ID: s + "/providers/Microsoft.Network", Type: "Microsoft.Resources/providers", Body: []byte(`{"namespace":"Microsoft.Network","registrationState":"Registered"}`)},
		{ID: w.clusterID, Type: "Microsoft.Kusto/clusters", Body: pad(`{"id":"`+w.clusterID+`"`, 1500)},
		{ID: rg + "/providers/Microsoft.Storage/storageAccounts/st1", Type: "Microsoft.Storage/storageAccounts", Body: pad(`{"id":"st1"`, 1500)},
	}
	if err := d.Update(context.Background(), func(tx store.Tx) error {
		for _, r := range recs {
			if err := tx.Create(r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return w
}

// putEndpoint asks of the store what the resource engine's PUT of a new
// managed private endpoint does, in the same order (resource.Engine's
// writeRequest and write, kusto's buildEndpoint, privatelink.Place,
// startOperation, Ctx.Save): the reads of the scope, the registrations,
// the parent and the target, the absent endpoint; then the target's new
// connection, the operation, and the endpoint. It returns the operation's id.
func putEndpoint(tx store.Tx, w *endpointWorld, name string, now time.Time) (string, error) {
	id := w.clusterID + "/managedPrivateEndpoints/" + name
	for _, key := range []string{w.sub, w.rg} { // checkScope
		if _, err := tx.Get(key); err != nil {
			return "", err
		}
	}
	if _, err := tx.Get(store.Key(id)); !errors.Is(err, store.ErrNotFound) { // loadForWrite
		return "", fmt.Errorf("the new endpoint: %v", err)
	}
	for _, key := range []string{w.rg, w.kustoReg, w.cluster, w.target, w.netReg} { // group state, registration, parent, target, Network
		if _, err := tx.Get(key); err != nil {
			return "", err
		}
	}
	pec := &store.Record{ID: w.target + "/privateEndpointConnections/c1." + name + "." + uuid.NewString(),
		Type: "Microsoft.Storage/storageAccounts/privateEndpointConnections", Body: pad(`{"name":"`+name+`"`, 900), Updated: now}
	if err := tx.Create(pec); err != nil {
		return "", err
	}
	if _, err := tx.Get(w.cluster); err != nil { // opLocation
		return "", err
	}
	op := &store.Operation{ID: uuid.Must(uuid.NewV7()).String(), Kind: "resource.provision", Resource: store.Key(id),
		Status: "Running", Doc: pad(`{"status":"Running"`, 350), Due: now}
	if err := tx.PutOperation(op); err != nil {
		return "", err
	}
	ep := &store.Record{ID: id, Type: "Microsoft.Kusto/clusters/managedPrivateEndpoints", Body: pad(`{"id":"`+id+`"`, 900),
		Meta: []byte(`{"op":"` + op.ID + `","action":"create"}`), Updated: now}
	return op.ID, tx.Create(ep)
}

// stepEndpoint is the operation engine's step of the create's operation
// (operation.Engine.step around resource.Engine.runProvision): the
// operation, the endpoint, the endpoint Succeeded, the operation ended.
func stepEndpoint(tx store.Tx, opID string, now time.Time) error {
	op, err := tx.GetOperation(opID)
	if err != nil {
		return err
	}
	if op.Status != "Running" {
		return fmt.Errorf("operation %s is %s", opID, op.Status)
	}
	r, err := tx.Get(op.Resource)
	if err != nil {
		return err
	}
	r.Body, r.Meta = pad(`{"id":"`+r.ID+`","provisioningState":"Succeeded"`, 900), nil
	if err := tx.Replace(r); err != nil {
		return err
	}
	op.Status, op.Due, op.Ended, op.Doc = "Succeeded", time.Time{}, now, pad(`{"status":"Succeeded"`, 400)
	op.LeaseOwner, op.LeaseUntil = "", time.Time{}
	return tx.PutOperation(op)
}

// cpuTime is the process's CPU time so far (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCreateEndpoint creates managed private endpoints one after the
// other, as the resource engine and the operation engine ask the store to
// (putEndpoint, then a claim and stepEndpoint), and reports the writer's
// round trips to PostgreSQL per create (round-trips/op), per PUT and per
// step, and this process's CPU time per create (PostgreSQL's is not
// counted). The round trips are what matters across replicas: the writer
// holds the database-wide write lock across them.
func BenchmarkCreateEndpoint(b *testing.B) {
	d := open(b, freshSchema(b, testURL(b)))
	benchmarkCreates(b, []*postgres.DB{d})
}

// BenchmarkCreateEndpointTwoReplicas is BenchmarkCreateEndpoint on two
// stores of one schema (two replicas, each following the other's commits)
// creating at once: their writers take turns at the write lock, and each
// one's caches lose what the other wrote.
func BenchmarkCreateEndpointTwoReplicas(b *testing.B) {
	url := freshSchema(b, testURL(b))
	dbs := []*postgres.DB{open(b, url), open(b, url)}
	for _, d := range dbs {
		follow(b, d)
	}
	benchmarkCreates(b, dbs)
}

// benchmarkCreates runs BenchmarkCreateEndpoint's creates on every store
// of dbs at once (replicas of one schema), b.N in all.
func benchmarkCreates(b *testing.B, dbs []*postgres.DB) {
	ctx := context.Background()
	w := seedEndpointWorld(b, dbs[0], "00000000-0000-0000-0000-00000000b001")
	type tally struct{ put, step, creates int64 }
	run := func(d *postgres.DB, prefix string, n int) (tally, error) {
		var t tally
		for i := range n {
			now := time.Now()
			before := d.RoundTrips()
			if err := d.Update(ctx, func(tx store.Tx) error {
				_, err := putEndpoint(tx, w, fmt.Sprintf("%s%d", prefix, i), now)
				return err
			}); err != nil {
				return t, err
			}
			mid := d.RoundTrips()
			ops, err := d.ClaimDue(ctx, prefix, time.Now(), time.Now().Add(10*time.Second), 64)
			if err != nil {
				return t, err
			}
			for _, op := range ops {
				if err := d.Update(ctx, func(tx store.Tx) error { return stepEndpoint(tx, op.ID, time.Now()) }); err != nil {
					return t, err
				}
			}
			t.put += mid - before
			t.step += d.RoundTrips() - mid
			t.creates++
		}
		return t, nil
	}
	b.ReportAllocs()
	cpu := cpuTime()
	b.ResetTimer()
	// Each store does its share of b.N; the round trips are the sum of
	// every store's writer's.
	results := make(chan tally, len(dbs))
	errs := make(chan error, len(dbs))
	for r, d := range dbs {
		n := b.N / len(dbs)
		if r < b.N%len(dbs) {
			n++
		}
		go func() {
			t, err := run(d, fmt.Sprintf("r%d-%d-", r, b.N), n)
			results <- t
			errs <- err
		}()
	}
	var sum tally
	for range dbs {
		t := <-results
		sum.put, sum.step, sum.creates = sum.put+t.put, sum.step+t.step, sum.creates+t.creates
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu = cpuTime() - cpu
	if sum.creates > 0 {
		n := float64(sum.creates)
		b.ReportMetric(float64(sum.put+sum.step)/n, "round-trips/op")
		b.ReportMetric(float64(sum.put)/n, "round-trips/put")
		b.ReportMetric(float64(sum.step)/n, "round-trips/step")
		b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/op")
	}
}
