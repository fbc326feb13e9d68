package digitaltwins

import (
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/providers/privatelink"
)

// refused is what Digital Twins answers approving a Rejected connection,
// verbatim from azure-cli's recorded
// test_private_endpoint_connection_digitaltwins (400). privlink answers it
// to every change the instance refuses (decided: the one answer on record
// for this resource provider).
var refused = privatelink.Refusal{
	Code:    arm.CodeBadRequest,
	Message: "Exception of type 'Microsoft.Azure.DigitalTwins.ScaleUnitRPManagement.Exceptions.PrivateEndpointBadRequestException' was thrown.",
}

// Transitions are a Digital Twins instance's rules for its owner's changes
// of a private endpoint connection's state: Pending -> Approved ->
// Rejected, and a Rejected connection is not approved again (azure-cli's
// recorded test_private_endpoint_connection_digitaltwins, api-version
// 2020-12-01). The spec's enum is PrivateLinkServiceConnectionStatus:
// Pending, Approved, Rejected, Disconnected
// (Microsoft.DigitalTwins/stable/2023-01-31/digitaltwins.json). The same
// state again is accepted as privlink's default rule accepts it (decided).
var Transitions = &privatelink.Transitions{
	Name: Type,
	Rows: []privatelink.Transition{
		privatelink.Allow(privatelink.Pending, privatelink.Pending),
		privatelink.Allow(privatelink.Pending, privatelink.Approved),
		privatelink.Allow(privatelink.Pending, privatelink.Rejected),
		privatelink.Refuse(privatelink.Pending, privatelink.Disconnected, refused),
		privatelink.Refuse(privatelink.Approved, privatelink.Pending, refused),
		privatelink.Allow(privatelink.Approved, privatelink.Approved),
		privatelink.Allow(privatelink.Approved, privatelink.Rejected),
		privatelink.Refuse(privatelink.Approved, privatelink.Disconnected, refused),
		privatelink.Refuse(privatelink.Rejected, privatelink.Pending, refused),
		privatelink.Refuse(privatelink.Rejected, privatelink.Approved, refused),
		privatelink.Allow(privatelink.Rejected, privatelink.Rejected),
		privatelink.Refuse(privatelink.Rejected, privatelink.Disconnected, refused),
	},
	Unknown: refused,
}
