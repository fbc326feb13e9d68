package certs_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/certs"
)

func ensureCA(t *testing.T, dir string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	ca, key, err := certs.EnsureCA(dir)
	if err != nil {
		t.Fatalf("EnsureCA: %v", err)
	}
	return ca, key
}

func serverCert(t *testing.T, dir string, hosts ...string) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	c, err := certs.ServerCertificate(dir, hosts)
	if err != nil {
		t.Fatalf("ServerCertificate(%q): %v", hosts, err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c, leaf
}

// pool trusts the CA as a client would through SSL_CERT_FILE: read from CAPath.
func pool(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(certs.CAPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		t.Fatalf("%s holds no certificate", certs.CAPath(dir))
	}
	return p
}

func verify(leaf *x509.Certificate, roots *x509.CertPool, host string) error {
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

func TestEnsureCAIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	ca1, key1 := ensureCA(t, dir)
	if !ca1.IsCA {
		t.Fatalf("CA certificate is not a CA")
	}
	if ca1.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatalf("CA certificate cannot sign certificates")
	}
	if !key1.PublicKey.Equal(ca1.PublicKey) {
		t.Fatalf("CA key does not match its certificate")
	}
	pemBefore, err := os.ReadFile(certs.CAPath(dir))
	if err != nil {
		t.Fatal(err)
	}

	ca2, key2 := ensureCA(t, dir)
	if !bytes.Equal(ca2.Raw, ca1.Raw) {
		t.Fatalf("second EnsureCA made a new certificate")
	}
	if !key2.Equal(key1) {
		t.Fatalf("second EnsureCA made a new key")
	}
	pemAfter, err := os.ReadFile(certs.CAPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pemAfter, pemBefore) {
		t.Fatalf("second EnsureCA rewrote %s", certs.CAPath(dir))
	}

	other, _ := ensureCA(t, t.TempDir())
	if bytes.Equal(other.Raw, ca1.Raw) {
		t.Fatalf("two directories share a CA")
	}
}

// A crash between writing the CA key and its certificate leaves the key
// alone; the next start must still end with a certificate for that key.
func TestEnsureCAAfterPartialWrite(t *testing.T) {
	dir := t.TempDir()
	_, key := ensureCA(t, dir)
	if err := os.Remove(certs.CAPath(dir)); err != nil {
		t.Fatal(err)
	}

	ca, key2 := ensureCA(t, dir)
	if !key2.PublicKey.Equal(ca.PublicKey) {
		t.Fatalf("CA certificate does not match the CA key on disk")
	}
	if !key2.Equal(key) {
		t.Fatalf("EnsureCA replaced the surviving key")
	}
	_, leaf := serverCert(t, dir, "localhost")
	if err := verify(leaf, pool(t, dir), "localhost"); err != nil {
		t.Fatalf("server certificate does not verify against the recovered CA: %v", err)
	}
}

func TestServerCertificateCoversHosts(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{"localhost", "127.0.0.1", "::1", "privlink.test"}
	c, leaf := serverCert(t, dir, hosts...)
	roots := pool(t, dir)

	tests := []struct {
		name string
		host string
		ok   bool
	}{
		{"dns name", "localhost", true},
		{"ipv4", "127.0.0.1", true},
		{"ipv6", "::1", true},
		{"other dns name", "privlink.test", true},
		{"dns names match case-insensitively", "LOCALHOST", true},
		{"uncovered name", "example.com", false},
		{"uncovered ip", "10.0.0.1", false},
		{"subdomain", "a.localhost", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verify(leaf, roots, tt.host)
			if got, want := err == nil, tt.ok; got != want {
				t.Fatalf("verify %q: %v, want ok %v", tt.host, err, want)
			}
		})
	}

	if leaf.IsCA {
		t.Fatalf("server certificate is a CA")
	}
	if c.PrivateKey == nil {
		t.Fatalf("no private key")
	}
	// The key pair works for TLS: a handshake-free check that the key signs
	// for the certificate.
	if _, err := tls.X509KeyPair(pemOf(t, dir, "server.pem"), pemOf(t, dir, "server-key.pem")); err != nil {
		t.Fatalf("stored server key pair: %v", err)
	}
	// Another directory's CA does not vouch for it.
	otherDir := t.TempDir()
	ensureCA(t, otherDir)
	if err := verify(leaf, pool(t, otherDir), "localhost"); err == nil {
		t.Fatalf("server certificate verified against another CA")
	}
	if time.Until(leaf.NotAfter) < 365*24*time.Hour {
		t.Fatalf("server certificate expires soon: %v", leaf.NotAfter)
	}
}

func pemOf(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestServerCertificateReuse(t *testing.T) {
	dir := t.TempDir()
	_, first := serverCert(t, dir, "localhost", "127.0.0.1")

	tests := []struct {
		name  string
		hosts []string
		reuse bool
	}{
		{"same hosts", []string{"localhost", "127.0.0.1"}, true},
		{"same hosts, other order", []string{"127.0.0.1", "localhost"}, true},
		{"a covered subset", []string{"localhost"}, true},
		{"no hosts", nil, true},
		{"a new host", []string{"localhost", "127.0.0.1", "privlink.test"}, false},
	}
	prev := first
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, leaf := serverCert(t, dir, tt.hosts...)
			if got, want := bytes.Equal(leaf.Raw, prev.Raw), tt.reuse; got != want {
				t.Fatalf("reused the certificate = %v, want %v", got, want)
			}
			for _, h := range tt.hosts {
				if err := verify(leaf, pool(t, dir), h); err != nil {
					t.Fatalf("verify %q: %v", h, err)
				}
			}
			prev = leaf
		})
	}

	// The regenerated certificate is the one on disk now, and is reused in turn.
	_, again := serverCert(t, dir, "privlink.test")
	if !bytes.Equal(again.Raw, prev.Raw) {
		t.Fatalf("the regenerated certificate was not kept")
	}
	// The CA did not change along the way.
	ca, _ := ensureCA(t, dir)
	if err := again.CheckSignatureFrom(ca); err != nil {
		t.Fatalf("regenerated certificate not signed by the CA: %v", err)
	}
}

// A server certificate signed by a CA other than dir's (a CA that was
// replaced) is not reused.
func TestServerCertificateRegeneratedForNewCA(t *testing.T) {
	dir := t.TempDir()
	_, old := serverCert(t, dir, "localhost")
	for _, name := range []string{"ca.pem", "ca-key.pem"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	_, leaf := serverCert(t, dir, "localhost")
	if bytes.Equal(leaf.Raw, old.Raw) {
		t.Fatalf("kept a server certificate signed by the old CA")
	}
	if err := verify(leaf, pool(t, dir), "localhost"); err != nil {
		t.Fatalf("verify against the new CA: %v", err)
	}
}

func TestDefaultHosts(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		want  []string // must be present
		not   []string // must be absent
	}{
		{"loopback always", nil, []string{"localhost", "127.0.0.1", "::1"}, nil},
		{"extra host", []string{"privlink.test"}, []string{"privlink.test"}, nil},
		{"wildcard addresses skipped", []string{"0.0.0.0", "::", ""}, nil, []string{"0.0.0.0", "::", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := certs.DefaultHosts(tt.extra...)
			seen := map[string]int{}
			for _, h := range got {
				seen[h]++
			}
			for _, h := range tt.want {
				if seen[h] != 1 {
					t.Fatalf("DefaultHosts(%q) = %q: %q appears %d times, want once", tt.extra, got, h, seen[h])
				}
			}
			for _, h := range tt.not {
				if seen[h] != 0 {
					t.Fatalf("DefaultHosts(%q) = %q includes %q", tt.extra, got, h)
				}
			}
		})
	}
	if got := certs.DefaultHosts("localhost"); len(got) != len(certs.DefaultHosts()) {
		t.Fatalf("DefaultHosts(\"localhost\") = %q repeats a host", got)
	}
}
