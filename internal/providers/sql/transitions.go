package sql

import (
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/providers/privatelink"
)

// The error responses the SQL spec documents for PUT of a private endpoint
// connection (Microsoft.Sql/stable/2021-11-01/PrivateEndpointConnections.json,
// PrivateEndpointConnections_CreateOrUpdate), messages verbatim.
var (
	notPending = privatelink.Refusal{
		Code:    arm.CodePrivateEndpointConnectionStatusNotPending,
		Message: "Private Endpoint Connection Status is not Pending",
	}
	incorrectStatus = privatelink.Refusal{
		Code:    arm.CodeIncorrectPrivateLinkServiceConnectionStateStatus,
		Message: `Private Link Service Connection State Status must be "Approved" or "Rejected"`,
	}
)

// Transitions are a SQL server's rules for its owner's changes of a private
// endpoint connection's state: only a Pending connection changes, to
// Approved or Rejected (azure-cli's RDBMS private link tests expect "Private
// Endpoint Connection Status is not Pending" for approving or rejecting an
// Approved or Rejected connection; MicrosoftDocs/azure-docs#71740 quotes it
// for rejecting an Approved SQL connection). Any other status, Pending and
// Disconnected included, is IncorrectPrivateLinkServiceConnectionStateStatus
// whatever the connection's state: the status is checked first (decided:
// the spec does not say which check comes first).
var Transitions = &privatelink.Transitions{
	Name: Type,
	Rows: []privatelink.Transition{
		privatelink.Allow(privatelink.Pending, privatelink.Approved),
		privatelink.Allow(privatelink.Pending, privatelink.Rejected),
		privatelink.Refuse(privatelink.Approved, privatelink.Approved, notPending),
		privatelink.Refuse(privatelink.Approved, privatelink.Rejected, notPending),
		privatelink.Refuse(privatelink.Rejected, privatelink.Approved, notPending),
		privatelink.Refuse(privatelink.Rejected, privatelink.Rejected, notPending),
	},
	Unknown: incorrectStatus,
}
