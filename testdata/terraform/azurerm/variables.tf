# Defaults: privlink's default subscription and the names of the README's quick start.

variable "subscription_id" {
  type        = string
  description = "Subscription the provider works in."
  default     = "00000000-0000-4000-8000-000000000002"
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the cluster."
  default     = "adx"
}

variable "cluster_name" {
  type        = string
  description = "Name of the cluster (azurerm checks ^[a-z][a-z0-9-]+$, 4-22 characters)."
  default     = "mycluster"
}

variable "eventhub_id" {
  type        = string
  description = "The ARM resource ID of the Event Hubs namespace for which the managed private endpoint is created."
  default     = "/subscriptions/00000000-0000-4000-8000-000000000002/resourceGroups/adx/providers/Microsoft.EventHub/namespaces/myeventhubns"
}

variable "storage_id" {
  type        = string
  description = "The ARM resource ID of the Storage Account for which the managed private endpoint is created."
  default     = "/subscriptions/00000000-0000-4000-8000-000000000002/resourceGroups/adx/providers/Microsoft.Storage/storageAccounts/share"
}
