// Package catalog knows the real Azure resource types and the api-versions
// Azure publishes and its SDKs call for each, generated from public sources
// by ./gen and embedded, so that privlink accepts what clients send.
package catalog
