package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
)

// sinkBufs are the sink's read buffers, reused: allocating 1 MiB per
// connection would make the set-up benchmark measure the garbage collector.
var sinkBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// sink is a backend that answers each connection's first byte with one
// byte (set-up) and then reads everything, answering "done" at the end
// (throughput).
func sink(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var one [1]byte
				if _, err := io.ReadFull(c, one[:]); err != nil {
					return
				}
				if _, err := c.Write(one[:]); err != nil {
					return
				}
				// Large reads, as a storage service's would be: the
				// backend's own cost is not what is measured.
				buf := sinkBufs.Get().(*[]byte)
				for {
					if _, err := c.Read(*buf); err != nil {
						break
					}
				}
				sinkBufs.Put(buf)
				_, _ = io.WriteString(c, "done")
			}()
		}
	}()
	return ln.Addr().String()
}

// dataPathFixture is a cluster with an approved endpoint to a storage
// account whose blob sub-resource is bound to a sink.
func dataPathFixture(b *testing.B) (egress, backend string) {
	f := setup(b)
	ctx := context.Background()
	sc, _ := armstorage.NewAccountsClient(f.env.Subscription, f.env.Cred, f.env.Options)
	sp, err := sc.BeginCreate(ctx, "adx", "benchsink", armstorage.AccountCreateParameters{Location: to.Ptr("westus"), Kind: to.Ptr(armstorage.KindStorageV2),
		SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}, Properties: &armstorage.AccountPropertiesCreateParameters{PublicNetworkAccess: to.Ptr(armstorage.PublicNetworkAccessDisabled)}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	sa, err := sp.PollUntilDone(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	mc, _ := armkusto.NewManagedPrivateEndpointsClient(f.env.Subscription, f.env.Cred, f.env.Options)
	mp, err := mc.BeginCreateOrUpdate(ctx, "adx", "mycluster", "tosink", armkusto.ManagedPrivateEndpoint{Properties: &armkusto.ManagedPrivateEndpointProperties{
		PrivateLinkResourceID: sa.ID, GroupID: to.Ptr("blob")}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := mp.PollUntilDone(ctx, nil); err != nil {
		b.Fatal(err)
	}
	backend = sink(b)
	f.env.Call(b, http.MethodPut, "/_privlink/backends", `{"resource":"`+*sa.ID+`","groupId":"blob","to":"`+backend+`"}`, http.StatusOK, nil)
	var n struct {
		Egress string `json:"egress"`
	}
	f.env.GetJSON(b, "/_privlink/network?cluster="+url.QueryEscape(f.cluster), &n)
	return n.Egress, backend
}

const sinkHost = "benchsink.blob.core.windows.net:443"

// dialVia opens a connection to the sink: directly, or through the egress
// with CONNECT, and waits for the sink's answer to a first byte.
func dialVia(egress, backend string) (net.Conn, error) {
	if egress == "" {
		c, err := net.Dial("tcp", backend)
		if err != nil {
			return nil, err
		}
		return c, firstByte(c, c)
	}
	c, err := net.Dial("tcp", egress)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", sinkHost, sinkHost)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != 200 {
		c.Close()
		return nil, fmt.Errorf("CONNECT: %s", resp.Status)
	}
	return c, firstByte(c, br)
}

func firstByte(w io.Writer, r io.Reader) error {
	if _, err := w.Write([]byte{1}); err != nil {
		return err
	}
	var one [1]byte
	_, err := io.ReadFull(r, one[:])
	return err
}

// BenchmarkDataPathSetup compares connection set-up through a cluster's
// egress and an approved managed private endpoint with a direct loopback
// connection to the same backend: dial, CONNECT, a first byte there and
// back. The two alternate within each iteration, so that both see the same
// load on a shared machine; p50 and p99 of each and the p99 added are
// reported (µs). docs/benchmarks.md has the figures.
func BenchmarkDataPathSetup(b *testing.B) {
	egress, backend := dataPathFixture(b)
	var direct, endpoint []time.Duration
	timed := func(via string) time.Duration {
		start := time.Now()
		c, err := dialVia(via, backend)
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		c.Close()
		return d
	}
	for b.Loop() {
		direct = append(direct, timed(""))
		endpoint = append(endpoint, timed(egress))
	}
	pct := func(l []time.Duration, q int) float64 {
		l = append([]time.Duration(nil), l...)
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		return float64(l[len(l)*q/100].Microseconds())
	}
	b.ReportMetric(pct(direct, 50), "direct-p50-µs")
	b.ReportMetric(pct(direct, 99), "direct-p99-µs")
	b.ReportMetric(pct(endpoint, 50), "endpoint-p50-µs")
	b.ReportMetric(pct(endpoint, 99), "endpoint-p99-µs")
	b.ReportMetric(pct(endpoint, 99)-pct(direct, 99), "added-p99-µs")
}

// BenchmarkDataPathThroughput compares the throughput of a 1 GiB transfer
// through a cluster's egress and an approved managed private endpoint with
// a direct loopback connection to the same backend. Each iteration moves
// 1 GiB each way, alternating, and reports both rates (MB/s) and the
// endpoint's share of the direct rate (%).
func BenchmarkDataPathThroughput(b *testing.B) {
	egress, backend := dataPathFixture(b)
	buf := make([]byte, 1<<20)
	var direct, endpoint time.Duration
	move := func(via string) time.Duration {
		start := time.Now()
		c, err := dialVia(via, backend)
		if err != nil {
			b.Fatal(err)
		}
		for range 1 << 10 {
			if _, err := c.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		_ = c.(*net.TCPConn).CloseWrite()
		if got, _ := io.ReadAll(c); string(got) != "done" {
			b.Fatalf("the sink answered %q", got)
		}
		c.Close()
		return time.Since(start)
	}
	for b.Loop() {
		direct += move("")
		endpoint += move(egress)
	}
	n := float64(b.N) * (1 << 30) / 1e6
	b.ReportMetric(n/direct.Seconds(), "direct-MB/s")
	b.ReportMetric(n/endpoint.Seconds(), "endpoint-MB/s")
	b.ReportMetric(100*direct.Seconds()/endpoint.Seconds(), "endpoint-%")
}
