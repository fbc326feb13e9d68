# azurerm as scripts/azurerm-provider.sh mirrors it: built from the one
# pseudo-version of its main branch that the Go module proxy serves, whose code
# says 5.2.0 (see docs/terraform.md).
terraform {
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "5.2.0"
    }
  }
}

provider "azurerm" {
  # Required in every provider block, even empty.
  features {}

  # Required since azurerm 4.0 for plan and apply (ARM_SUBSCRIPTION_ID also works).
  subscription_id = var.subscription_id

  # The 5.x default, written out: no resource provider registration calls at
  # start-up (privlink's default subscription is registered to every namespace
  # it knows anyway).
  resource_provider_registrations = "none"

  # Credentials and the cloud come from the environment (ARM_CLIENT_ID,
  # ARM_CLIENT_SECRET, ARM_TENANT_ID, ...): see docs/terraform.md.
}
