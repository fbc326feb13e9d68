# The seed's two managed private endpoints (testdata/terraform/seed/main.tf)
# written with azurerm's own resource instead of azapi_resource. azurerm names
# the cluster by resource group and name, not by id.

resource "azurerm_kusto_cluster_managed_private_endpoint" "mpe_to_eventhub" {
  name                     = "mpeToEventHub"
  resource_group_name      = var.resource_group_name
  cluster_name             = var.cluster_name
  private_link_resource_id = var.eventhub_id
  group_id                 = "namespace"
  request_message          = "Please Approve."
}

resource "azurerm_kusto_cluster_managed_private_endpoint" "mpe_to_storage" {
  name                     = "mpeToStorage"
  resource_group_name      = var.resource_group_name
  cluster_name             = var.cluster_name
  private_link_resource_id = var.storage_id
  group_id                 = "blob"
  request_message          = "Please Approve."

  depends_on = [
    azurerm_kusto_cluster_managed_private_endpoint.mpe_to_eventhub
  ]
}
