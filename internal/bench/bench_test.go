package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/testkit"
)

// fixture is a server with a cluster, a storage account and one endpoint.
type fixture struct {
	env     *testkit.Env
	token   string
	cluster string
	target  string
	mpe     string
}

func setup(b *testing.B) *fixture { return setupWith(b) }

// setupWith is setup on a server started with opts.
func setupWith(b *testing.B, opts ...testkit.Option) *fixture {
	b.Helper()
	env := testkit.Start(b, opts...)
	ctx := context.Background()
	rg, _ := armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options)
	if _, err := rg.CreateOrUpdate(ctx, "adx", armresources.ResourceGroup{Location: to.Ptr("westus")}, nil); err != nil {
		b.Fatal(err)
	}
	kc, _ := armkusto.NewClustersClient(env.Subscription, env.Cred, env.Options)
	p, err := kc.BeginCreateOrUpdate(ctx, "adx", "mycluster", armkusto.Cluster{Location: to.Ptr("westus"), SKU: &armkusto.AzureSKU{Name: to.Ptr(armkusto.AzureSKUNameStandardE2AV4), Tier: to.Ptr(armkusto.AzureSKUTierStandard)}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	cl, err := p.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil {
		b.Fatal(err)
	}
	sc, _ := armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options)
	sp, err := sc.BeginCreate(ctx, "adx", "share", armstorage.AccountCreateParameters{Location: to.Ptr("westus"), Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	sa, err := sp.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{env: env, token: env.Token(b), cluster: *cl.ID, target: *sa.ID}
	f.mpe = f.cluster + "/managedPrivateEndpoints/mpe1"
	resp := f.do(b, http.MethodPut, f.mpe, f.body())
	if resp.StatusCode != http.StatusCreated {
		b.Fatalf("create: %s", resp.Status)
	}
	return f
}

func (f *fixture) body() []byte {
	return []byte(`{"properties":{"privateLinkResourceId":"` + f.target + `","groupId":"blob","requestMessage":"Please Approve."}}`)
}

func (f *fixture) do(b *testing.B, method, id string, body []byte) *http.Response {
	req, _ := http.NewRequest(method, f.env.URL+id+"?api-version=2024-04-13", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.env.HTTP.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// bare serves body for every request over TLS with privlink's own server
// certificate: the floor that privlink's GET is measured against.
func bare(b *testing.B, f *fixture, body []byte) string {
	b.Helper()
	cert, err := tls.LoadX509KeyPair(f.env.Dir+"/server.pem", f.env.Dir+"/server-key.pem")
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go func() { _ = srv.Serve(tls.NewListener(l, srv.TLSConfig)) }()
	b.Cleanup(func() { srv.Close() })
	return "https://" + l.Addr().String()
}

// runGets GETs url with c (nil: the fixture's client) from 64 goroutines.
func runGets(b *testing.B, f *fixture, c *http.Client, url string) {
	if c == nil {
		c = f.env.HTTP
	}
	b.SetParallelism(32) // 32 × GOMAXPROCS(2) = 64 connections
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+f.token)
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %s", resp.Status)
				return
			}
		}
	})
}

// BenchmarkGetEndpoint is GET of a managed private endpoint, and the bare
// handler serving the same bytes, over HTTPS with 64 concurrent clients.
func BenchmarkGetEndpoint(b *testing.B) {
	f := setup(b)
	req, _ := http.NewRequest(http.MethodGet, f.env.URL+f.mpe+"?api-version=2024-04-13", nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := f.env.HTTP.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.Run("privlink", func(b *testing.B) { runGets(b, f, nil, f.env.URL+f.mpe+"?api-version=2024-04-13") })
	b.Run("bare", func(b *testing.B) { runGets(b, f, nil, bare(b, f, body)+f.mpe) })
}

// BenchmarkPutEndpoint is a durable create of a new managed private endpoint
// (endpoint, Pending connection and operation in one transaction), with 64
// concurrent clients.
func BenchmarkPutEndpoint(b *testing.B) {
	f := setup(b)
	var n atomic.Int64
	body := f.body()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("%s/managedPrivateEndpoints/b%d", f.cluster, n.Add(1))
			resp := f.do(b, http.MethodPut, id, body)
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("status %s", resp.Status)
				return
			}
		}
	})
}

// BenchmarkProxyGet is GET of a managed private endpoint the way a program
// in a shell set up by 'privlink env' sends it (https://management.azure.com
// through the transparent proxy) beside the same GET sent to privlink's
// address, in one run: with keep-alive (a tunnel is set up once per
// connection) and with a new connection per request (CONNECT, then TLS).
func BenchmarkProxyGet(b *testing.B) {
	f := setup(b)
	proxyURL, _ := url.Parse(f.env.Server.ProxyURL())
	base := f.env.HTTP.Transport.(*http.Transport)
	client := func(viaProxy, keepAlive bool) *http.Client {
		tr := base.Clone()
		tr.DisableKeepAlives = !keepAlive
		if viaProxy {
			tr.Proxy = http.ProxyURL(proxyURL)
		}
		return &http.Client{Transport: tr}
	}
	for _, tt := range []struct {
		name      string
		url       string
		viaProxy  bool
		keepAlive bool
	}{
		{"direct", f.env.URL, false, true},
		{"proxy", "https://management.azure.com", true, true},
		{"direct-new-conn", f.env.URL, false, false},
		{"proxy-new-conn", "https://management.azure.com", true, false},
	} {
		b.Run(tt.name, func(b *testing.B) {
			runGets(b, f, client(tt.viaProxy, tt.keepAlive), tt.url+f.mpe+"?api-version=2024-04-13")
		})
	}
}
