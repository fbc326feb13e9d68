// Package bench holds privlink's benchmarks: GET and PUT of a managed private
// endpoint over HTTPS against a real server, each beside a bare net/http
// handler serving the same bytes over the same TLS setup. See docs/benchmarks.md.
package bench
