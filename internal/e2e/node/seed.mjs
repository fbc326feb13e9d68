// The seed's scenario (managed-private-endpoints.md) with the official Azure
// SDK for JavaScript, written as its documentation shows: DefaultAzureCredential,
// clients with no options, Azure's public endpoints. It is run by
// internal/e2e/transparent in a shell that has only what `privlink env`
// exports, so every call reaches privlink through its transparent proxy.
// It prints one JSON line with what it saw.
import { DefaultAzureCredential } from "@azure/identity";
import { ResourceManagementClient } from "@azure/arm-resources";
import { KustoManagementClient } from "@azure/arm-kusto";
import { EventHubManagementClient } from "@azure/arm-eventhub";
import { StorageManagementClient } from "@azure/arm-storage";

const subscription = process.env.AZURE_SUBSCRIPTION_ID;
const suffix = process.env.PRIVLINK_TEST_SUFFIX ?? "";
const rg = `adx-node${suffix}`;
const cluster = `mycluster${suffix}`;
const namespace = `myeventhubns${suffix}`;
const account = `sharenode${suffix}`;
const location = "westus";

const credential = new DefaultAzureCredential();
const resources = new ResourceManagementClient(credential, subscription);
const kusto = new KustoManagementClient(credential, subscription);
const eventhub = new EventHubManagementClient(credential, subscription);
const storage = new StorageManagementClient(credential, subscription);

await resources.resourceGroups.createOrUpdate(rg, { location });
await kusto.clusters.beginCreateOrUpdateAndWait(rg, cluster, {
  location,
  sku: { name: "Standard_E2a_v4", tier: "Standard" },
});
const ns = await eventhub.namespaces.createOrUpdate(rg, namespace, { location });
const sa = await storage.storageAccounts.create(rg, account, {
  location,
  kind: "StorageV2",
  sku: { name: "Standard_LRS" },
});

// Two managed private endpoints, the Event Hubs one first, as the seed's
// template and Terraform configuration order them.
const toEventHub = await kusto.managedPrivateEndpoints.beginCreateOrUpdateAndWait(rg, cluster, "mpeToEventHub", {
  privateLinkResourceId: ns.id,
  groupId: "namespace",
  requestMessage: "Please Approve.",
});
const toStorage = await kusto.managedPrivateEndpoints.beginCreateOrUpdateAndWait(rg, cluster, "mpeToStorage", {
  privateLinkResourceId: sa.id,
  groupId: "blob",
  requestMessage: "Please Approve.",
});

// The default principal owns the namespace, so the connection was approved
// at once (the seed's "Automatic approval").
let approved;
for await (const c of eventhub.privateEndpointConnections.list(rg, namespace)) {
  const st = c.privateLinkServiceConnectionState;
  if (st?.status === "Approved" && st?.description === "Auto-approved") approved = c;
}
if (!approved) throw new Error("no automatically approved connection on the namespace");

const got = await kusto.managedPrivateEndpoints.get(rg, cluster, "mpeToEventHub");
console.log(JSON.stringify({
  endpoints: [toEventHub.name, toStorage.name],
  state: got.provisioningState,
  createdBy: got.systemData?.createdBy,
  connection: approved.name,
  status: approved.privateLinkServiceConnectionState?.status,
}));
