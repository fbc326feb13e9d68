package arm

import "net/http"

// Error codes of Microsoft.Resources/deployments (the Deployments API and
// ARM's template engine; learn.microsoft.com .../common-deployment-errors).
const (
	// CodeInvalidTemplate: the template is not valid (400), with the line and
	// column of the place.
	CodeInvalidTemplate = "InvalidTemplate"
	// CodeInvalidTemplateDeployment: preflight validation failed (400).
	CodeInvalidTemplateDeployment = "InvalidTemplateDeployment"
	// CodeDeploymentFailed: a deployment ended Failed; one detail per failed
	// resource carries the resource's own error.
	CodeDeploymentFailed = "DeploymentFailed"
	// CodeDeploymentActive: the deployment is still running (409).
	CodeDeploymentActive = "DeploymentActive"
	// CodeDeploymentNotFound: no deployment of that name (404).
	CodeDeploymentNotFound = "DeploymentNotFound"
	// CodeDeploymentNameLengthLimitExceeded: a name over 64 characters (400).
	CodeDeploymentNameLengthLimitExceeded = "DeploymentNameLengthLimitExceeded"
	// CodeInvalidDeploymentName: a name with characters ARM refuses (400).
	CodeInvalidDeploymentName = "InvalidDeploymentName"
	// CodeDeploymentCanceled: what a canceled deployment's error says.
	CodeDeploymentCanceled = "DeploymentCanceled"
	// CodeDeploymentCannotBeCanceled: cancel of a deployment that is not
	// running (409).
	CodeDeploymentCannotBeCanceled = "DeploymentCannotBeCanceled"
	// CodeDeploymentJobSizeExceeded: a template over ARM's 4 MB (400).
	CodeDeploymentJobSizeExceeded = "DeploymentJobSizeExceeded"
	// CodeDeploymentOutputEvaluationFailed: an output could not be evaluated.
	CodeDeploymentOutputEvaluationFailed = "DeploymentOutputEvaluationFailed"
	// CodeDeploymentQuotaExceeded: a new deployment at a scope whose
	// history holds its limit of 800 (400).
	CodeDeploymentQuotaExceeded = "DeploymentQuotaExceeded"
	// CodeKeyVaultSecretRetrieveFailed: a parameter's Key Vault reference
	// could not be read (400).
	CodeKeyVaultSecretRetrieveFailed = "KeyVaultParameterReferenceSecretRetrieveFailed"
)

func init() {
	for code, status := range map[string]int{
		CodeInvalidTemplate:                   http.StatusBadRequest,
		CodeInvalidTemplateDeployment:         http.StatusBadRequest,
		CodeDeploymentFailed:                  http.StatusBadRequest,
		CodeDeploymentActive:                  http.StatusConflict,
		CodeDeploymentNotFound:                http.StatusNotFound,
		CodeDeploymentNameLengthLimitExceeded: http.StatusBadRequest,
		CodeInvalidDeploymentName:             http.StatusBadRequest,
		CodeDeploymentCanceled:                http.StatusConflict,
		CodeDeploymentCannotBeCanceled:        http.StatusConflict,
		CodeDeploymentJobSizeExceeded:         http.StatusBadRequest,
		CodeDeploymentOutputEvaluationFailed:  http.StatusBadRequest,
		CodeKeyVaultSecretRetrieveFailed:      http.StatusBadRequest,
		CodeDeploymentQuotaExceeded:           http.StatusBadRequest,
	} {
		codeStatus[code] = status
	}
}
