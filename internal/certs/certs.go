// Package certs makes privlink's local certificate authority and the server
// certificate it signs, kept in the data directory so that clients trust the
// server once (SSL_CERT_FILE) across restarts.
package certs

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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

// Files are the data directory's files this package creates (the CA's
// certificate and key, the server's certificate and key), for replicas
// that share them through their store.
var Files = []string{caKeyFile, CAFile, serverKey, certFile}

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

// Issuer signs server certificates on demand, per host name, with the CA of
// a data directory: the TLS terminator of the transparent proxy presents
// "management.azure.com" and the other Azure names privlink serves. Issued
// certificates live in memory only (a restart issues new ones).
type Issuer struct {
	ca  *x509.Certificate
	key *ecdsa.PrivateKey
	// def is served when the client names no host Allow accepts.
	def   tls.Certificate
	allow func(host string) bool

	mu    sync.Mutex
	cache map[string]*tls.Certificate
}

// maxIssued bounds the issued-certificate cache; past it the cache restarts.
const maxIssued = 4096

// NewIssuer returns an Issuer for dir's CA that serves def to clients that
// name no host (or an IP) or a host allow refuses.
func NewIssuer(dir string, def tls.Certificate, allow func(host string) bool) (*Issuer, error) {
	ca, key, err := EnsureCA(dir)
	if err != nil {
		return nil, err
	}
	return &Issuer{ca: ca, key: key, def: def, allow: allow, cache: map[string]*tls.Certificate{}}, nil
}

// GetCertificate is a tls.Config.GetCertificate: a certificate for the
// client's server name when allow accepts it, else the default one.
func (i *Issuer) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name == "" || i.allow == nil || !i.allow(name) {
		return &i.def, nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if c, ok := i.cache[name]; ok && time.Until(c.Leaf.NotAfter) > renewAhead {
		return c, nil
	}
	c, err := i.issue(name)
	if err != nil {
		return nil, err
	}
	if len(i.cache) >= maxIssued {
		i.cache = map[string]*tls.Certificate{}
	}
	i.cache[name] = c
	return c, nil
}

func (i *Issuer) issue(name string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"privlink"}},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		// 397 days: the longest validity that browsers accept for a leaf.
		NotAfter:    time.Now().Add(397 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, i.ca, &key.PublicKey, i.key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// SystemRootFiles are where Linux distributions and macOS keep the PEM
// bundle of trusted roots, in the order Go's crypto/x509 looks for them.
var SystemRootFiles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Gentoo, Arch
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL 6
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
	"/etc/ssl/cert.pem",                                 // Alpine, macOS
}

// bundleHeader starts every trust bundle; the path after it is the root
// file the bundle extends, so that a bundle made while SSL_CERT_FILE already
// named a bundle extends the same roots instead of nesting bundles.
const bundleHeader = "# privlink trust bundle: privlink's CA added to "

// TrustBundle writes a PEM bundle of the roots in base plus dir's CA, for
// SSL_CERT_FILE and the variables of other runtimes that replace (rather
// than extend) the trusted roots, and returns its path. base "" means the
// first of SystemRootFiles that exists (none: the bundle holds the CA
// alone). The bundle lives in dir/trust/, named by a hash of its content, so
// shells with different roots each get their own, and it is written once.
func TrustBundle(dir, base string) (string, error) {
	ca, err := os.ReadFile(CAPath(dir))
	if err != nil {
		return "", err
	}
	if base != "" {
		if inner := bundleBase(base); inner != "" {
			base = inner
		}
	} else {
		for _, f := range SystemRootFiles {
			if st, err := os.Stat(f); err == nil && !st.IsDir() {
				base = f
				break
			}
		}
	}
	var roots []byte
	if base != "" {
		if roots, err = os.ReadFile(base); err != nil {
			return "", fmt.Errorf("certs: reading the trusted roots in %s: %w", base, err)
		}
	}
	var b strings.Builder
	b.WriteString(bundleHeader + base + "\n")
	b.Write(roots)
	if len(roots) > 0 && roots[len(roots)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteString("# privlink local CA\n")
	b.Write(ca)
	sum := sha256.Sum256([]byte(b.String()))
	path := filepath.Join(dir, "trust", "bundle-"+hex.EncodeToString(sum[:6])+".pem")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	if err := fsutil.WriteFileOnce(path, []byte(b.String()), 0o644); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	return path, nil
}

// bundleBase returns the root file a privlink trust bundle extends, or ""
// when path is no such bundle.
func bundleBase(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return ""
	}
	base, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), bundleHeader)
	if !ok {
		return ""
	}
	return base
}
