# The seed's configuration (main.tf, from the Azure Data Explorer documentation's
# "Create multiple managed private endpoints" Terraform tab) with its <...>
# placeholders turned into the variables below. azapi 1.15.0 is the newest
# version the Go module proxy serves; scripts/terraform-tools.sh builds it into
# a local filesystem mirror, so `terraform init` needs no registry.
terraform {
  required_providers {
    azapi = {
      source  = "azure/azapi"
      version = "1.15.0"
    }
  }
}

# Only the subscription: the credentials and endpoints come from the environment
# (see docs/terraform.md).
provider "azapi" {
  subscription_id = var.subscription_id
}
