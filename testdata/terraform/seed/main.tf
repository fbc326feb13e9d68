resource "azapi_resource" "mpe_to_eventhub" {
  type = "Microsoft.Kusto/clusters/managedPrivateEndpoints@2023-08-15"
  name                 = "mpeToEventHub"
  parent_id            = var.cluster_id
  body = jsonencode({
    properties = {
      groupId = "namespace"
      privateLinkResourceId = var.eventhub_id
      requestMessage = "Please Approve."
    }
  })
}

resource "azapi_resource" "mpe_to_storage" {
  type = "Microsoft.Kusto/clusters/managedPrivateEndpoints@2023-08-15"
  name                 = "mpeToStorage"
  parent_id            = var.cluster_id
  body = jsonencode({
    properties = {
      groupId = "blob"
      privateLinkResourceId = var.storage_id
      requestMessage = "Please Approve."
    }
  })
  depends_on = [
    azapi_resource.mpe_to_eventhub
  ]
}
