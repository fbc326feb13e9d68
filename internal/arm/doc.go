// Package arm is the Azure Resource Manager vocabulary shared by every other
// package: resource ids, the resource envelope, provisioning states, operation
// documents and the ARM error type with its code-to-status table. It does no I/O.
package arm
