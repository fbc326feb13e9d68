package replicas

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/digitaltwins/armdigitaltwins"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/eventhub/armeventhub"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/iothub/armiothub"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

// conn is a private endpoint connection as the tests look at it, whatever SDK read it.
type conn struct {
	Name       string `json:"name"`
	Properties struct {
		State struct {
			Status      string `json:"status"`
			Description string `json:"description"`
		} `json:"privateLinkServiceConnectionState"`
		PrivateEndpoint struct {
			ID string `json:"id"`
		} `json:"privateEndpoint"`
	} `json:"properties"`
}

// convert re-reads an SDK model (or anything) as another type through JSON.
func convert[T any](t testing.TB, v any) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// stateBody is an approve/reject body, decoded into each SDK's own model.
func stateBody(status, desc string) []byte {
	b, _ := json.Marshal(map[string]any{"properties": map[string]any{"privateLinkServiceConnectionState": map[string]string{"status": status, "description": desc}}})
	return b
}

// must returns v, or panics with err; tests defer failOnPanic so that the
// panic becomes the test's failure. (A t-taking helper cannot accept a
// multi-value call such as must(t, client.Get(...)).)
func must[T any](v T, err error) T {
	if err != nil {
		panic(mustError{err})
	}
	return v
}

type mustError struct{ err error }

// failOnPanic turns a must failure into t.Fatal.
func failOnPanic(t testing.TB) {
	if r := recover(); r != nil {
		if me, ok := r.(mustError); ok {
			t.Fatalf("%v", me.err)
		}
		panic(r)
	}
}

// target drives one private link target type through its own official SDK
// (mirrors internal/e2e/lifecycle's table, whose helpers are test files of
// another package: creating, listing connections and changing their state).
type target struct {
	name  string // a name valid for the type
	group string // the groupId a managed private endpoint asks for
	// create makes the resource in resource group rg and returns its id.
	create func(t *testing.T, env *testkit.Env, rg, name string) string
	// conns lists its private endpoint connections.
	conns func(t *testing.T, env *testkit.Env, rg, name string) []conn
	// set approves or rejects a connection.
	set func(t *testing.T, env *testkit.Env, rg, name, pec, status, desc string) error
	// put is set with a context for the PUT (to capture its response);
	// an operation it starts is followed without it.
	put func(ctx context.Context, t *testing.T, env *testkit.Env, rg, name, pec, status, desc string) error
}

var ctx = context.Background()

func targets() []target {
	ts := []target{
		{
			name: "share", group: "blob",
			create: func(t *testing.T, env *testkit.Env, rg, name string) string {
				c := must(armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options))
				p := must(c.BeginCreate(ctx, rg, name, armstorage.AccountCreateParameters{Location: to.Ptr("westus"), Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil))
				return *must(p.PollUntilDone(ctx, testkit.PollOptions)).ID
			},
			conns: func(t *testing.T, env *testkit.Env, rg, name string) []conn {
				c := must(armstorage.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options))
				var out []conn
				for p := c.NewListPager(rg, name, nil); p.More(); {
					out = append(out, convert[[]conn](t, must(p.NextPage(ctx)).Value)...)
				}
				return out
			},
			put: func(rctx context.Context, t *testing.T, env *testkit.Env, rg, name, pec, status, desc string) error {
				c := must(armstorage.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options))
				var body armstorage.PrivateEndpointConnection
				_ = json.Unmarshal(stateBody(status, desc), &body)
				_, err := c.Put(rctx, rg, name, pec, body, nil)
				return err
			},
		},
		{
			name: "myeventhubns", group: "namespace",
			create: func(t *testing.T, env *testkit.Env, rg, name string) string {
				c := must(armeventhub.NewNamespacesClient(env.Subscription, env.Cred, env.Options))
				p := must(c.BeginCreateOrUpdate(ctx, rg, name, armeventhub.EHNamespace{Location: to.Ptr("westus"), SKU: &armeventhub.SKU{Name: to.Ptr(armeventhub.SKUNameStandard), Tier: to.Ptr(armeventhub.SKUTierStandard)}}, nil))
				return *must(p.PollUntilDone(ctx, testkit.PollOptions)).ID
			},
			conns: func(t *testing.T, env *testkit.Env, rg, name string) []conn {
				c := must(armeventhub.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options))
				var out []conn
				for p := c.NewListPager(rg, name, nil); p.More(); {
					out = append(out, convert[[]conn](t, must(p.NextPage(ctx)).Value)...)
				}
				return out
			},
			put: func(rctx context.Context, t *testing.T, env *testkit.Env, rg, name, pec, status, desc string) error {
				c := must(armeventhub.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options))
				var body armeventhub.PrivateEndpointConnection
				_ = json.Unmarshal(stateBody(status, desc), &body)
				_, err := c.CreateOrUpdate(rctx, rg, name, pec, body, nil)
				return err
			},
		},
		{
			name: "myiothub", group: "iotHub",
			create: func(t *testing.T, env *testkit.Env, rg, name string) string {
				c := must(armiothub.NewResourceClient(env.Subscription, env.Cred, env.Options))
				p := must(c.BeginCreateOrUpdate(ctx, rg, name, armiothub.Description{Location: to.Ptr("westus"), SKU: &armiothub.SKUInfo{Name: to.Ptr(armiothub.IotHubSKUS1), Capacity: to.Ptr[int64](1)}}, nil))
				return *must(p.PollUntilDone(ctx, testkit.PollOptions)).ID
			},
			conns: func(t *testing.T, env *testkit.Env, rg, name string) []conn {
				c := must(armiothub.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options))
				return convert[[]conn](t, must(c.List(ctx, rg, name, nil)).PrivateEndpointConnectionArray)
			},
			put: func(rctx context.Context, t *testing.T, env *testkit.Env, rg, name, pec, status, desc string) error {
				c := must(armiothub.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options))
				var body armiothub.PrivateEndpointConnection
				_ = json.Unmarshal(stateBody(status, desc), &body)
				p, err := c.BeginUpdate(rctx, rg, name, pec, body, nil)
				if err != nil {
					return err
				}
				_, err = p.PollUntilDone(ctx, testkit.PollOptions)
				return err
			},
		},
		{
			name: "myvault", group: "vault",
			create: func(t *testing.T, env *testkit.Env, rg, name string) string {
				c := must(armkeyvault.NewVaultsClient(env.Subscription, env.Cred, env.Options))
				p := must(c.BeginCreateOrUpdate(ctx, rg, name, armkeyvault.VaultCreateOrUpdateParameters{Location: to.Ptr("westus"), Properties: &armkeyvault.VaultProperties{
					TenantID: to.Ptr(identity.DefaultTenantID), SKU: &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)}}}, nil))
				return *must(p.PollUntilDone(ctx, testkit.PollOptions)).ID
			},
			conns: func(t *testing.T, env *testkit.Env, rg, name string) []conn {
				c := must(armkeyvault.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options))
				return convert[[]conn](t, must(c.NewListByResourcePager(rg, name, nil).NextPage(ctx)).Value)
			},
			put: func(rctx context.Context, t *testing.T, env *testkit.Env, rg, name, pec, status, desc string) error {
				c := must(armkeyvault.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options))
				var body armkeyvault.PrivateEndpointConnection
				_ = json.Unmarshal(stateBody(status, desc), &body)
				_, err := c.Put(rctx, rg, name, pec, body, nil)
				return err
			},
		},
		{
			name: "mysqlserver", group: "sqlServer",
			create: func(t *testing.T, env *testkit.Env, rg, name string) string {
				c := must(armsql.NewServersClient(env.Subscription, env.Cred, env.Options))
				p := must(c.BeginCreateOrUpdate(ctx, rg, name, armsql.Server{Location: to.Ptr("westus"), Properties: &armsql.ServerProperties{
					AdministratorLogin: to.Ptr("admin1"), AdministratorLoginPassword: to.Ptr("S3cret!pass"), Version: to.Ptr("12.0")}}, nil))
				return *must(p.PollUntilDone(ctx, testkit.PollOptions)).ID
			},
			conns: func(t *testing.T, env *testkit.Env, rg, name string) []conn {
				c := must(armsql.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options))
				return convert[[]conn](t, must(c.NewListByServerPager(rg, name, nil).NextPage(ctx)).Value)
			},
			put: func(rctx context.Context, t *testing.T, env *testkit.Env, rg, name, pec, status, desc string) error {
				c := must(armsql.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options))
				var body armsql.PrivateEndpointConnection
				_ = json.Unmarshal(stateBody(status, desc), &body)
				p, err := c.BeginCreateOrUpdate(rctx, rg, name, pec, body, nil)
				if err != nil {
					return err
				}
				_, err = p.PollUntilDone(ctx, testkit.PollOptions)
				return err
			},
		},
		{
			name: "mytwins", group: "digitaltwinsinstance",
			create: func(t *testing.T, env *testkit.Env, rg, name string) string {
				c := must(armdigitaltwins.NewClient(env.Subscription, env.Cred, env.Options))
				p := must(c.BeginCreateOrUpdate(ctx, rg, name, armdigitaltwins.Description{Location: to.Ptr("westus2")}, nil))
				return *must(p.PollUntilDone(ctx, testkit.PollOptions)).ID
			},
			conns: func(t *testing.T, env *testkit.Env, rg, name string) []conn {
				c := must(armdigitaltwins.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options))
				return convert[[]conn](t, must(c.List(ctx, rg, name, nil)).Value)
			},
			put: func(rctx context.Context, t *testing.T, env *testkit.Env, rg, name, pec, status, desc string) error {
				c := must(armdigitaltwins.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options))
				var body armdigitaltwins.PrivateEndpointConnection
				_ = json.Unmarshal(stateBody(status, desc), &body)
				p, err := c.BeginCreateOrUpdate(rctx, rg, name, pec, body, nil)
				if err != nil {
					return err
				}
				_, err = p.PollUntilDone(ctx, testkit.PollOptions)
				return err
			},
		},
		{
			name: "targetadx", group: "cluster",
			create: func(t *testing.T, env *testkit.Env, rg, name string) string {
				return createCluster(t, env, rg, name, nil)
			},
			conns: func(t *testing.T, env *testkit.Env, rg, name string) []conn {
				c := must(armkusto.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options))
				return convert[[]conn](t, must(c.NewListPager(rg, name, nil).NextPage(ctx)).Value)
			},
			put: func(rctx context.Context, t *testing.T, env *testkit.Env, rg, name, pec, status, desc string) error {
				c := must(armkusto.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options))
				p, err := c.BeginCreateOrUpdate(rctx, rg, name, pec, armkusto.PrivateEndpointConnection{Properties: &armkusto.PrivateEndpointConnectionProperties{
					PrivateLinkServiceConnectionState: &armkusto.PrivateLinkServiceConnectionStateProperty{Status: to.Ptr(status), Description: to.Ptr(desc)}}}, nil)
				if err != nil {
					return err
				}
				_, err = p.PollUntilDone(ctx, testkit.PollOptions)
				return err
			},
		},
	}
	for i := range ts {
		put := ts[i].put
		ts[i].set = func(t *testing.T, env *testkit.Env, rg, name, pec, status, desc string) error {
			return put(ctx, t, env, rg, name, pec, status, desc)
		}
	}
	return ts
}
