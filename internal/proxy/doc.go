// Package proxy is privlink's forward proxy: HTTP CONNECT, absolute-form
// HTTP and SOCKS5 front ends over one policy decision per connection (serve
// it here, tunnel it to its destination, or refuse it and say why), and a
// listener that shares one port between privlink's HTTPS server and the proxy.
package proxy
