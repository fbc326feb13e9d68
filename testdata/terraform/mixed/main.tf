# A configuration that mixes a template-deployed endpoint and a directly managed one:
# a deployment creates the Event Hubs endpoint from an inline template, and the storage
# endpoint, managed by Terraform itself as in the seed's configuration, waits for it.
resource "azapi_resource" "eventhub_endpoint_template" {
  type      = "Microsoft.Resources/deployments@2021-04-01"
  name      = "eventhub-endpoint"
  parent_id = var.resource_group_id
  body = jsonencode({
    properties = {
      mode = "Incremental"
      template = {
        "$schema"      = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
        contentVersion = "1.0.0.0"
        parameters = {
          cluster_name = { type = "string" }
          target       = { type = "string" }
        }
        resources = [{
          type       = "Microsoft.Kusto/clusters/managedPrivateEndpoints"
          apiVersion = "2023-08-15"
          name       = "[concat(parameters('cluster_name'), '/mpeToEventHub')]"
          properties = {
            privateLinkResourceId = "[parameters('target')]"
            groupId               = "namespace"
            requestMessage        = "Please Approve."
          }
        }]
        outputs = {
          endpointId = {
            type  = "string"
            value = "[resourceId('Microsoft.Kusto/clusters/managedPrivateEndpoints', parameters('cluster_name'), 'mpeToEventHub')]"
          }
        }
      }
      parameters = {
        cluster_name = { value = var.cluster_name }
        target       = { value = var.eventhub_id }
      }
    }
  })
  response_export_values = ["properties.outputs"]
}

resource "azapi_resource" "mpe_to_storage" {
  type      = "Microsoft.Kusto/clusters/managedPrivateEndpoints@2023-08-15"
  name      = "mpeToStorage"
  parent_id = "${var.resource_group_id}/providers/Microsoft.Kusto/clusters/${var.cluster_name}"
  body = jsonencode({
    properties = {
      groupId               = "blob"
      privateLinkResourceId = var.storage_id
      requestMessage        = "Please Approve."
    }
  })
  depends_on = [
    azapi_resource.eventhub_endpoint_template
  ]
}

output "template_endpoint_id" {
  value = jsondecode(azapi_resource.eventhub_endpoint_template.output).properties.outputs.endpointId.value
}
