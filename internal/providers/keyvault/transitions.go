package keyvault

import (
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/providers/privatelink"
)

// Key Vault's refusals: no public source quotes them, so they are privlink's
// earlier ones, code BadRequest (decided).
var (
	kvPending = privatelink.Refusal{Code: arm.CodeBadRequest,
		Message: "A private endpoint connection cannot go back to 'Pending' once it was '{from}'."}
	kvDisconnected = privatelink.Refusal{Code: arm.CodeBadRequest,
		Message: "A private endpoint connection cannot be set to 'Disconnected'. To remove the connection, send DELETE to the private endpoint connection."}
	kvUnknown = privatelink.Refusal{Code: arm.CodeBadRequest,
		Message: "The private endpoint connection status '{to}' is invalid. Valid values are 'Approved' and 'Rejected'."}
)

// Transitions are a key vault's rules for its owner's changes of a private
// endpoint connection's state. Unlike most targets a vault approves a
// Rejected connection again: azure-cli's recorded
// test_private_endpoint_connection_keyvault rejects an auto-approved
// connection and approves it again (200, then Approved with the new
// description). The spec's enum is PrivateEndpointServiceConnectionStatus:
// Pending, Approved, Rejected, Disconnected
// (Microsoft.KeyVault/stable/2022-07-01/keyvault.json). The rest is
// privlink's default rule (decided: no source).
var Transitions = &privatelink.Transitions{
	Name: Type,
	Rows: []privatelink.Transition{
		privatelink.Allow(privatelink.Pending, privatelink.Pending),
		privatelink.Allow(privatelink.Pending, privatelink.Approved),
		privatelink.Allow(privatelink.Pending, privatelink.Rejected),
		privatelink.Refuse(privatelink.Pending, privatelink.Disconnected, kvDisconnected),
		privatelink.Refuse(privatelink.Approved, privatelink.Pending, kvPending),
		privatelink.Allow(privatelink.Approved, privatelink.Approved),
		privatelink.Allow(privatelink.Approved, privatelink.Rejected),
		privatelink.Refuse(privatelink.Approved, privatelink.Disconnected, kvDisconnected),
		privatelink.Refuse(privatelink.Rejected, privatelink.Pending, kvPending),
		privatelink.Allow(privatelink.Rejected, privatelink.Approved),
		privatelink.Allow(privatelink.Rejected, privatelink.Rejected),
		privatelink.Refuse(privatelink.Rejected, privatelink.Disconnected, kvDisconnected),
	},
	Unknown: kvUnknown,
}
