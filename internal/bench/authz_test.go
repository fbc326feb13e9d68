package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/authz/builtin"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/resource"
	"github.com/privlink/privlink/internal/testkit"
)

// assignmentsFor is how many role assignments the benchmark's principal holds.
const assignmentsFor = 10000

// seedAssignments gives principal assignmentsFor role assignments in env:
// ten built-in roles in each of 1,000 resource groups, besides Reader of
// the cluster's group. It goes through the engine in-process (the same
// rules as the API, without 10,000 HTTP round trips).
func seedAssignments(b *testing.B, env *testkit.Env, principal string) {
	b.Helper()
	ctx := context.Background()
	e := env.Server.Engine()
	admin := &arm.Principal{ObjectID: identity.DefaultClientObjectID, TenantID: identity.DefaultTenantID, AppID: identity.DefaultClientID, Name: identity.DefaultClientID, Type: arm.PrincipalApplication}
	var failed sync.Once
	var failure error
	serve := func(method, path, body string) {
		u, err := url.Parse(path)
		if err != nil {
			failed.Do(func() { failure = err })
			return
		}
		p, aerr := arm.ParsePath(u.Path)
		if aerr != nil {
			failed.Do(func() { failure = aerr })
			return
		}
		q := u.Query()
		resp, err := e.Serve(ctx, &resource.Request{Method: method, Path: p, Query: q, APIVersion: q.Get("api-version"), Body: []byte(body), Header: http.Header{}, Principal: admin})
		if err == nil && resp.Status >= 300 {
			err = fmt.Errorf("%d %s", resp.Status, resp.Body)
		}
		if err != nil {
			failed.Do(func() { failure = fmt.Errorf("%s %s: %w", method, path, err) })
		}
	}
	roles := builtin.All()[:10]
	sub := "/subscriptions/" + env.Subscription
	work := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range work {
				rg := fmt.Sprintf("%s/resourceGroups/g%04d", sub, g)
				serve(http.MethodPut, rg+"?api-version=2021-04-01", `{"location":"westus"}`)
				for _, r := range roles {
					serve(http.MethodPut, rg+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01",
						`{"properties":{"roleDefinitionId":"`+sub+`/providers/Microsoft.Authorization/roleDefinitions/`+r.ID+`","principalId":"`+principal+`"}}`)
				}
			}
		}()
	}
	for g := range assignmentsFor / 10 {
		work <- g
	}
	close(work)
	wg.Wait()
	if failure != nil {
		b.Fatal(failure)
	}
	serve(http.MethodPut, sub+"/resourceGroups/adx/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01",
		`{"properties":{"roleDefinitionId":"`+sub+`/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7","principalId":"`+principal+`"}}`)
}

// BenchmarkAuthorizedGet is GET of a managed private endpoint by a
// principal that holds 10,001 role assignments (Reader of the endpoint's
// group, and ten roles in each of 1,000 other groups), with access control
// on and, on a server with the same data, off: what enforcement costs.
// "engine" sub-benchmarks serve the request in-process (no HTTP, less
// noise); "https" ones over HTTPS with 64 clients.
func BenchmarkAuthorizedGet(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts []testkit.Option
	}{{"rbac", nil}, {"off", []testkit.Option{testkit.WithoutAccessControl()}}} {
		f := setupWith(b, mode.opts...)
		p := f.env.NewPrincipal(b, "reader")
		seedAssignments(b, f.env, p.ObjectID)
		tok, err := p.Cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://management.core.windows.net//.default"}})
		if err != nil {
			b.Fatal(err)
		}
		reader := *f
		reader.token = tok.Token
		path, aerr := arm.ParsePath(f.mpe)
		if aerr != nil {
			b.Fatal(aerr)
		}
		caller := &arm.Principal{ObjectID: p.ObjectID, TenantID: identity.DefaultTenantID, AppID: p.ClientID, Name: p.ClientID, Type: arm.PrincipalApplication}
		b.Run("engine-"+mode.name, func(b *testing.B) {
			e := f.env.Server.Engine()
			req := &resource.Request{Method: http.MethodGet, Path: path, Query: url.Values{"api-version": {"2024-04-13"}}, APIVersion: "2024-04-13", Header: http.Header{}, Principal: caller}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				resp, err := e.Serve(context.Background(), req)
				if err != nil || resp.Status != http.StatusOK {
					b.Fatalf("GET: %v %v", resp, err)
				}
			}
		})
		b.Run("https-"+mode.name, func(b *testing.B) { runGets(b, &reader, nil, f.env.URL+f.mpe+"?api-version=2024-04-13") })
	}
}
