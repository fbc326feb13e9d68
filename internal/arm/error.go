package arm

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an ARM error: the object inside {"error": ...} of every failed
// response. Its Code decides the HTTP status through StatusOf, so call sites
// name what went wrong and never pick a status by hand.
type Error struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Target  string   `json:"target,omitempty"`
	Details []*Error `json:"details,omitempty"`
	// AdditionalInfo carries typed extra facts, as ARM's ErrorAdditionalInfo.
	AdditionalInfo []AdditionalInfo `json:"additionalInfo,omitempty"`
	// Status overrides the status from the code table when non-zero; it is for
	// codes whose status depends on the operation (Conflict vs. PreconditionFailed
	// share no code, but RP-specific codes may).
	Status int `json:"-"`
}

// AdditionalInfo is ARM's ErrorAdditionalInfo.
type AdditionalInfo struct {
	Type string `json:"type"`
	Info any    `json:"info,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// HTTPStatus reports the status an ARM response carrying e uses.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	if s, ok := codeStatus[e.Code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// Errorf builds an Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithStatus returns e with an explicit HTTP status.
func (e *Error) WithStatus(status int) *Error { e.Status = status; return e }

// WithTarget returns e with its target set.
func (e *Error) WithTarget(target string) *Error { e.Target = target; return e }

// AsError returns the *Error inside err, or nil when err carries none.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// ErrorResponse is the body of every failed ARM response.
type ErrorResponse struct {
	Error *Error `json:"error"`
}

// ARM error codes used across privlink. Each one's status lives in codeStatus.
const (
	CodeAuthenticationFailed               = "AuthenticationFailed"
	CodeInvalidAuthenticationToken         = "InvalidAuthenticationToken"
	CodeInvalidAuthenticationTokenAudience = "InvalidAuthenticationTokenAudience"
	CodeExpiredAuthenticationToken         = "ExpiredAuthenticationToken"
	CodeAuthorizationFailed                = "AuthorizationFailed"
	CodeLinkedAuthorizationFailed          = "LinkedAuthorizationFailed"
	CodeMissingAPIVersion                  = "MissingApiVersionParameter"
	CodeInvalidAPIVersion                  = "InvalidApiVersionParameter"
	CodeNoRegisteredProviderFound          = "NoRegisteredProviderFound"
	CodeInvalidResourceType                = "InvalidResourceType"
	CodeInvalidResourceNamespace           = "InvalidResourceNamespace"
	CodeMissingSubscriptionRegistration    = "MissingSubscriptionRegistration"
	// CodeLinkedMissingSubscriptionRegistration is for a linked resource's
	// subscription (a private endpoint target's) missing a registration. It
	// must differ from MissingSubscriptionRegistration, which SDKs answer by
	// registering the request's own namespace and retrying.
	CodeLinkedMissingSubscriptionRegistration = "LinkedMissingSubscriptionRegistration"
	CodeInvalidRequestContent                 = "InvalidRequestContent"
	CodeUnsupportedMediaType                  = "UnsupportedMediaType"
	CodeRequestEntityTooLarge                 = "RequestEntityTooLarge"
	CodeInvalidResourceName                   = "InvalidResourceName"
	CodeInvalidResourceGroupName              = "InvalidResourceGroupName"
	CodeInvalidSubscriptionID                 = "InvalidSubscriptionId"
	CodeLinkedInvalidPropertyID               = "LinkedInvalidPropertyId"
	CodeInvalidResourceID                     = "InvalidResourceId"
	CodeLocationRequired                      = "LocationRequired"
	CodeInvalidParameter                      = "InvalidParameter"
	CodeBadRequest                            = "BadRequest"
	CodeResourceNotFound                      = "ResourceNotFound"
	CodeResourceGroupNotFound                 = "ResourceGroupNotFound"
	CodeSubscriptionNotFound                  = "SubscriptionNotFound"
	CodeParentResourceNotFound                = "ParentResourceNotFound"
	CodeOperationNotFound                     = "OperationNotFound"
	CodeNotFound                              = "NotFound"
	CodePathNotFound                          = "PathNotFound"
	CodeMethodNotAllowed                      = "MethodNotAllowed"
	CodeConflict                              = "Conflict"
	CodeAnotherOperationInProgress            = "AnotherOperationInProgress"
	CodeResourceGroupBeingDeleted             = "ResourceGroupBeingDeleted"
	CodePreconditionFailed                    = "PreconditionFailed"
	CodeInvalidResourceLocation               = "InvalidResourceLocation"
	CodeTooManyRequests                       = "TooManyRequests"
	CodeInternalServerError                   = "InternalServerError"
	CodeServiceUnavailable                    = "ServiceUnavailable"

	// Resource providers' own codes for a refused change of a private
	// endpoint connection's state (see docs/private-endpoint-connections.md).

	// CodeInvalidValuesForRequestParameters is Microsoft.Storage's answer to
	// a status it will not set (approving an Approved connection).
	CodeInvalidValuesForRequestParameters = "InvalidValuesForRequestParameters"
	// CodePrivateEndpointConnectionStatusNotPending is Microsoft.Sql's answer
	// to a change of a connection that is no longer Pending.
	CodePrivateEndpointConnectionStatusNotPending = "PrivateEndpointConnectionStatusNotPending"
	// CodeIncorrectPrivateLinkServiceConnectionStateStatus is Microsoft.Sql's
	// answer to a status other than Approved or Rejected.
	CodeIncorrectPrivateLinkServiceConnectionStateStatus = "IncorrectPrivateLinkServiceConnectionStateStatus"
)

// TemplateViolation is the info of an AdditionalInfo of type
// "TemplateViolation": where in a template the fault is, as ARM's template
// validation errors carry it. LineNumber and LinePosition are 1-based, 0
// when the fault has no place (an unknown parameter); Path is the JSON path
// in the request ("properties.template.resources[1].name").
type TemplateViolation struct {
	LineNumber   int    `json:"lineNumber"`
	LinePosition int    `json:"linePosition"`
	Path         string `json:"path"`
}

// TemplateViolationInfo wraps v as an AdditionalInfo.
func TemplateViolationInfo(v TemplateViolation) AdditionalInfo {
	return AdditionalInfo{Type: "TemplateViolation", Info: v}
}

var codeStatus = map[string]int{
	CodeAuthenticationFailed:                  http.StatusUnauthorized,
	CodeInvalidAuthenticationToken:            http.StatusUnauthorized,
	CodeInvalidAuthenticationTokenAudience:    http.StatusUnauthorized,
	CodeExpiredAuthenticationToken:            http.StatusUnauthorized,
	CodeAuthorizationFailed:                   http.StatusForbidden,
	CodeLinkedAuthorizationFailed:             http.StatusForbidden,
	CodeMissingAPIVersion:                     http.StatusBadRequest,
	CodeInvalidAPIVersion:                     http.StatusBadRequest,
	CodeNoRegisteredProviderFound:             http.StatusBadRequest,
	CodeInvalidResourceType:                   http.StatusBadRequest,
	CodeInvalidResourceNamespace:              http.StatusBadRequest,
	CodeMissingSubscriptionRegistration:       http.StatusConflict,
	CodeLinkedMissingSubscriptionRegistration: http.StatusConflict,
	CodeInvalidRequestContent:                 http.StatusBadRequest,
	CodeUnsupportedMediaType:                  http.StatusUnsupportedMediaType,
	CodeRequestEntityTooLarge:                 http.StatusRequestEntityTooLarge,
	CodeInvalidResourceName:                   http.StatusBadRequest,
	CodeInvalidResourceGroupName:              http.StatusBadRequest,
	CodeInvalidSubscriptionID:                 http.StatusBadRequest,
	CodeLinkedInvalidPropertyID:               http.StatusBadRequest,
	CodeInvalidResourceID:                     http.StatusBadRequest,
	CodeLocationRequired:                      http.StatusBadRequest,
	CodeInvalidParameter:                      http.StatusBadRequest,
	CodeBadRequest:                            http.StatusBadRequest,
	CodeResourceNotFound:                      http.StatusNotFound,
	CodeResourceGroupNotFound:                 http.StatusNotFound,
	CodeSubscriptionNotFound:                  http.StatusNotFound,
	CodeParentResourceNotFound:                http.StatusNotFound,
	CodeOperationNotFound:                     http.StatusNotFound,
	CodeNotFound:                              http.StatusNotFound,
	CodePathNotFound:                          http.StatusNotFound,
	CodeMethodNotAllowed:                      http.StatusMethodNotAllowed,
	CodeConflict:                              http.StatusConflict,
	CodeAnotherOperationInProgress:            http.StatusConflict,
	CodeResourceGroupBeingDeleted:             http.StatusConflict,
	CodePreconditionFailed:                    http.StatusPreconditionFailed,
	CodeInvalidResourceLocation:               http.StatusConflict,
	CodeTooManyRequests:                       http.StatusTooManyRequests,
	CodeInternalServerError:                   http.StatusInternalServerError,
	CodeServiceUnavailable:                    http.StatusServiceUnavailable,

	CodeInvalidValuesForRequestParameters:                http.StatusBadRequest,
	CodePrivateEndpointConnectionStatusNotPending:        http.StatusBadRequest,
	CodeIncorrectPrivateLinkServiceConnectionStateStatus: http.StatusBadRequest,
}

// InvalidContent is ARM's error for request content that cannot be read as
// what the request needs; detail says why.
func InvalidContent(detail string) *Error {
	return Errorf(CodeInvalidRequestContent, "The request content was invalid and could not be deserialized: '%s'.", detail)
}

// UnreadableContent is InvalidContent for content JSON.NET cannot read
// (err from ReadJSONNET): its message, then privlink's hint if it has one.
func UnreadableContent(err error) *Error {
	e := InvalidContent(err.Error())
	if je, ok := err.(*JSONReaderError); ok && je.Hint != "" {
		e.Message += " " + je.Hint
	}
	return e
}

// InternalError is what a client sees for a failure that is privlink's, not
// theirs; the cause goes to the log only.
func InternalError(requestID string) *Error {
	return Errorf(CodeInternalServerError, "An internal error occurred while processing the request. Request id: '%s'.", requestID)
}
