package arm

import "net/http"

// Error codes of Microsoft.Authorization (role assignments and role
// definitions), with the statuses Azure answers them with. Sources:
// learn.microsoft.com/azure/role-based-access-control/troubleshooting, and
// the Azure CLI, Terraform and SDK threads that quote them (docs/rbac.md).
const (
	// CodeInvalidRoleAssignmentID: a role assignment name that is not a GUID (400).
	CodeInvalidRoleAssignmentID = "InvalidRoleAssignmentId"
	// CodeRoleAssignmentNotFound: GET of an assignment that is not there (404).
	CodeRoleAssignmentNotFound = "RoleAssignmentNotFound"
	// CodeRoleAssignmentExists: the same principal, role and scope are
	// already assigned under another name (409).
	CodeRoleAssignmentExists = "RoleAssignmentExists"
	// CodeRoleAssignmentUpdateNotPermitted: a PUT that changes an existing
	// assignment's principal, role or scope (400).
	CodeRoleAssignmentUpdateNotPermitted = "RoleAssignmentUpdateNotPermitted"
	// CodePrincipalNotFound: the principal is not in the directory (400).
	CodePrincipalNotFound = "PrincipalNotFound"
	// CodeInvalidPrincipalID: a principalId that is not a GUID (400).
	CodeInvalidPrincipalID = "InvalidPrincipalId"
	// CodeUnmatchedPrincipalType: principalType says otherwise than the
	// directory (400).
	CodeUnmatchedPrincipalType = "UnmatchedPrincipalType"
	// CodeInvalidPrincipalType: a principalType that is none of ARM's. No
	// public source quotes this refusal's code; its message is Azure's.
	CodeInvalidPrincipalType = "InvalidPrincipalType"
	// CodeInvalidRoleDefinitionID: a roleDefinitionId that names no role
	// definition id (400).
	CodeInvalidRoleDefinitionID = "InvalidRoleDefinitionId"
	// CodeRoleDefinitionDoesNotExist: no role definition with that id at
	// the scope (404 for a GET; 400 for an assignment that names it).
	CodeRoleDefinitionDoesNotExist = "RoleDefinitionDoesNotExist"
	// CodeRoleDefinitionHasAssignments: deleting a custom role that is
	// still assigned (409).
	CodeRoleDefinitionHasAssignments = "RoleDefinitionHasAssignments"
	// CodeRoleDefinitionWithSameNameExists: another role has that roleName (409).
	CodeRoleDefinitionWithSameNameExists = "RoleDefinitionWithSameNameExists"
	// CodeInvalidActionOrNotAction: an action of a provider ARM does not know (400).
	CodeInvalidActionOrNotAction = "InvalidActionOrNotAction"
	// CodeInvalidAssignableScope: a custom role's assignableScopes that ARM
	// refuses, such as the tenant root (400). No public source quotes the
	// code; the rule is documented (custom roles cannot use "/").
	CodeInvalidAssignableScope = "InvalidAssignableScope"
	// CodeBuiltInRoleCannotBeModified: a PUT or DELETE of a built-in role
	// (403). Azure documents that built-in roles cannot be changed; no
	// public source quotes the refusal, so the code is privlink's.
	CodeBuiltInRoleCannotBeModified = "BuiltInRoleCannotBeModified"
	// CodeUnsupportedFilter: a $filter a list does not support (400).
	CodeUnsupportedFilter = "UnsupportedFilter"
)

func init() {
	for code, status := range map[string]int{
		CodeInvalidRoleAssignmentID:          http.StatusBadRequest,
		CodeRoleAssignmentNotFound:           http.StatusNotFound,
		CodeRoleAssignmentExists:             http.StatusConflict,
		CodeRoleAssignmentUpdateNotPermitted: http.StatusBadRequest,
		CodePrincipalNotFound:                http.StatusBadRequest,
		CodeInvalidPrincipalID:               http.StatusBadRequest,
		CodeUnmatchedPrincipalType:           http.StatusBadRequest,
		CodeInvalidPrincipalType:             http.StatusBadRequest,
		CodeInvalidRoleDefinitionID:          http.StatusBadRequest,
		CodeRoleDefinitionDoesNotExist:       http.StatusNotFound,
		CodeRoleDefinitionHasAssignments:     http.StatusConflict,
		CodeRoleDefinitionWithSameNameExists: http.StatusConflict,
		CodeInvalidActionOrNotAction:         http.StatusBadRequest,
		CodeInvalidAssignableScope:           http.StatusBadRequest,
		CodeBuiltInRoleCannotBeModified:      http.StatusForbidden,
		CodeUnsupportedFilter:                http.StatusBadRequest,
	} {
		codeStatus[code] = status
	}
}
