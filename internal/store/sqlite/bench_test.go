package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/sqlite"
)

// BenchmarkUpdate is durable single-record creates from 64 concurrent
// writers: the group commit at work.
func BenchmarkUpdate(b *testing.B) {
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "b.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Test/things/t%d", n.Add(1))
			err := s.Update(context.Background(), func(tx store.Tx) error {
				if _, err := tx.Get(store.Key(id)); err == nil {
					return fmt.Errorf("exists")
				}
				return tx.Create(&store.Record{ID: id, Type: "Microsoft.Test/things", Body: []byte(`{"properties":{"a":1}}`)})
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkListLastPage reads the last page (100 records, by After) of a
// 50,000-record prefix: what the last nextLink of a long ARM list costs.
// A page's cost should not grow with how far into the list it is.
func BenchmarkListLastPage(b *testing.B) {
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "b.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n, page = 50000, 100
	id := func(i int) string {
		return fmt.Sprintf("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Test/things/t%06d", i)
	}
	for lo := 0; lo < n; lo += 1000 {
		if err := s.Update(context.Background(), func(tx store.Tx) error {
			for i := lo; i < lo+1000; i++ {
				if err := tx.Create(&store.Record{ID: id(i), Type: "Microsoft.Test/things", Body: []byte(`{"properties":{"a":1}}`)}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	q := store.Query{Prefix: "/subscriptions/s/resourcegroups/rg", Type: "Microsoft.Test/things", After: store.Key(id(n - page - 1)), Limit: page}
	b.ResetTimer()
	for b.Loop() {
		var got int
		if err := s.View(context.Background(), func(tx store.Tx) error {
			recs, err := tx.List(q)
			got = len(recs)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		if got != page {
			b.Fatalf("%d records, want %d", got, page)
		}
	}
}

// BenchmarkGet is a single-record read in a View.
func BenchmarkGet(b *testing.B) {
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "b.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	id := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Test/things/t"
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		return tx.Create(&store.Record{ID: id, Type: "Microsoft.Test/things", Body: []byte(`{"properties":{"a":1}}`)})
	}); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.View(context.Background(), func(tx store.Tx) error { _, err := tx.Get(store.Key(id)); return err }); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCreateEndpoint is the store's share of a durable PUT of a new
// managed private endpoint, from 64 concurrent writers: one transaction
// reads the (present) parent and target, looks up the new endpoint's,
// connection's and operation's keys (absent) and creates them; a second
// one, as the operation's step does, reads them back and replaces them.
func BenchmarkCreateEndpoint(b *testing.B) {
	body := []byte(`{"properties":{"privateLinkResourceId":"` + account + `","groupId":"blob","requestMessage":"Please Approve.","provisioningState":"Creating"}}`)
	s := openWithParents(b, body)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(32)
	cpu0 := cpuTime()
	b.ResetTimer()
	io0 := ioBytes()
	defer func() {
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		b.ReportMetric(float64(ioBytes()-io0)/float64(b.N)/1024, "written-KiB/op")
	}()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			ep := fmt.Sprintf("%s/managedPrivateEndpoints/e%d", cluster, i)
			pec := fmt.Sprintf("%s/privateEndpointConnections/e%d.%x", account, i, i*7919)
			opID := fmt.Sprintf("op-%x", i*104729)
			err := s.Update(ctx, func(tx store.Tx) error {
				for _, k := range []string{cluster, account} {
					if _, err := tx.Get(store.Key(k)); err != nil {
						return err
					}
				}
				for _, k := range []string{ep, pec} {
					if _, err := tx.Get(store.Key(k)); err != store.ErrNotFound {
						return fmt.Errorf("get %s: %v", k, err)
					}
					if err := tx.Create(&store.Record{ID: k, Type: "Microsoft.Test/things", Body: body}); err != nil {
						return err
					}
				}
				return tx.PutOperation(&store.Operation{ID: opID, Kind: "k", Resource: store.Key(ep), Status: "Running", Doc: body, Due: time.Now()})
			})
			if err == nil {
				err = s.Update(ctx, func(tx store.Tx) error {
					op, err := tx.GetOperation(opID)
					if err != nil {
						return err
					}
					for _, k := range []string{ep, pec} {
						r, err := tx.Get(store.Key(k))
						if err != nil {
							return err
						}
						if err := tx.Replace(r); err != nil {
							return err
						}
					}
					op.Status, op.Due = "Succeeded", time.Time{}
					return tx.PutOperation(op)
				})
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// cpuTime is the process's CPU time so far (user and system): on a machine
// shared with other work it measures the cost better than elapsed time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ioBytes is what the process handed to write calls so far ("wchar" of
// /proc/self/io: the WAL, checkpoints and temporary files alike), or 0
// where /proc is not there.
func ioBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkCreateLatency is what an endpoint create with no provisioning
// delay asks of the store (one transaction: the endpoint, its connection
// and its operation, already ended), from 16 writers in a closed loop, as
// wrk's 16 connections do: it reports the Update's latency at the median
// and the 99th percentile, without HTTP, TLS or wrk on the same cores.
func BenchmarkCreateLatency(b *testing.B) {
	body := []byte(`{"properties":{"privateLinkResourceId":"` + account + `","groupId":"blob","requestMessage":"` + strings.Repeat("Please Approve. ", 50) + `","provisioningState":"Succeeded"}}`)
	s := openWithParents(b, body)
	ctx := context.Background()
	const writers = 16
	var n atomic.Int64
	lat := make([]time.Duration, b.N)
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := n.Add(1)
				if i > int64(b.N) {
					return
				}
				ep := fmt.Sprintf("%s/managedPrivateEndpoints/e%d", cluster, i)
				pec := fmt.Sprintf("%s/privateEndpointConnections/e%d.%x", account, i, i*7919)
				opID := fmt.Sprintf("op-%x", i*104729)
				start := time.Now()
				err := s.Update(ctx, func(tx store.Tx) error {
					for _, k := range []string{cluster, account} {
						if _, err := tx.Get(store.Key(k)); err != nil {
							return err
						}
					}
					for _, k := range []string{ep, pec} {
						if err := tx.Create(&store.Record{ID: k, Type: "Microsoft.Test/things", Body: body}); err != nil {
							return err
						}
					}
					return tx.PutOperation(&store.Operation{ID: opID, Kind: "k", Resource: store.Key(ep), Status: "Succeeded", Doc: body})
				})
				lat[i-1] = time.Since(start)
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// The cluster and the target every endpoint create reads.
const (
	cluster = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kusto/clusters/c"
	account = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a"
)

// openWithParents opens a store for b, closed when b ends, holding the
// cluster and the target, with body as their documents.
func openWithParents(b *testing.B, body []byte) *sqlite.DB {
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "b.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.Create(&store.Record{ID: cluster, Type: "Microsoft.Kusto/clusters", Body: body}); err != nil {
			return err
		}
		return tx.Create(&store.Record{ID: account, Type: "Microsoft.Storage/storageAccounts", Body: body})
	}); err != nil {
		b.Fatal(err)
	}
	return s
}
