package storage

import (
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/providers/privatelink"
)

// invalidStatus is Microsoft.Storage's one answer to a status it will not
// set, as users quote it for approving an Approved connection
// (Azure/azure-rest-api-specs#30308).
var invalidStatus = privatelink.Refusal{
	Code:    arm.CodeInvalidValuesForRequestParameters,
	Message: "Values for request parameters are invalid: privateLinkServiceConnectionState.status.",
}

// Transitions are a storage account's rules for its owner's changes of a
// private endpoint connection's state (docs/private-endpoint-connections.md
// gives the sources). The spec's status enum is the common types' Pending,
// Approved, Rejected (common-types/resource-management/v5/privatelinks.json).
// Refused moves change nothing: the description stays what it was.
var Transitions = &privatelink.Transitions{
	Name: Type,
	Rows: []privatelink.Transition{
		// Not a change: refused as Approved -> Approved is (decided, no source).
		privatelink.Refuse(privatelink.Pending, privatelink.Pending, invalidStatus),
		privatelink.Allow(privatelink.Pending, privatelink.Approved),
		privatelink.Allow(privatelink.Pending, privatelink.Rejected),
		// Back to Pending: no source; the RP's answer to a status it will not set.
		privatelink.Refuse(privatelink.Approved, privatelink.Pending, invalidStatus),
		// Azure/azure-rest-api-specs#30308; azure-cli's network tests ("cannot
		// approve it from auto-approved state") and its storage module, which
		// explains this 400 as "Your connection is already approved".
		privatelink.Refuse(privatelink.Approved, privatelink.Approved, invalidStatus),
		// azure-cli test_private_endpoint_connection_storage_account rejects an
		// auto-approved connection.
		privatelink.Allow(privatelink.Approved, privatelink.Rejected),
		privatelink.Refuse(privatelink.Rejected, privatelink.Pending, invalidStatus),
		// azure-cli's storage module explains this 400 as "You cannot approve
		// the connection request after rejection"; the code is decided (the
		// RP's answer to a status it will not set).
		privatelink.Refuse(privatelink.Rejected, privatelink.Approved, invalidStatus),
		privatelink.Refuse(privatelink.Rejected, privatelink.Rejected, invalidStatus),
	},
	// Disconnected is not in the storage enum; any other value neither.
	Unknown: invalidStatus,
}
