package arm_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/arm"
)

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		name string
		code string
		want int
	}{
		{"authentication failed", arm.CodeAuthenticationFailed, http.StatusUnauthorized},
		{"invalid token", arm.CodeInvalidAuthenticationToken, http.StatusUnauthorized},
		{"wrong audience", arm.CodeInvalidAuthenticationTokenAudience, http.StatusUnauthorized},
		{"expired token", arm.CodeExpiredAuthenticationToken, http.StatusUnauthorized},
		{"authorization failed", arm.CodeAuthorizationFailed, http.StatusForbidden},
		{"linked authorization failed", arm.CodeLinkedAuthorizationFailed, http.StatusForbidden},
		{"missing api-version", arm.CodeMissingAPIVersion, http.StatusBadRequest},
		{"invalid api-version", arm.CodeInvalidAPIVersion, http.StatusBadRequest},
		{"no registered provider", arm.CodeNoRegisteredProviderFound, http.StatusBadRequest},
		{"invalid resource type", arm.CodeInvalidResourceType, http.StatusBadRequest},
		{"invalid namespace", arm.CodeInvalidResourceNamespace, http.StatusBadRequest},
		{"missing registration", arm.CodeMissingSubscriptionRegistration, http.StatusConflict},
		{"linked missing registration", arm.CodeLinkedMissingSubscriptionRegistration, http.StatusConflict},
		{"invalid request content", arm.CodeInvalidRequestContent, http.StatusBadRequest},
		{"unsupported media type", arm.CodeUnsupportedMediaType, http.StatusUnsupportedMediaType},
		{"entity too large", arm.CodeRequestEntityTooLarge, http.StatusRequestEntityTooLarge},
		{"invalid resource name", arm.CodeInvalidResourceName, http.StatusBadRequest},
		{"invalid group name", arm.CodeInvalidResourceGroupName, http.StatusBadRequest},
		{"invalid subscription id", arm.CodeInvalidSubscriptionID, http.StatusBadRequest},
		{"linked invalid property id", arm.CodeLinkedInvalidPropertyID, http.StatusBadRequest},
		{"invalid resource id", arm.CodeInvalidResourceID, http.StatusBadRequest},
		{"location required", arm.CodeLocationRequired, http.StatusBadRequest},
		{"invalid parameter", arm.CodeInvalidParameter, http.StatusBadRequest},
		{"bad request", arm.CodeBadRequest, http.StatusBadRequest},
		{"resource not found", arm.CodeResourceNotFound, http.StatusNotFound},
		{"group not found", arm.CodeResourceGroupNotFound, http.StatusNotFound},
		{"subscription not found", arm.CodeSubscriptionNotFound, http.StatusNotFound},
		{"parent not found", arm.CodeParentResourceNotFound, http.StatusNotFound},
		{"operation not found", arm.CodeOperationNotFound, http.StatusNotFound},
		{"not found", arm.CodeNotFound, http.StatusNotFound},
		{"path not found", arm.CodePathNotFound, http.StatusNotFound},
		{"method not allowed", arm.CodeMethodNotAllowed, http.StatusMethodNotAllowed},
		{"conflict", arm.CodeConflict, http.StatusConflict},
		{"another operation in progress", arm.CodeAnotherOperationInProgress, http.StatusConflict},
		{"group being deleted", arm.CodeResourceGroupBeingDeleted, http.StatusConflict},
		{"precondition failed", arm.CodePreconditionFailed, http.StatusPreconditionFailed},
		{"invalid location", arm.CodeInvalidResourceLocation, http.StatusConflict},
		{"too many requests", arm.CodeTooManyRequests, http.StatusTooManyRequests},
		{"internal error", arm.CodeInternalServerError, http.StatusInternalServerError},
		{"service unavailable", arm.CodeServiceUnavailable, http.StatusServiceUnavailable},
		// Codes outside the table are RP-specific validation errors: 400.
		{"unknown code", "PrivateLinkResourceTypeNotSupported", http.StatusBadRequest},
		{"empty code", "", http.StatusBadRequest},
		// The table is case-sensitive, as ARM codes are fixed strings.
		{"code in other casing", "resourcenotfound", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := arm.Errorf(tt.code, "message")
			if got, want := e.HTTPStatus(), tt.want; got != want {
				t.Fatalf("HTTPStatus(%q) = %d, want %d", tt.code, got, want)
			}
		})
	}
}

func TestWithStatus(t *testing.T) {
	tests := []struct {
		name   string
		code   string
		status int
		want   int
	}{
		{"override table", arm.CodeResourceNotFound, http.StatusBadRequest, http.StatusBadRequest},
		{"override default", "PrivateLinkResourceNotFound", http.StatusNotFound, http.StatusNotFound},
		{"zero keeps table", arm.CodeConflict, 0, http.StatusConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := arm.Errorf(tt.code, "m")
			if got := e.WithStatus(tt.status); got != e {
				t.Fatalf("WithStatus returned a different *Error")
			}
			if got, want := e.HTTPStatus(), tt.want; got != want {
				t.Fatalf("HTTPStatus() = %d, want %d", got, want)
			}
			if got, want := e.Code, tt.code; got != want {
				t.Fatalf("Code = %q, want %q", got, want)
			}
		})
	}
}

func TestErrorf(t *testing.T) {
	e := arm.Errorf(arm.CodeResourceNotFound, "The resource '%s' under group '%s' was not found.", "c1", "rg1")
	if got, want := e.Message, "The resource 'c1' under group 'rg1' was not found."; got != want {
		t.Fatalf("Message = %q, want %q", got, want)
	}
	if got, want := e.Error(), "ResourceNotFound: The resource 'c1' under group 'rg1' was not found."; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if got, want := e.WithTarget("properties.x").Target, "properties.x"; got != want {
		t.Fatalf("Target = %q, want %q", got, want)
	}
}

func TestAsError(t *testing.T) {
	base := arm.Errorf(arm.CodeConflict, "busy")
	tests := []struct {
		name string
		err  error
		want *arm.Error
	}{
		{"nil", nil, nil},
		{"foreign error", errors.New("disk on fire"), nil},
		{"foreign sentinel wrapped", fmt.Errorf("read: %w", io.EOF), nil},
		{"direct", base, base},
		{"wrapped once", fmt.Errorf("put: %w", base), base},
		{"wrapped twice", fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", base)), base},
		{"joined", errors.Join(io.EOF, base), base},
		{"wrapped with another", fmt.Errorf("%w and %w", io.ErrUnexpectedEOF, base), base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := arm.AsError(tt.err), tt.want; got != want {
				t.Fatalf("AsError(%v) = %v, want %v", tt.err, got, want)
			}
		})
	}
}

func TestInternalError(t *testing.T) {
	e := arm.InternalError("req-123")
	if got, want := e.Code, arm.CodeInternalServerError; got != want {
		t.Fatalf("Code = %q, want %q", got, want)
	}
	if got, want := e.HTTPStatus(), http.StatusInternalServerError; got != want {
		t.Fatalf("HTTPStatus() = %d, want %d", got, want)
	}
	if !strings.Contains(e.Message, "'req-123'") {
		t.Fatalf("Message %q does not carry the request id", e.Message)
	}
}

func TestErrorResponseJSON(t *testing.T) {
	tests := []struct {
		name string
		err  *arm.Error
		want string
	}{
		{
			"code and message only",
			arm.Errorf(arm.CodeResourceNotFound, "gone"),
			`{"error":{"code":"ResourceNotFound","message":"gone"}}`,
		},
		{
			"status override is not serialized",
			arm.Errorf("Custom", "m").WithStatus(http.StatusTeapot),
			`{"error":{"code":"Custom","message":"m"}}`,
		},
		{
			"empty message is kept",
			&arm.Error{Code: arm.CodeBadRequest},
			`{"error":{"code":"BadRequest","message":""}}`,
		},
		{
			"target",
			arm.Errorf(arm.CodeInvalidParameter, "bad").WithTarget("properties.groupId"),
			`{"error":{"code":"InvalidParameter","message":"bad","target":"properties.groupId"}}`,
		},
		{
			"details",
			&arm.Error{Code: "Outer", Message: "o", Details: []*arm.Error{{Code: "Inner", Message: "i", Target: "t"}}},
			`{"error":{"code":"Outer","message":"o","details":[{"code":"Inner","message":"i","target":"t"}]}}`,
		},
		{
			"additional info",
			&arm.Error{Code: "C", Message: "m", AdditionalInfo: []arm.AdditionalInfo{{Type: "PolicyViolation", Info: map[string]string{"k": "v"}}}},
			`{"error":{"code":"C","message":"m","additionalInfo":[{"type":"PolicyViolation","info":{"k":"v"}}]}}`,
		},
		{
			"html characters are written as they are, as ARM does",
			arm.Errorf(arm.CodeBadRequest, "<b> & </b>"),
			`{"error":{"code":"BadRequest","message":"<b> & </b>"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := arm.Marshal(arm.ErrorResponse{Error: tt.err})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(b), tt.want; got != want {
				t.Fatalf("marshal =\n %s\nwant\n %s", got, want)
			}
			var back arm.ErrorResponse
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if got, want := back.Error.Code, tt.err.Code; got != want {
				t.Fatalf("round trip code = %q, want %q", got, want)
			}
			if got, want := back.Error.Message, tt.err.Message; got != want {
				t.Fatalf("round trip message = %q, want %q", got, want)
			}
		})
	}
}
