package replicas

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// readerRole is Azure's built-in Reader role.
const readerRole = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

// TestSchemasApart runs two privlinks on two schemas of one database (as
// the tests of several packages do at once, and as one server may hold
// several environments): privlink B commits many times, so that its commit
// numbers run far ahead of A's, then at A a principal is given a role at
// one replica and uses it at once at the other. Each privlink follows its
// own commits only, so A's second replica knows the new role assignment.
func TestSchemasApart(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	base := testkit.PostgresURL(t)
	a := startFleet(t, testkit.FreshSchema(t, base, "privlink_apart_a"), fleetConfig{n: 2})
	b := startFleet(t, testkit.FreshSchema(t, base, "privlink_apart_b"), fleetConfig{n: 1})
	for i := range 200 {
		fixtures.CreateRG(t, b.env, b.env.Subscription, fmt.Sprintf("rg%03d", i))
	}

	env := a.env
	fixtures.CreateRG(t, env, env.Subscription, "adx")
	p := env.NewPrincipal(t, "apart")
	sub := "/subscriptions/" + env.Subscription
	env.Assign(t, p.ObjectID, "ServicePrincipal", sub+"/providers/Microsoft.Authorization/roleDefinitions/"+readerRole, sub+"/resourceGroups/adx")
	// The principal's token, from the first replica; the read goes round
	// robin to the replica that did not take the assignment.
	cred := fixtures.Must(azidentity.NewClientSecretCredential(identity.DefaultTenantID, p.ClientID, p.Secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: policy.ClientOptions{Cloud: testkit.Cloud(a.replicas[0].url), Transport: &http.Client{Transport: a.rr.base}},
			DisableInstanceDiscovery: true}))
	a.rr.served()
	rg := fixtures.Must(armresources.NewResourceGroupsClient(env.Subscription, cred, env.Options))
	for i := range 4 { // each replica twice
		if _, err := rg.Get(ctx, "adx", nil); err != nil {
			log := a.rr.served()
			t.Fatalf("read %d, at replica %d, by a principal made Reader of the group just before: %v", i, log[len(log)-1].replica, err)
		}
	}
}
