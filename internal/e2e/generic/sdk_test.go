package generic

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/eventhub/armeventhub"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/iothub/armiothub"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

var ctx = context.Background()

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// check fails the test on an SDK error.
func check[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func sdkGroup(t *testing.T, env *testkit.Env, name string) {
	t.Helper()
	c := must(armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options))
	check[armresources.ResourceGroupsClientCreateOrUpdateResponse](t, "group")(c.CreateOrUpdate(ctx, name, armresources.ResourceGroup{Location: to.Ptr("westus")}, nil))
}

// Storage: blob services and containers are generic children of the
// account; listKeys answers the account's two keys, the same each time
// until one is regenerated.
func TestSDKStorage(t *testing.T) {
	env := testkit.Start(t)
	sdkGroup(t, env, "st")
	accounts := must(armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options))
	p := check[*runtime.Poller[armstorage.AccountsClientCreateResponse]](t, "create account")(accounts.BeginCreate(ctx, "st", "sdksa1", armstorage.AccountCreateParameters{
		Location: to.Ptr("westus"), Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil))
	acct := check[armstorage.AccountsClientCreateResponse](t, "poll account")(p.PollUntilDone(ctx, testkit.PollOptions))
	if got := *acct.Properties.PrimaryEndpoints.Blob; got != "https://sdksa1.blob.core.windows.net/" {
		t.Errorf("blob endpoint = %s", got)
	}
	keys := check[armstorage.AccountsClientListKeysResponse](t, "listKeys")(accounts.ListKeys(ctx, "st", "sdksa1", nil))
	// Azure answers "FULL" where the spec's enum says "Full": enums are not checked by the SDK.
	if len(keys.Keys) != 2 || *keys.Keys[0].KeyName != "key1" || len(*keys.Keys[0].Value) != 88 || !strings.EqualFold(string(*keys.Keys[0].Permissions), string(armstorage.KeyPermissionFull)) {
		t.Fatalf("keys = %+v, want key1 and key2, 64 bytes in base64, FULL", keys.Keys)
	}
	again := check[armstorage.AccountsClientListKeysResponse](t, "listKeys again")(accounts.ListKeys(ctx, "st", "sdksa1", nil))
	if *again.Keys[0].Value != *keys.Keys[0].Value || *again.Keys[1].Value != *keys.Keys[1].Value {
		t.Error("listKeys answers other keys the second time")
	}
	regen := check[armstorage.AccountsClientRegenerateKeyResponse](t, "regenerateKey")(accounts.RegenerateKey(ctx, "st", "sdksa1", armstorage.AccountRegenerateKeyParameters{KeyName: to.Ptr("key2")}, nil))
	if *regen.Keys[0].Value != *keys.Keys[0].Value || *regen.Keys[1].Value == *keys.Keys[1].Value {
		t.Error("regenerateKey key2 did not change key2 alone")
	}

	blobs := must(armstorage.NewBlobServicesClient(env.Subscription, env.Cred, env.Options))
	check[armstorage.BlobServicesClientSetServicePropertiesResponse](t, "blob service")(blobs.SetServiceProperties(ctx, "st", "sdksa1", armstorage.BlobServiceProperties{
		BlobServiceProperties: &armstorage.BlobServicePropertiesProperties{IsVersioningEnabled: to.Ptr(true)}}, nil))
	containers := must(armstorage.NewBlobContainersClient(env.Subscription, env.Cred, env.Options))
	c := check[armstorage.BlobContainersClientCreateResponse](t, "container")(containers.Create(ctx, "st", "sdksa1", "data", armstorage.BlobContainer{
		ContainerProperties: &armstorage.ContainerProperties{PublicAccess: to.Ptr(armstorage.PublicAccessNone), Metadata: map[string]*string{"k": to.Ptr("v")}}}, nil))
	if !strings.HasSuffix(*c.ID, "/storageAccounts/sdksa1/blobServices/default/containers/data") {
		t.Errorf("container id = %s", *c.ID)
	}
	got := check[armstorage.BlobContainersClientGetResponse](t, "get container")(containers.Get(ctx, "st", "sdksa1", "data", nil))
	if *got.ContainerProperties.PublicAccess != armstorage.PublicAccessNone || *got.ContainerProperties.Metadata["k"] != "v" {
		t.Errorf("container = %+v, want what was sent", got.ContainerProperties)
	}
	var n int
	for pager := containers.NewListPager("st", "sdksa1", nil); pager.More(); {
		n += len(check[armstorage.BlobContainersClientListResponse](t, "list containers")(pager.NextPage(ctx)).Value)
	}
	if n != 1 {
		t.Errorf("%d containers, want 1", n)
	}
	check[armstorage.BlobContainersClientDeleteResponse](t, "delete container")(containers.Delete(ctx, "st", "sdksa1", "data", nil))
	if _, err := containers.Get(ctx, "st", "sdksa1", "data", nil); err == nil {
		t.Error("the container is still there")
	}
}

// Event Hubs: hubs and consumer groups are generic (answering 200 to their
// creation, the only status armeventhub accepts); every namespace has
// RootManageSharedAccessKey, whose listKeys gives connection strings.
func TestSDKEventHubs(t *testing.T) {
	env := testkit.Start(t)
	sdkGroup(t, env, "eh")
	nsc := must(armeventhub.NewNamespacesClient(env.Subscription, env.Cred, env.Options))
	p := check[*runtime.Poller[armeventhub.NamespacesClientCreateOrUpdateResponse]](t, "namespace")(nsc.BeginCreateOrUpdate(ctx, "eh", "sdkns01", armeventhub.EHNamespace{
		Location: to.Ptr("westus"), SKU: &armeventhub.SKU{Name: to.Ptr(armeventhub.SKUNameStandard), Tier: to.Ptr(armeventhub.SKUTierStandard)}}, nil))
	ns := check[armeventhub.NamespacesClientCreateOrUpdateResponse](t, "poll namespace")(p.PollUntilDone(ctx, testkit.PollOptions))
	if got := *ns.Properties.ServiceBusEndpoint; got != "https://sdkns01.servicebus.windows.net:443/" {
		t.Errorf("serviceBusEndpoint = %s", got)
	}
	hubs := must(armeventhub.NewEventHubsClient(env.Subscription, env.Cred, env.Options))
	hub := check[armeventhub.EventHubsClientCreateOrUpdateResponse](t, "hub")(hubs.CreateOrUpdate(ctx, "eh", "sdkns01", "events", armeventhub.Eventhub{
		Properties: &armeventhub.Properties{PartitionCount: to.Ptr[int64](4)}}, nil))
	if *hub.Properties.PartitionCount != 4 {
		t.Errorf("partitionCount = %d", *hub.Properties.PartitionCount)
	}
	groups := must(armeventhub.NewConsumerGroupsClient(env.Subscription, env.Cred, env.Options))
	check[armeventhub.ConsumerGroupsClientCreateOrUpdateResponse](t, "consumer group")(groups.CreateOrUpdate(ctx, "eh", "sdkns01", "events", "adx", armeventhub.ConsumerGroup{
		Properties: &armeventhub.ConsumerGroupProperties{UserMetadata: to.Ptr("for Kusto")}}, nil))
	cg := check[armeventhub.ConsumerGroupsClientGetResponse](t, "get consumer group")(groups.Get(ctx, "eh", "sdkns01", "events", "adx", nil))
	if *cg.Properties.UserMetadata != "for Kusto" {
		t.Errorf("userMetadata = %s", *cg.Properties.UserMetadata)
	}

	keys := check[armeventhub.NamespacesClientListKeysResponse](t, "namespace listKeys")(nsc.ListKeys(ctx, "eh", "sdkns01", "RootManageSharedAccessKey", nil))
	want := "Endpoint=sb://sdkns01.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=" + *keys.PrimaryKey
	if *keys.PrimaryConnectionString != want || len(*keys.PrimaryKey) != 44 || *keys.KeyName != "RootManageSharedAccessKey" {
		t.Errorf("keys = %s / %s, want %s", *keys.PrimaryConnectionString, *keys.KeyName, want)
	}
	rule := check[armeventhub.NamespacesClientGetAuthorizationRuleResponse](t, "root rule")(nsc.GetAuthorizationRule(ctx, "eh", "sdkns01", "RootManageSharedAccessKey", nil))
	if len(rule.Properties.Rights) != 3 {
		t.Errorf("root rule rights = %v, want Listen, Manage, Send", rule.Properties.Rights)
	}
	check[armeventhub.EventHubsClientCreateOrUpdateAuthorizationRuleResponse](t, "hub rule")(hubs.CreateOrUpdateAuthorizationRule(ctx, "eh", "sdkns01", "events", "send", armeventhub.AuthorizationRule{
		Properties: &armeventhub.AuthorizationRuleProperties{Rights: []*armeventhub.AccessRights{to.Ptr(armeventhub.AccessRightsSend)}}}, nil))
	hk := check[armeventhub.EventHubsClientListKeysResponse](t, "hub listKeys")(hubs.ListKeys(ctx, "eh", "sdkns01", "events", "send", nil))
	if !strings.HasSuffix(*hk.PrimaryConnectionString, ";EntityPath=events") {
		t.Errorf("hub connection string = %s, want an EntityPath", *hk.PrimaryConnectionString)
	}
	regen := check[armeventhub.NamespacesClientRegenerateKeysResponse](t, "regenerate")(nsc.RegenerateKeys(ctx, "eh", "sdkns01", "RootManageSharedAccessKey", armeventhub.RegenerateAccessKeyParameters{KeyType: to.Ptr(armeventhub.KeyTypePrimaryKey)}, nil))
	if *regen.PrimaryKey == *keys.PrimaryKey || *regen.SecondaryKey != *keys.SecondaryKey {
		t.Error("regenerateKeys PrimaryKey did not change the primary key alone")
	}
	// The hub and its consumer group go with the namespace.
	dp := check[*runtime.Poller[armeventhub.NamespacesClientDeleteResponse]](t, "delete namespace")(nsc.BeginDelete(ctx, "eh", "sdkns01", nil))
	check[armeventhub.NamespacesClientDeleteResponse](t, "poll delete")(dp.PollUntilDone(ctx, testkit.PollOptions))
	if _, err := hubs.Get(ctx, "eh", "sdkns01", "events", nil); err == nil {
		t.Error("the hub outlived its namespace")
	}
}

// IoT Hub: listkeys answers the hub's shared access policies with keys.
func TestSDKIoTHubKeys(t *testing.T) {
	env := testkit.Start(t)
	sdkGroup(t, env, "iot")
	c := must(armiothub.NewResourceClient(env.Subscription, env.Cred, env.Options))
	p := check[*runtime.Poller[armiothub.ResourceClientCreateOrUpdateResponse]](t, "hub")(c.BeginCreateOrUpdate(ctx, "iot", "sdkhub1", armiothub.Description{
		Location: to.Ptr("westus"), SKU: &armiothub.SKUInfo{Name: to.Ptr(armiothub.IotHubSKUS1), Capacity: to.Ptr[int64](1)}}, nil))
	hub := check[armiothub.ResourceClientCreateOrUpdateResponse](t, "poll hub")(p.PollUntilDone(ctx, testkit.PollOptions))
	if *hub.Properties.HostName != "sdkhub1.azure-devices.net" {
		t.Errorf("hostName = %s", *hub.Properties.HostName)
	}
	var rules []*armiothub.SharedAccessSignatureAuthorizationRule
	for pager := c.NewListKeysPager("iot", "sdkhub1", nil); pager.More(); {
		rules = append(rules, check[armiothub.ResourceClientListKeysResponse](t, "listkeys")(pager.NextPage(ctx)).Value...)
	}
	if len(rules) != 5 || *rules[0].KeyName != "iothubowner" || len(*rules[0].PrimaryKey) != 44 || *rules[0].Rights != armiothub.AccessRightsRegistryWriteServiceConnectDeviceConnect {
		t.Fatalf("rules = %d, first %+v", len(rules), rules[0])
	}
}

// Key Vault secrets: generic with their URIs, never showing the value.
func TestSDKKeyVaultSecrets(t *testing.T) {
	env := testkit.Start(t)
	sdkGroup(t, env, "kv")
	vaults := must(armkeyvault.NewVaultsClient(env.Subscription, env.Cred, env.Options))
	p := check[*runtime.Poller[armkeyvault.VaultsClientCreateOrUpdateResponse]](t, "vault")(vaults.BeginCreateOrUpdate(ctx, "kv", "sdkvault1", armkeyvault.VaultCreateOrUpdateParameters{
		Location: to.Ptr("westus"), Properties: &armkeyvault.VaultProperties{TenantID: to.Ptr(identity.DefaultTenantID), SKU: &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)}}}, nil))
	v := check[armkeyvault.VaultsClientCreateOrUpdateResponse](t, "poll vault")(p.PollUntilDone(ctx, testkit.PollOptions))
	if *v.Properties.VaultURI != "https://sdkvault1.vault.azure.net/" {
		t.Errorf("vaultUri = %s", *v.Properties.VaultURI)
	}
	secrets := must(armkeyvault.NewSecretsClient(env.Subscription, env.Cred, env.Options))
	s := check[armkeyvault.SecretsClientCreateOrUpdateResponse](t, "secret")(secrets.CreateOrUpdate(ctx, "kv", "sdkvault1", "conn", armkeyvault.SecretCreateOrUpdateParameters{
		Properties: &armkeyvault.SecretProperties{Value: to.Ptr("hush"), ContentType: to.Ptr("text/plain")}}, nil))
	if *s.Properties.SecretURI != "https://sdkvault1.vault.azure.net/secrets/conn" || !strings.HasPrefix(*s.Properties.SecretURIWithVersion, *s.Properties.SecretURI+"/") {
		t.Errorf("uris = %s, %s", *s.Properties.SecretURI, *s.Properties.SecretURIWithVersion)
	}
	got := check[armkeyvault.SecretsClientGetResponse](t, "get secret")(secrets.Get(ctx, "kv", "sdkvault1", "conn", nil))
	if got.Properties.Value != nil || *got.Properties.ContentType != "text/plain" || got.Properties.Attributes == nil || *got.Properties.Attributes.Enabled != true {
		t.Errorf("secret = %+v, want no value, the content type and enabled attributes", got.Properties)
	}
}

// SQL databases are tracked children of their server.
func TestSDKSQL(t *testing.T) {
	env := testkit.Start(t)
	sdkGroup(t, env, "sql")
	servers := must(armsql.NewServersClient(env.Subscription, env.Cred, env.Options))
	p := check[*runtime.Poller[armsql.ServersClientCreateOrUpdateResponse]](t, "server")(servers.BeginCreateOrUpdate(ctx, "sql", "sdksql1", armsql.Server{
		Location: to.Ptr("westus"), Properties: &armsql.ServerProperties{AdministratorLogin: to.Ptr("admin"), AdministratorLoginPassword: to.Ptr("P@ssw0rd!")}}, nil))
	srv := check[armsql.ServersClientCreateOrUpdateResponse](t, "poll server")(p.PollUntilDone(ctx, testkit.PollOptions))
	if *srv.Properties.FullyQualifiedDomainName != "sdksql1.database.windows.net" {
		t.Errorf("fullyQualifiedDomainName = %s", *srv.Properties.FullyQualifiedDomainName)
	}
	dbs := must(armsql.NewDatabasesClient(env.Subscription, env.Cred, env.Options))
	dp := check[*runtime.Poller[armsql.DatabasesClientCreateOrUpdateResponse]](t, "database")(dbs.BeginCreateOrUpdate(ctx, "sql", "sdksql1", "db1", armsql.Database{
		Location: to.Ptr("westus"), SKU: &armsql.SKU{Name: to.Ptr("S0")}}, nil))
	db := check[armsql.DatabasesClientCreateOrUpdateResponse](t, "poll database")(dp.PollUntilDone(ctx, testkit.PollOptions))
	if *db.SKU.Name != "S0" || *db.Location != "westus" {
		t.Errorf("database = %+v", db.Database)
	}
	if _, err := dbs.BeginCreateOrUpdate(ctx, "sql", "sdksql1", "db2", armsql.Database{SKU: &armsql.SKU{Name: to.Ptr("S0")}}, nil); err == nil || !strings.Contains(err.Error(), "LocationRequired") {
		t.Errorf("a database without location: %v, want LocationRequired", err)
	}
}

// Managed identities and role assignments: a user-assigned identity has its
// ids; a role assignment is an extension resource of any scope.
func TestSDKIdentityAndRoles(t *testing.T) {
	env := testkit.Start(t)
	sdkGroup(t, env, "roles")
	ids := must(armmsi.NewUserAssignedIdentitiesClient(env.Subscription, env.Cred, env.Options))
	uami := check[armmsi.UserAssignedIdentitiesClientCreateOrUpdateResponse](t, "identity")(ids.CreateOrUpdate(ctx, "roles", "app-id", armmsi.Identity{Location: to.Ptr("westus")}, nil))
	if uami.Properties.PrincipalID == nil || uami.Properties.ClientID == nil || *uami.Properties.TenantID != identity.DefaultTenantID {
		t.Fatalf("identity properties = %+v", uami.Properties)
	}
	ras := must(armauthorization.NewRoleAssignmentsClient(env.Subscription, env.Cred, env.Options))
	scope := "/subscriptions/" + env.Subscription + "/resourceGroups/roles"
	role := "/subscriptions/" + env.Subscription + "/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"
	name := "11111111-2222-3333-4444-555555555555"
	ra := check[armauthorization.RoleAssignmentsClientCreateResponse](t, "role assignment")(ras.Create(ctx, scope, name, armauthorization.RoleAssignmentCreateParameters{
		Properties: &armauthorization.RoleAssignmentProperties{RoleDefinitionID: to.Ptr(role), PrincipalID: uami.Properties.PrincipalID, PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal)}}, nil))
	if *ra.ID != scope+"/providers/Microsoft.Authorization/roleAssignments/"+name || *ra.Properties.PrincipalID != *uami.Properties.PrincipalID {
		t.Errorf("role assignment = %s %+v", *ra.ID, ra.Properties)
	}
	// On the identity itself: an extension of a resource.
	idScope := *uami.ID
	check[armauthorization.RoleAssignmentsClientCreateResponse](t, "assignment on the identity")(ras.Create(ctx, idScope, "66666666-2222-3333-4444-555555555555", armauthorization.RoleAssignmentCreateParameters{
		Properties: &armauthorization.RoleAssignmentProperties{RoleDefinitionID: to.Ptr(role), PrincipalID: uami.Properties.PrincipalID}}, nil))
	var listed []string
	for pager := ras.NewListForScopePager(idScope, &armauthorization.RoleAssignmentsClientListForScopeOptions{Filter: to.Ptr("assignedTo('" + *uami.Properties.PrincipalID + "')")}); pager.More(); {
		for _, v := range check[armauthorization.RoleAssignmentsClientListForScopeResponse](t, "list")(pager.NextPage(ctx)).Value {
			listed = append(listed, *v.Name)
		}
	}
	// The identity's own assignment at it, and the one above it at the group.
	if len(listed) != 2 || !slices.Contains(listed, "66666666-2222-3333-4444-555555555555") || !slices.Contains(listed, name) {
		t.Errorf("assignments of the identity at the identity = %v", listed)
	}
	check[armmsi.UserAssignedIdentitiesClientDeleteResponse](t, "delete identity")(ids.Delete(ctx, "roles", "app-id", nil))
	if _, err := ras.Get(ctx, idScope, "66666666-2222-3333-4444-555555555555", nil); err == nil {
		t.Error("the identity's role assignment outlived it")
	}
	check[armauthorization.RoleAssignmentsClientGetResponse](t, "group assignment")(ras.Get(ctx, scope, name, nil))
	check[armauthorization.RoleAssignmentsClientDeleteResponse](t, "delete assignment")(ras.Delete(ctx, scope, name, nil))
}
