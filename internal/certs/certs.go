// Package certs makes privlink's local certificate authority and the server
// certificate it signs, kept in the data directory so that clients trust the
// server once (SSL_CERT_FILE) across restarts.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/privlink/privlink/internal/fsutil"
)

// File names in the data directory.
const (
	CAFile     = "ca.pem"
	caKeyFile  = "ca-key.pem"
	certFile   = "server.pem"
	serverKey  = "server-key.pem"
	validFor   = 5 * 365 * 24 * time.Hour
	renewAhead = 30 * 24 * time.Hour
)

// CAPath is where the CA certificate lives in dir.
func CAPath(dir string) string { return filepath.Join(dir, CAFile) }

// EnsureCA creates the CA in dir unless it exists, and returns it.
func EnsureCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	if cert, key, err := load(filepath.Join(dir, CAFile), filepath.Join(dir, caKeyFile)); err == nil {
		return cert, key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	// The key is written first, and only once: a key already there (left by
	// a crash before its certificate was written, or by a process racing
	// this one) wins, and the certificate is made for the key on disk, so
	// that the pair always matches.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	kp := filepath.Join(dir, caKeyFile)
	if err := fsutil.WriteFileOnce(kp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return nil, nil, err
	}
	if key, err = loadKey(kp); err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "privlink local CA", Organization: []string{"privlink"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * validFor),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if err := fsutil.WriteFileOnce(filepath.Join(dir, CAFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, err
	}
	return load(filepath.Join(dir, CAFile), kp)
}

// ServerCertificate returns a certificate for hosts (names or IPs) signed by
// dir's CA, reusing the stored one while it covers hosts and is not near expiry.
func ServerCertificate(dir string, hosts []string) (tls.Certificate, error) {
	ca, caKey, err := EnsureCA(dir)
	if err != nil {
		return tls.Certificate{}, err
	}
	cp, kp := filepath.Join(dir, certFile), filepath.Join(dir, serverKey)
	if cert, _, err := load(cp, kp); err == nil && covers(cert, hosts) && time.Until(cert.NotAfter) > renewAhead && cert.CheckSignatureFrom(ca) == nil {
		return tls.LoadX509KeyPair(cp, kp)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "privlink", Organization: []string{"privlink"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(validFor),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	// A new server certificate replaces the old one: write both files fresh.
	_ = os.Remove(cp)
	_ = os.Remove(kp)
	if err := save(dir, serverKey, certFile, key, der); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(cp, kp)
}

// DefaultHosts are the names a local server's certificate covers.
func DefaultHosts(extra ...string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	for _, e := range extra {
		if e != "" && e != "0.0.0.0" && e != "::" && !slices.Contains(hosts, e) {
			hosts = append(hosts, e)
		}
	}
	return hosts
}

func covers(c *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if c.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

func save(dir, keyName, certName string, key *ecdsa.PrivateKey, der []byte) error {
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileOnce(filepath.Join(dir, keyName), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return fsutil.WriteFileOnce(filepath.Join(dir, certName), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func load(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	ek, err := loadKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	cblk, _ := pem.Decode(cb)
	if cblk == nil {
		return nil, nil, fmt.Errorf("certs: %s is not PEM", certPath)
	}
	cert, err := x509.ParseCertificate(cblk.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, ek, nil
}

func loadKey(keyPath string) (*ecdsa.PrivateKey, error) {
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	kblk, _ := pem.Decode(kb)
	if kblk == nil {
		return nil, fmt.Errorf("certs: %s is not PEM", keyPath)
	}
	k, err := x509.ParsePKCS8PrivateKey(kblk.Bytes)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("certs: %s is not an ECDSA key", keyPath)
	}
	return ek, nil
}
