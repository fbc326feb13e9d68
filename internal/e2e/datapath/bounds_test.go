package datapath

import (
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/testkit"
)

// TestBounds: thousands of idle connections and a client that never reads
// leave the egress serving others, in bounded memory; unknown clusters and
// malformed ids are refused with ARM errors.
func TestBounds(t *testing.T) {
	env := testkit.Start(t)
	createRG(t, env, "rg")
	cl := createCluster(t, env, "rg", "adxbounds", armkusto.PublicNetworkAccessEnabled)
	acct := createAccount(t, env, "rg", "firehose", armstorage.PublicNetworkAccessDisabled, nil)
	createApprovedMPE(t, env, "rg", "adxbounds", "tofirehose", acct, "blob")
	// A backend that writes as fast as it can, to whoever connects.
	ln := must(net.Listen("tcp", "127.0.0.1:0"))
	defer ln.Close()
	go func() {
		buf := make([]byte, 64<<10)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	env.Call(t, http.MethodPut, "/_privlink/backends", `{"resource":"`+acct+`","groupId":"blob","to":"`+ln.Addr().String()+`"}`, http.StatusOK, nil)
	n := networkOf(t, env, cl)
	host := "firehose.blob.core.windows.net:443"

	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range 2000 {
		c, err := net.Dial("tcp", n.Egress)
		if err != nil {
			t.Fatalf("idle connection %d: %v", len(idle), err)
		}
		idle = append(idle, c)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// Clients that never read what the backend sends.
	var stuck []net.Conn
	for range 20 {
		c, status := tunnel(t, n.Egress, host)
		if c == nil {
			t.Fatalf("tunnel with 2000 idle connections open: %s", status)
		}
		stuck = append(stuck, c)
	}
	defer func() {
		for _, c := range stuck {
			c.Close()
		}
	}()
	time.Sleep(2 * time.Second)
	start := time.Now()
	c, status := tunnel(t, n.Egress, host)
	if c == nil {
		t.Fatalf("a new tunnel beside stuck clients: %s", status)
	}
	c.Close()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a new tunnel took %s", d)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 32<<20 {
		t.Fatalf("the heap grew by %d MB with 20 clients that never read", grew>>20)
	}

	// Unknown clusters and bad ids: ARM errors.
	env.Call(t, http.MethodGet, "/_privlink/network?cluster="+url.QueryEscape(strings.Replace(cl, "adxbounds", "nosuch", 1)), "", http.StatusNotFound, nil)
	env.Call(t, http.MethodGet, "/_privlink/network?cluster=not-an-id", "", http.StatusBadRequest, nil)
	env.Call(t, http.MethodGet, "/_privlink/network", "", http.StatusBadRequest, nil)
	env.Call(t, http.MethodGet, "/_privlink/network/decide?cluster="+url.QueryEscape(cl)+"&host=x&port=0", "", http.StatusBadRequest, nil)
	env.Call(t, http.MethodPut, "/_privlink/backends", `{"resource":"`+acct+`","groupId":"blob","to":"no-port"}`, http.StatusBadRequest, nil)
	env.Call(t, http.MethodPut, "/_privlink/backends", `{"resource":"`+acct+`","groupId":"queue","to":"127.0.0.1:1"}`, http.StatusBadRequest, nil)
	env.Call(t, http.MethodPut, "/_privlink/backends", `not json`, http.StatusBadRequest, nil)
	env.Call(t, http.MethodPut, "/_privlink/backends", `{"resource":"`+strings.Replace(acct, "firehose", "nosuch", 1)+`","groupId":"blob","to":"127.0.0.1:1"}`, http.StatusNotFound, nil)
}
