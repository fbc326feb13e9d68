package arm

import (
	"encoding/json"
	"strings"
	"time"
)

// Provisioning states. Succeeded, Failed and Canceled are the only terminal ones.
const (
	StateSucceeded = "Succeeded"
	StateFailed    = "Failed"
	StateCanceled  = "Canceled"
	StateCreating  = "Creating"
	StateUpdating  = "Updating"
	StateDeleting  = "Deleting"
	StateRunning   = "Running"
	StateAccepted  = "Accepted"
)

// IsTerminal reports whether a provisioning state or operation status is final.
func IsTerminal(state string) bool {
	switch strings.ToLower(state) {
	case "", "succeeded", "failed", "canceled", "cancelled":
		return true
	}
	return false
}

// Principal types as ARM writes them in systemData.
const (
	PrincipalUser            = "User"
	PrincipalApplication     = "Application"
	PrincipalManagedIdentity = "ManagedIdentity"
	PrincipalKey             = "Key"
	TimeFormat               = "2006-01-02T15:04:05.0000000Z"
)

// SystemData is ARM's record of who created and last changed a resource.
type SystemData struct {
	CreatedBy          string `json:"createdBy,omitempty"`
	CreatedByType      string `json:"createdByType,omitempty"`
	CreatedAt          string `json:"createdAt,omitempty"`
	LastModifiedBy     string `json:"lastModifiedBy,omitempty"`
	LastModifiedByType string `json:"lastModifiedByType,omitempty"`
	LastModifiedAt     string `json:"lastModifiedAt,omitempty"`
}

// AppendJSON writes sd as encoding/json writes its fields (JSONAppender):
// every write stamps systemData.
func (sd SystemData) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	b = AppendMember(b, "createdBy", sd.CreatedBy, true)
	b = AppendMember(b, "createdByType", sd.CreatedByType, true)
	b = AppendMember(b, "createdAt", sd.CreatedAt, true)
	b = AppendMember(b, "lastModifiedBy", sd.LastModifiedBy, true)
	b = AppendMember(b, "lastModifiedByType", sd.LastModifiedByType, true)
	b = AppendMember(b, "lastModifiedAt", sd.LastModifiedAt, true)
	return append(b, '}')
}

// FormatTime writes t as ARM does: UTC with seven fractional digits.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// OperationStatus is the document an Azure-AsyncOperation URL answers with
// (ARM RPC async-api-reference). Kusto's OperationResult adds Properties and
// PercentComplete; the other fields are common.
type OperationStatus struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Status          string          `json:"status"`
	StartTime       string          `json:"startTime,omitempty"`
	EndTime         string          `json:"endTime,omitempty"`
	PercentComplete *float64        `json:"percentComplete,omitempty"`
	Properties      json.RawMessage `json:"properties,omitempty"`
	Error           *Error          `json:"error,omitempty"`
}

// List is the body of a collection GET.
type List struct {
	Value    []json.RawMessage `json:"value"`
	NextLink string            `json:"nextLink,omitempty"`
}

// Principal is the authenticated caller of a request.
type Principal struct {
	// ObjectID is the principal's object id (the "oid" claim).
	ObjectID string
	// TenantID is the home tenant ("tid").
	TenantID string
	// AppID is the application (client) id for service principals and managed identities.
	AppID string
	// Name is what systemData's createdBy shows: a user's UPN, an app's client id.
	Name string
	// Type is User, Application or ManagedIdentity, as systemData writes it.
	Type string
}
