# The seed's ARM template (testdata/templates/seed/azuredeploy.json, or the file
# var.template_path names) deployed through Terraform: one
# Microsoft.Resources/deployments resource.
locals {
  template_path = coalesce(var.template_path, "${path.module}/../../templates/seed/azuredeploy.json")
}

resource "azapi_resource" "seed_template" {
  type      = "Microsoft.Resources/deployments@2021-04-01"
  name      = "seed-template"
  parent_id = var.resource_group_id
  body = jsonencode({
    properties = {
      mode     = "Incremental"
      template = jsondecode(file(local.template_path))
      parameters = {
        cluster_name             = { value = var.cluster_name }
        eventhub_resource_id     = { value = var.eventhub_id }
        storage_resource_id      = { value = var.storage_id }
        managed_pe_eventhub_name = { value = "mpeToEventHub" }
        managed_pe_storage_name  = { value = "mpeToStorage" }
      }
    }
  })
}
