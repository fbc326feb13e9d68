# Defaults: privlink's default subscription and the names of the README's quick start.

variable "subscription_id" {
  type        = string
  description = "Subscription the provider works in."
  default     = "00000000-0000-4000-8000-000000000002"
}

variable "cluster_id" {
  type        = string
  description = "The resource id of the cluster (the seed's <the resource id of the cluster>)."
  default     = "/subscriptions/00000000-0000-4000-8000-000000000002/resourceGroups/adx/providers/Microsoft.Kusto/clusters/mycluster"
}

variable "eventhub_id" {
  type        = string
  description = "The ARM resource ID of the EventHub for which the managed private endpoint is created."
  default     = "/subscriptions/00000000-0000-4000-8000-000000000002/resourceGroups/adx/providers/Microsoft.EventHub/namespaces/myeventhubns"
}

variable "storage_id" {
  type        = string
  description = "The ARM resource ID of the Storage Account for which the managed private endpoint is created."
  default     = "/subscriptions/00000000-0000-4000-8000-000000000002/resourceGroups/adx/providers/Microsoft.Storage/storageAccounts/share"
}
