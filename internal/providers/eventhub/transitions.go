package eventhub

import (
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/providers/privatelink"
)

// Event Hubs' refusals. No public source quotes the Event Hubs (Service Bus
// messaging) resource provider's code or message for a refused change of
// state, so these are privlink's, in its style: code BadRequest (decided).
var (
	ehSame = privatelink.Refusal{Code: arm.CodeBadRequest,
		Message: "The private endpoint connection is already '{from}'; a change of state to the same state is not valid."}
	ehPending = privatelink.Refusal{Code: arm.CodeBadRequest,
		Message: "The private endpoint connection cannot be set back to 'Pending' once it is '{from}'."}
	ehDisconnected = privatelink.Refusal{Code: arm.CodeBadRequest,
		Message: "The private endpoint connection cannot be set to 'Disconnected'. Delete the private endpoint connection to remove it."}
	ehRejected = privatelink.Refusal{Code: arm.CodeBadRequest,
		Message: "A rejected private endpoint connection cannot be approved. Create a new private endpoint to request a connection again."}
	ehUnknown = privatelink.Refusal{Code: arm.CodeBadRequest,
		Message: "'{to}' is not a valid value for privateLinkServiceConnectionState.status. Valid values are 'Approved' and 'Rejected'."}
)

// Transitions are an Event Hubs namespace's rules for its owner's changes of
// a private endpoint connection's state (docs/private-endpoint-connections.md
// gives the sources). The spec's enum is PrivateLinkConnectionStatus:
// Pending, Approved, Rejected, Disconnected
// (Microsoft.EventHub/stable/2024-01-01/namespaces.json, ConnectionState).
var Transitions = &privatelink.Transitions{
	Name: Type,
	Rows: []privatelink.Transition{
		// Same state again: refused as Approved -> Approved is (decided).
		privatelink.Refuse(privatelink.Pending, privatelink.Pending, ehSame),
		privatelink.Allow(privatelink.Pending, privatelink.Approved),
		privatelink.Allow(privatelink.Pending, privatelink.Rejected),
		privatelink.Refuse(privatelink.Pending, privatelink.Disconnected, ehDisconnected),
		privatelink.Refuse(privatelink.Approved, privatelink.Pending, ehPending),
		// azure-cli's network tests skip approving an approved Event Hubs
		// connection: "For some services: A state change from Approved to
		// Approved is not valid" (test_private_endpoint_commands.py).
		privatelink.Refuse(privatelink.Approved, privatelink.Approved, ehSame),
		// azure-cli test_eh_privateendpoint rejects an auto-approved
		// connection (recorded: 202, then Rejected).
		privatelink.Allow(privatelink.Approved, privatelink.Rejected),
		privatelink.Refuse(privatelink.Approved, privatelink.Disconnected, ehDisconnected),
		privatelink.Refuse(privatelink.Rejected, privatelink.Pending, ehPending),
		// Azure's Private Link documentation: a rejected connection cannot be
		// approved (MicrosoftDocs/azure-docs#115121).
		privatelink.Refuse(privatelink.Rejected, privatelink.Approved, ehRejected),
		privatelink.Refuse(privatelink.Rejected, privatelink.Rejected, ehSame),
		privatelink.Refuse(privatelink.Rejected, privatelink.Disconnected, ehDisconnected),
	},
	Unknown: ehUnknown,
}
