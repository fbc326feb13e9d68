variable "subscription_id" {
  type    = string
  default = "00000000-0000-4000-8000-000000000002"
}

variable "resource_group_id" {
  type    = string
  default = "/subscriptions/00000000-0000-4000-8000-000000000002/resourceGroups/adx"
}

variable "cluster_name" {
  type    = string
  default = "mycluster"
}

variable "eventhub_id" {
  type    = string
  default = "/subscriptions/00000000-0000-4000-8000-000000000002/resourceGroups/adx/providers/Microsoft.EventHub/namespaces/myeventhubns"
}

variable "storage_id" {
  type    = string
  default = "/subscriptions/00000000-0000-4000-8000-000000000002/resourceGroups/adx/providers/Microsoft.Storage/storageAccounts/share"
}

# The template to deploy; by default the seed's, in this repository.
variable "template_path" {
  type    = string
  default = null
}
