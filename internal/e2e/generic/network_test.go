package generic

import (
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/privatedns/armprivatedns"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

// A Microsoft.Network private endpoint to one of privlink's targets places
// a connection on the target through the same state machine as a managed
// private endpoint: automatic connections are approved at once (the caller
// may approve them), manual ones wait for the owner; the endpoint shows the
// state, follows the owner's decision, and takes its connection away when
// deleted. The rest of the network (virtual network, subnet, private DNS
// zone, link, zone group) is generic.
func TestSDKPrivateEndpoints(t *testing.T) {
	env := testkit.Start(t)
	sdkGroup(t, env, "net")
	sub := env.Subscription

	vnets := must(armnetwork.NewVirtualNetworksClient(sub, env.Cred, env.Options))
	vp := check[*runtime.Poller[armnetwork.VirtualNetworksClientCreateOrUpdateResponse]](t, "vnet")(vnets.BeginCreateOrUpdate(ctx, "net", "vnet1", armnetwork.VirtualNetwork{
		Location:   to.Ptr("westus"),
		Properties: &armnetwork.VirtualNetworkPropertiesFormat{AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{to.Ptr("10.1.0.0/16")}}},
	}, nil))
	vnet := check[armnetwork.VirtualNetworksClientCreateOrUpdateResponse](t, "poll vnet")(vp.PollUntilDone(ctx, testkit.PollOptions))
	subnets := must(armnetwork.NewSubnetsClient(sub, env.Cred, env.Options))
	sp := check[*runtime.Poller[armnetwork.SubnetsClientCreateOrUpdateResponse]](t, "subnet")(subnets.BeginCreateOrUpdate(ctx, "net", "vnet1", "endpoints", armnetwork.Subnet{
		Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: to.Ptr("10.1.2.0/24")}}, nil))
	subnet := check[armnetwork.SubnetsClientCreateOrUpdateResponse](t, "poll subnet")(sp.PollUntilDone(ctx, testkit.PollOptions))
	if *subnet.Properties.ProvisioningState != armnetwork.ProvisioningStateSucceeded {
		t.Errorf("subnet provisioningState = %s", *subnet.Properties.ProvisioningState)
	}

	accounts := must(armstorage.NewAccountsClient(sub, env.Cred, env.Options))
	ap := check[*runtime.Poller[armstorage.AccountsClientCreateResponse]](t, "account")(accounts.BeginCreate(ctx, "net", "pesa1", armstorage.AccountCreateParameters{
		Location: to.Ptr("westus"), Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil))
	account := check[armstorage.AccountsClientCreateResponse](t, "poll account")(ap.PollUntilDone(ctx, testkit.PollOptions))

	// Automatic: approved at once.
	pes := must(armnetwork.NewPrivateEndpointsClient(sub, env.Cred, env.Options))
	pp := check[*runtime.Poller[armnetwork.PrivateEndpointsClientCreateOrUpdateResponse]](t, "endpoint")(pes.BeginCreateOrUpdate(ctx, "net", "pe-blob", armnetwork.PrivateEndpoint{
		Location: to.Ptr("westus"),
		Properties: &armnetwork.PrivateEndpointProperties{
			Subnet: &armnetwork.Subnet{ID: subnet.ID},
			PrivateLinkServiceConnections: []*armnetwork.PrivateLinkServiceConnection{{
				Name:       to.Ptr("blob"),
				Properties: &armnetwork.PrivateLinkServiceConnectionProperties{PrivateLinkServiceID: account.ID, GroupIDs: []*string{to.Ptr("blob")}},
			}},
		},
	}, nil))
	pe := check[armnetwork.PrivateEndpointsClientCreateOrUpdateResponse](t, "poll endpoint")(pp.PollUntilDone(ctx, testkit.PollOptions))
	conn := pe.Properties.PrivateLinkServiceConnections[0]
	if got := *conn.Properties.PrivateLinkServiceConnectionState.Status; got != "Approved" {
		t.Errorf("automatic connection status = %s, want Approved", got)
	}
	if len(pe.Properties.NetworkInterfaces) != 1 || !strings.Contains(*pe.Properties.NetworkInterfaces[0].ID, "/networkInterfaces/pe-blob.nic.") {
		t.Fatalf("networkInterfaces = %v", pe.Properties.NetworkInterfaces)
	}
	if len(pe.Properties.CustomDNSConfigs) != 1 || *pe.Properties.CustomDNSConfigs[0].Fqdn != "pesa1.blob.core.windows.net" ||
		!strings.HasPrefix(*pe.Properties.CustomDNSConfigs[0].IPAddresses[0], "10.1.2.") {
		t.Errorf("customDnsConfigs = %+v", pe.Properties.CustomDNSConfigs[0])
	}
	nics := must(armnetwork.NewInterfacesClient(sub, env.Cred, env.Options))
	nicName := (*pe.Properties.NetworkInterfaces[0].ID)[strings.LastIndexByte(*pe.Properties.NetworkInterfaces[0].ID, '/')+1:]
	nic := check[armnetwork.InterfacesClientGetResponse](t, "nic")(nics.Get(ctx, "net", nicName, nil))
	if got := *nic.Properties.IPConfigurations[0].Properties.PrivateIPAddress; got != *pe.Properties.CustomDNSConfigs[0].IPAddresses[0] {
		t.Errorf("nic address %s, endpoint says %s", got, *pe.Properties.CustomDNSConfigs[0].IPAddresses[0])
	}
	// The target shows the connection, approved, naming the endpoint.
	spec := must(armstorage.NewPrivateEndpointConnectionsClient(sub, env.Cred, env.Options))
	var onTarget []*armstorage.PrivateEndpointConnection
	for pager := spec.NewListPager("net", "pesa1", nil); pager.More(); {
		onTarget = append(onTarget, check[armstorage.PrivateEndpointConnectionsClientListResponse](t, "target connections")(pager.NextPage(ctx)).Value...)
	}
	if len(onTarget) != 1 || *onTarget[0].Properties.PrivateEndpoint.ID != *pe.ID || *onTarget[0].Properties.PrivateLinkServiceConnectionState.Status != armstorage.PrivateEndpointServiceConnectionStatusApproved {
		t.Fatalf("target connections = %+v", onTarget)
	}

	// Private DNS: zone, link and zone group are generic.
	zones := must(armprivatedns.NewPrivateZonesClient(sub, env.Cred, env.Options))
	zp := check[*runtime.Poller[armprivatedns.PrivateZonesClientCreateOrUpdateResponse]](t, "zone")(zones.BeginCreateOrUpdate(ctx, "net", "privatelink.blob.core.windows.net", armprivatedns.PrivateZone{Location: to.Ptr("global")}, nil))
	zone := check[armprivatedns.PrivateZonesClientCreateOrUpdateResponse](t, "poll zone")(zp.PollUntilDone(ctx, testkit.PollOptions))
	links := must(armprivatedns.NewVirtualNetworkLinksClient(sub, env.Cred, env.Options))
	lp := check[*runtime.Poller[armprivatedns.VirtualNetworkLinksClientCreateOrUpdateResponse]](t, "link")(links.BeginCreateOrUpdate(ctx, "net", "privatelink.blob.core.windows.net", "vnet1-link", armprivatedns.VirtualNetworkLink{
		Location: to.Ptr("global"), Properties: &armprivatedns.VirtualNetworkLinkProperties{VirtualNetwork: &armprivatedns.SubResource{ID: vnet.ID}, RegistrationEnabled: to.Ptr(false)}}, nil))
	check[armprivatedns.VirtualNetworkLinksClientCreateOrUpdateResponse](t, "poll link")(lp.PollUntilDone(ctx, testkit.PollOptions))
	groups := must(armnetwork.NewPrivateDNSZoneGroupsClient(sub, env.Cred, env.Options))
	gp := check[*runtime.Poller[armnetwork.PrivateDNSZoneGroupsClientCreateOrUpdateResponse]](t, "zone group")(groups.BeginCreateOrUpdate(ctx, "net", "pe-blob", "default", armnetwork.PrivateDNSZoneGroup{
		Properties: &armnetwork.PrivateDNSZoneGroupPropertiesFormat{PrivateDNSZoneConfigs: []*armnetwork.PrivateDNSZoneConfig{{Name: to.Ptr("blob"), Properties: &armnetwork.PrivateDNSZonePropertiesFormat{PrivateDNSZoneID: zone.ID}}}}}, nil))
	check[armnetwork.PrivateDNSZoneGroupsClientCreateOrUpdateResponse](t, "poll zone group")(gp.PollUntilDone(ctx, testkit.PollOptions))

	// Manual, to a key vault: Pending until the vault's owner approves.
	vaults := must(armkeyvault.NewVaultsClient(sub, env.Cred, env.Options))
	kp := check[*runtime.Poller[armkeyvault.VaultsClientCreateOrUpdateResponse]](t, "vault")(vaults.BeginCreateOrUpdate(ctx, "net", "pevault1", armkeyvault.VaultCreateOrUpdateParameters{
		Location: to.Ptr("westus"), Properties: &armkeyvault.VaultProperties{TenantID: to.Ptr(identity.DefaultTenantID), SKU: &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)}}}, nil))
	vault := check[armkeyvault.VaultsClientCreateOrUpdateResponse](t, "poll vault")(kp.PollUntilDone(ctx, testkit.PollOptions))
	mp := check[*runtime.Poller[armnetwork.PrivateEndpointsClientCreateOrUpdateResponse]](t, "manual endpoint")(pes.BeginCreateOrUpdate(ctx, "net", "pe-vault", armnetwork.PrivateEndpoint{
		Location: to.Ptr("westus"),
		Properties: &armnetwork.PrivateEndpointProperties{
			Subnet: &armnetwork.Subnet{ID: subnet.ID},
			ManualPrivateLinkServiceConnections: []*armnetwork.PrivateLinkServiceConnection{{
				Name:       to.Ptr("vault"),
				Properties: &armnetwork.PrivateLinkServiceConnectionProperties{PrivateLinkServiceID: vault.ID, GroupIDs: []*string{to.Ptr("vault")}, RequestMessage: to.Ptr("please")},
			}},
		},
	}, nil))
	mpe := check[armnetwork.PrivateEndpointsClientCreateOrUpdateResponse](t, "poll manual endpoint")(mp.PollUntilDone(ctx, testkit.PollOptions))
	st := mpe.Properties.ManualPrivateLinkServiceConnections[0].Properties.PrivateLinkServiceConnectionState
	if *st.Status != "Pending" || *st.Description != "please" {
		t.Errorf("manual connection state = %s %q, want Pending with the request message", *st.Status, *st.Description)
	}
	kvc := must(armkeyvault.NewPrivateEndpointConnectionsClient(sub, env.Cred, env.Options))
	var pending *armkeyvault.PrivateEndpointConnectionItem
	for pager := kvc.NewListByResourcePager("net", "pevault1", nil); pager.More(); {
		for _, c := range check[armkeyvault.PrivateEndpointConnectionsClientListByResourceResponse](t, "vault connections")(pager.NextPage(ctx)).Value {
			pending = &armkeyvault.PrivateEndpointConnectionItem{ID: c.ID, Properties: c.Properties}
		}
	}
	if pending == nil {
		t.Fatal("no connection on the vault")
	}
	connName := (*pending.ID)[strings.LastIndexByte(*pending.ID, '/')+1:]
	check[armkeyvault.PrivateEndpointConnectionsClientPutResponse](t, "approve")(kvc.Put(ctx, "net", "pevault1", connName, armkeyvault.PrivateEndpointConnection{
		Properties: &armkeyvault.PrivateEndpointConnectionProperties{PrivateLinkServiceConnectionState: &armkeyvault.PrivateLinkServiceConnectionState{
			Status: to.Ptr(armkeyvault.PrivateEndpointServiceConnectionStatusApproved), Description: to.Ptr("ok")}}}, nil))
	got := check[armnetwork.PrivateEndpointsClientGetResponse](t, "get manual endpoint")(pes.Get(ctx, "net", "pe-vault", nil))
	if st := got.Properties.ManualPrivateLinkServiceConnections[0].Properties.PrivateLinkServiceConnectionState; *st.Status != "Approved" || *st.Description != "ok" {
		t.Errorf("after approval the endpoint shows %s %q", *st.Status, *st.Description)
	}
	// The owner removes the connection: the endpoint shows Disconnected.
	dp := check[*runtime.Poller[armkeyvault.PrivateEndpointConnectionsClientDeleteResponse]](t, "remove")(kvc.BeginDelete(ctx, "net", "pevault1", connName, nil))
	check[armkeyvault.PrivateEndpointConnectionsClientDeleteResponse](t, "poll remove")(dp.PollUntilDone(ctx, testkit.PollOptions))
	got = check[armnetwork.PrivateEndpointsClientGetResponse](t, "get manual endpoint")(pes.Get(ctx, "net", "pe-vault", nil))
	if st := got.Properties.ManualPrivateLinkServiceConnections[0].Properties.PrivateLinkServiceConnectionState; *st.Status != "Disconnected" {
		t.Errorf("after removal the endpoint shows %s", *st.Status)
	}

	// Deleting the endpoint takes its connection off the target, its zone
	// group and its network interface with it.
	del := check[*runtime.Poller[armnetwork.PrivateEndpointsClientDeleteResponse]](t, "delete endpoint")(pes.BeginDelete(ctx, "net", "pe-blob", nil))
	check[armnetwork.PrivateEndpointsClientDeleteResponse](t, "poll delete")(del.PollUntilDone(ctx, testkit.PollOptions))
	onTarget = nil
	for pager := spec.NewListPager("net", "pesa1", nil); pager.More(); {
		onTarget = append(onTarget, check[armstorage.PrivateEndpointConnectionsClientListResponse](t, "target connections")(pager.NextPage(ctx)).Value...)
	}
	if len(onTarget) != 0 {
		t.Errorf("%d connections left on the account", len(onTarget))
	}
	if _, err := nics.Get(ctx, "net", nicName, nil); err == nil {
		t.Error("the endpoint's network interface outlived it")
	}
	if _, err := groups.Get(ctx, "net", "pe-blob", "default", nil); err == nil {
		t.Error("the zone group outlived its endpoint")
	}
}

// A private endpoint's connections over raw HTTP: what is refused, what an
// update keeps, and what the target's removal leaves.
func TestPrivateEndpointRules(t *testing.T) {
	f := start(t)
	rg := f.group("perules")
	sa := rg + "/providers/Microsoft.Storage/storageAccounts/perulesa"
	f.must(200, "PUT", sa+"?api-version="+storageV, `{"location":"westus","sku":{"name":"Standard_LRS"},"kind":"StorageV2"}`)
	pe := rg + "/providers/Microsoft.Network/privateEndpoints/pe1"
	body := func(list, target, group string) string {
		return `{"location":"westus","properties":{"subnet":{"id":"` + rg + `/providers/Microsoft.Network/virtualNetworks/v/subnets/s"},"` + list + `":[{"name":"c1","properties":{"privateLinkServiceId":"` + target + `","groupIds":["` + group + `"]}}]}}`
	}
	f.refused(400, "InvalidResourceReference", "PUT", pe+"?api-version="+netV, body("privateLinkServiceConnections", rg+"/providers/Microsoft.Storage/storageAccounts/nosuch", "blob"))
	f.refused(400, "BadRequest", "PUT", pe+"?api-version="+netV, body("privateLinkServiceConnections", sa, "vault"))
	f.refused(400, "LinkedInvalidPropertyId", "PUT", pe+"?api-version="+netV, body("privateLinkServiceConnections", "not-an-id", "blob"))
	f.gone(pe + "?api-version=" + netV)

	conns := func() []string {
		return ids(f.must(200, "GET", sa+"/privateEndpointConnections?api-version="+storageV, ""))
	}
	f.must(200, "PUT", pe+"?api-version="+netV, body("manualPrivateLinkServiceConnections", sa, "blob"))
	first := conns()
	if len(first) != 1 {
		t.Fatalf("connections = %v", first)
	}
	// The same connection again keeps it; another group replaces it.
	f.must(200, "PUT", pe+"?api-version="+netV, body("manualPrivateLinkServiceConnections", sa, "blob"))
	if got := conns(); len(got) != 1 || got[0] != first[0] {
		t.Errorf("after the same PUT connections = %v, want %v", got, first)
	}
	f.must(200, "PUT", pe+"?api-version="+netV, body("manualPrivateLinkServiceConnections", sa, "dfs"))
	if got := conns(); len(got) != 1 || got[0] == first[0] {
		t.Errorf("after a change of group connections = %v, want one new one", got)
	}
	// A Private Link service of one's own is echoed, nothing to connect.
	own := rg + "/providers/Microsoft.Network/privateLinkServices/mine"
	r := f.must(200, "PUT", rg+"/providers/Microsoft.Network/privateEndpoints/pe2?api-version="+netV, body("privateLinkServiceConnections", own, "x"))
	if got := str(values(result{doc: map[string]any{"value": at(r.doc, "properties.privateLinkServiceConnections")}})[0], "properties.privateLinkServiceConnectionState.status"); got != "Approved" {
		t.Errorf("state of a connection to another service = %q", got)
	}
	// The account goes: the endpoint stays, Disconnected.
	f.must(200, "DELETE", sa+"?api-version="+storageV, "")
	r = f.must(200, "GET", pe+"?api-version="+netV, "")
	conn := values(result{doc: map[string]any{"value": at(r.doc, "properties.manualPrivateLinkServiceConnections")}})[0]
	if got := str(conn, "properties.privateLinkServiceConnectionState.status"); got != "Disconnected" {
		t.Errorf("after the target's delete the endpoint shows %q", got)
	}
}
