// Package transparent holds the end-to-end tests of privlink's transparent
// mode: unmodified programs, given only what 'privlink env' exports, reach
// privlink when they call Azure's public host names.
package transparent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/eventhub/armeventhub"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

// childVar names the scenario a re-executed test binary runs instead of the
// tests: the child starts with nothing but the environment 'privlink env'
// printed, as a user's program in that shell does (Go's proxy and root
// certificate settings are read once per process, so a fresh process is
// the only honest test).
const childVar = "PRIVLINK_TEST_CHILD"

func TestMain(m *testing.M) {
	if s := os.Getenv(childVar); s != "" {
		os.Exit(child(s))
	}
	os.Exit(m.Run())
}

// result is what a child reports on stdout.
type result struct {
	Endpoint      string `json:"endpoint"`
	State         string `json:"state"`
	CreatedBy     string `json:"createdBy"`
	CreatedByType string `json:"createdByType"`
	Connection    string `json:"connection"`
	Status        string `json:"status"`
	AsyncHost     string `json:"asyncHost"`
}

// TestSeedWithDefaultClients runs the seed's scenario (a cluster, an Event
// Hubs namespace and a storage account, two managed private endpoints, the
// owner's approval) with the official Go SDK's clients built with nil
// options, and each credential type a user reaches for, in a process that
// has only the exported environment.
func TestSeedWithDefaultClients(t *testing.T) {
	env := testkit.Start(t, testkit.WithOffline())
	vars, _ := env.ShellEnv(t)
	for k, v := range vars {
		if strings.Contains(v, "127.0.0.1") && k != "PRIVLINK_ENDPOINT" && k != "HTTPS_PROXY" && k != "https_proxy" && k != "NO_PROXY" && k != "no_proxy" &&
			k != "IDENTITY_ENDPOINT" && k != "ARM_MSI_ENDPOINT" {
			t.Fatalf("%s=%s points a client at privlink's address: the transparent mode needs no endpoint setting", k, v)
		}
	}
	tests := []struct {
		scenario string
		// drop are variables removed from the exported environment.
		drop                    []string
		wantBy, wantType, label string
	}{
		{scenario: "default", wantBy: identity.DefaultClientID, wantType: "Application"},
		{scenario: "environment", wantBy: identity.DefaultClientID, wantType: "Application"},
		{scenario: "secret", wantBy: identity.DefaultClientID, wantType: "Application"},
		{scenario: "managed", wantBy: identity.ManagedIdentityID, wantType: "ManagedIdentity"},
		// No secret in the shell: DefaultAzureCredential falls through to the
		// managed identity, asking it for the client id AZURE_CLIENT_ID names.
		{scenario: "default", label: "default without a secret", drop: []string{"AZURE_CLIENT_SECRET"}, wantBy: identity.DefaultClientID, wantType: "Application"},
	}
	for i, tt := range tests {
		name := tt.scenario
		if tt.label != "" {
			name = tt.label
		}
		t.Run(name, func(t *testing.T) {
			environ := testkit.CleanEnviron()
			for k, v := range vars {
				drop := false
				for _, d := range tt.drop {
					drop = drop || d == k
				}
				if !drop {
					environ = append(environ, k+"="+v)
				}
			}
			environ = append(environ, childVar+"="+tt.scenario, fmt.Sprintf("PRIVLINK_TEST_SUFFIX=%d", i))
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = environ
			out := testkit.Output(t, cmd)
			var r result
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("child output %q: %v", out, err)
			}
			if r.State != "Succeeded" {
				t.Errorf("endpoint state %q, want Succeeded", r.State)
			}
			if r.CreatedBy != tt.wantBy || r.CreatedByType != tt.wantType {
				t.Errorf("created by %s (%s), want %s (%s)", r.CreatedBy, r.CreatedByType, tt.wantBy, tt.wantType)
			}
			if r.Status != "Approved" {
				t.Errorf("connection %q is %q after approval, want Approved", r.Connection, r.Status)
			}
			// The long-running operation's status URL names the host the
			// client called: Azure's own, reached through the proxy.
			if r.AsyncHost != "management.azure.com" {
				t.Errorf("Azure-AsyncOperation host %q, want management.azure.com", r.AsyncHost)
			}
			// What the program did is what the server holds.
			c, err := armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(r.Endpoint, "/")
			got, err := c.Get(context.Background(), parts[4], parts[8], parts[10], nil)
			if err != nil {
				t.Fatalf("the endpoint %s is not on the server: %v", r.Endpoint, err)
			}
			if *got.Properties.ProvisioningState != armkusto.ProvisioningStateSucceeded {
				t.Errorf("server says %s", *got.Properties.ProvisioningState)
			}
		})
	}
}

// TestDirectMode: the explicit custom-cloud route ('privlink env --mode
// direct') works without DisableInstanceDiscovery, because its tenant is
// "adfs" (MSAL asks nobody about an AD FS authority).
func TestDirectMode(t *testing.T) {
	env := testkit.Start(t, testkit.WithOffline())
	vars, _ := env.ShellEnv(t, "--mode", "direct")
	if vars["HTTPS_PROXY"] != "" {
		t.Fatalf("direct mode exports HTTPS_PROXY=%s", vars["HTTPS_PROXY"])
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = testkit.CleanEnviron()
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, childVar+"=direct", "PRIVLINK_TEST_SUFFIX=d")
	out := testkit.Output(t, cmd)
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	if r.State != "Succeeded" || r.Status != "Approved" || r.CreatedBy != identity.DefaultClientID {
		t.Fatalf("got %+v", r)
	}
	if want := strings.TrimPrefix(env.URL, "https://"); r.AsyncHost != want {
		t.Fatalf("Azure-AsyncOperation host %q, want privlink's %q", r.AsyncHost, want)
	}
}

// child runs scenario with clients built exactly as the SDK's documentation
// shows, nil options everywhere, and prints a result.
func child(scenario string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := seed(ctx, scenario)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
	return 0
}

func credential(scenario string) (azcore.TokenCredential, error) {
	switch scenario {
	case "default":
		return azidentity.NewDefaultAzureCredential(nil)
	case "environment":
		return azidentity.NewEnvironmentCredential(nil)
	case "secret":
		return azidentity.NewClientSecretCredential(os.Getenv("AZURE_TENANT_ID"), os.Getenv("AZURE_CLIENT_ID"), os.Getenv("AZURE_CLIENT_SECRET"), nil)
	case "managed":
		return azidentity.NewManagedIdentityCredential(nil)
	case "direct":
		// The custom-cloud route: AZURE_AUTHORITY_HOST is privlink and the
		// tenant is "adfs", so MSAL asks no one about the authority; no
		// DisableInstanceDiscovery in the code.
		return azidentity.NewEnvironmentCredential(nil)
	}
	return nil, fmt.Errorf("unknown scenario %q", scenario)
}

// clientOptions are nil (Azure's public cloud) except in the direct route,
// where the program names privlink as its Resource Manager, as a program
// written for Azure Stack or a sovereign cloud does.
func clientOptions(scenario string) *arm.ClientOptions {
	if scenario != "direct" {
		return nil
	}
	return &arm.ClientOptions{ClientOptions: policy.ClientOptions{Cloud: cloud.Configuration{
		ActiveDirectoryAuthorityHost: os.Getenv("AZURE_AUTHORITY_HOST"),
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: os.Getenv("AZURE_RESOURCE_MANAGER_ENDPOINT"), Audience: "https://management.core.windows.net/"},
		},
	}}}
}

// seed is the seed document's scenario through the official SDK.
func seed(ctx context.Context, scenario string) (*result, error) {
	cred, err := credential(scenario)
	if err != nil {
		return nil, err
	}
	opts := clientOptions(scenario)
	sub := os.Getenv("AZURE_SUBSCRIPTION_ID")
	suffix := os.Getenv("PRIVLINK_TEST_SUFFIX")
	rg, cluster, ns, account := "adx"+suffix, "mycluster"+suffix, "myeventhubns"+suffix, "share"+suffix
	groups, err := armresources.NewResourceGroupsClient(sub, cred, opts)
	if err != nil {
		return nil, err
	}
	if _, err := groups.CreateOrUpdate(ctx, rg, armresources.ResourceGroup{Location: to.Ptr("westus")}, nil); err != nil {
		return nil, fmt.Errorf("resource group: %w", err)
	}
	clusters, err := armkusto.NewClustersClient(sub, cred, opts)
	if err != nil {
		return nil, err
	}
	cp, err := clusters.BeginCreateOrUpdate(ctx, rg, cluster, armkusto.Cluster{
		Location: to.Ptr("westus"),
		SKU:      &armkusto.AzureSKU{Name: to.Ptr(armkusto.AzureSKUNameStandardE2AV4), Tier: to.Ptr(armkusto.AzureSKUTierStandard)},
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if _, err := cp.PollUntilDone(ctx, nil); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	namespaces, err := armeventhub.NewNamespacesClient(sub, cred, opts)
	if err != nil {
		return nil, err
	}
	np, err := namespaces.BeginCreateOrUpdate(ctx, rg, ns, armeventhub.EHNamespace{Location: to.Ptr("westus")}, nil)
	if err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	nsr, err := np.PollUntilDone(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	accounts, err := armstorage.NewAccountsClient(sub, cred, opts)
	if err != nil {
		return nil, err
	}
	ap, err := accounts.BeginCreate(ctx, rg, account, armstorage.AccountCreateParameters{
		Location: to.Ptr("westus"), Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)},
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("storage account: %w", err)
	}
	acr, err := ap.PollUntilDone(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("storage account: %w", err)
	}
	mpes, err := armkusto.NewManagedPrivateEndpointsClient(sub, cred, opts)
	if err != nil {
		return nil, err
	}
	r := &result{}
	var eh armkusto.ManagedPrivateEndpoint
	for _, m := range []struct{ name, target, group string }{
		{"mpeToEventHub", *nsr.ID, "namespace"},
		{"mpeToStorage", *acr.ID, "blob"},
	} {
		p, err := mpes.BeginCreateOrUpdate(ctx, rg, cluster, m.name, armkusto.ManagedPrivateEndpoint{Properties: &armkusto.ManagedPrivateEndpointProperties{
			PrivateLinkResourceID: to.Ptr(m.target), GroupID: to.Ptr(m.group), RequestMessage: to.Ptr("Please Approve."),
		}}, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
		res, err := p.PollUntilDone(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
		if m.name == "mpeToEventHub" {
			eh = res.ManagedPrivateEndpoint
		}
	}
	r.Endpoint, r.State = *eh.ID, string(*eh.Properties.ProvisioningState)
	if eh.SystemData != nil {
		r.CreatedBy, r.CreatedByType = *eh.SystemData.CreatedBy, string(*eh.SystemData.CreatedByType)
	}
	// The default principal owns the namespace (it owns the default
	// subscription), so the connection the endpoint placed there was
	// approved at once: the seed's "Automatic approval".
	pecs, err := armeventhub.NewPrivateEndpointConnectionsClient(sub, cred, opts)
	if err != nil {
		return nil, err
	}
	pager := pecs.NewListPager(rg, ns, nil)
	var approved *armeventhub.PrivateEndpointConnection
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("connections: %w", err)
		}
		for _, c := range page.Value {
			if c.Properties != nil && c.Properties.PrivateLinkServiceConnectionState != nil && *c.Properties.PrivateLinkServiceConnectionState.Status == armeventhub.PrivateLinkConnectionStatusApproved &&
				*c.Properties.PrivateLinkServiceConnectionState.Description == "Auto-approved" {
				approved = c
			}
		}
	}
	if approved == nil {
		return nil, errors.New("no automatically approved connection on the namespace")
	}
	r.Connection, r.Status = *approved.Name, string(*approved.Properties.PrivateLinkServiceConnectionState.Status)
	// Where does the SDK poll? The delete's status URL names the host the
	// client called.
	var raw *http.Response
	dp, err := mpes.BeginDelete(policy.WithCaptureResponse(ctx, &raw), rg, cluster, "mpeToStorage", nil)
	if err != nil {
		return nil, fmt.Errorf("delete: %w", err)
	}
	if raw != nil {
		if u, err := url.Parse(raw.Header.Get("Azure-AsyncOperation")); err == nil {
			r.AsyncHost = u.Host
		}
	}
	if _, err := dp.PollUntilDone(ctx, nil); err != nil {
		return nil, fmt.Errorf("delete: %w", err)
	}
	return r, nil
}
