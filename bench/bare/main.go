// Command bare is the baseline of privlink's load runs: a bare net/http
// handler that serves one file's bytes, as privlink serves a stored resource,
// over TLS with privlink's own server certificate. It is a benchmark tool,
// not part of privlink.
package main

import (
	"crypto/tls"
	"flag"
	"log"
	"net/http"
	"os"
	"path/filepath"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:19444", "listen address")
	data := flag.String("data", "", "privlink data directory (for server.pem and server-key.pem)")
	body := flag.String("body", "", "file whose bytes every response carries")
	flag.Parse()
	b, err := os.ReadFile(*body)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(*data, "server.pem"), filepath.Join(*data, "server-key.pem"))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = w.Write(b)
		})}
	log.Fatal(srv.ListenAndServeTLS("", ""))
}
