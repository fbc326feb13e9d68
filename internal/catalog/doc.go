// Package catalog knows the real Azure resource types and the api-versions
// ARM accepts for each (those Azure's specifications publish, its SDKs call
// and Microsoft's quickstart templates deploy), generated from public
// sources by ./gen and embedded, so that privlink accepts what clients send.
package catalog
