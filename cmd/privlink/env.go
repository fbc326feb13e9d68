package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/app"
	"github.com/privlink/privlink/internal/certs"
	"github.com/privlink/privlink/internal/httpapi"
	"github.com/privlink/privlink/internal/identity"
	"github.com/spf13/cobra"
)

// Modes of 'privlink env'.
const (
	modeTransparent = "transparent"
	modeDirect      = "direct"
)

func envCmd(g *globals) *cobra.Command {
	var addr, data, mode, storeURL string
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print export lines that point Azure SDKs, Terraform and privlink's client at a server",
		Long: `Print shell lines for eval: eval "$(privlink env)".

In the default transparent mode the shell's programs reach privlink when they call
Azure's own host names (management.azure.com, login.microsoftonline.com, ...):
HTTPS_PROXY names privlink's proxy (on the server's own port), and the shell trusts
privlink's CA in addition to the roots it already trusts (SSL_CERT_FILE for Go,
OpenSSL and .NET, REQUESTS_CA_BUNDLE for Python, CURL_CA_BUNDLE, NODE_EXTRA_CA_CERTS
for Node.js). Azure SDKs with default options, Terraform's azapi provider and
'privlink' itself then sign in as the default service principal (AZURE_*, ARM_*) or
the managed identity (IDENTITY_ENDPOINT, IDENTITY_HEADER) with no other setting.
Nothing is installed system-wide; other hosts are tunnelled as before.

--mode direct prints the custom-cloud variables instead (AZURE_AUTHORITY_HOST,
ARM_METADATA_HOSTNAME, ...; tenant "adfs", for which MSAL skips instance discovery),
for programs configured with privlink's address explicitly.

When a server is listening at --addr, env uses the data directory whose CA signed
that server's certificate (--data, else the server's own) and refuses a --data that
does not match; when none is, it creates the CA in --data, so that 'serve' and 'env'
may run in either order.

With --store (the PostgreSQL URL replicas share), env reads the CA and the managed
identity secret from the database into --data (default: a directory per store under
the user's cache directory), so it prints the environment of any replica, or of
their load balancer, on any machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if mode != modeTransparent && mode != modeDirect {
				return fmt.Errorf("--mode must be %s or %s, not %q", modeTransparent, modeDirect, mode)
			}
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return fmt.Errorf("--addr: %w", err)
			}
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			hostport := net.JoinHostPort(host, port)
			explicit := cmd.Flags().Changed("data")
			if !cmd.Flags().Changed("store") {
				storeURL = os.Getenv("PRIVLINK_STORE")
			}
			if storeURL == "" && cmd.Flags().Changed("store") {
				// Most often "$PRIVLINK_STORE" in a shell that lacks it.
				fmt.Fprintln(g.stderr, "privlink env: --store is empty; reading the server's data directory instead")
			}
			if storeURL != "" {
				if !explicit {
					if data, err = storeCacheDir(storeURL); err != nil {
						return err
					}
					explicit = true
				}
				ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
				defer cancel()
				if err := app.FetchShared(ctx, storeURL, data); err != nil {
					return fmt.Errorf("--store: %w", err)
				}
			}
			dir, err := envDataDir(hostport, data, explicit, storeURL != "", g.stderr)
			if err != nil {
				return err
			}
			secret, err := identity.MSISecret(dir)
			if err != nil {
				return err
			}
			bundle, err := certs.TrustBundle(dir, os.Getenv("SSL_CERT_FILE"))
			if err != nil {
				return err
			}
			// Node.js adds NODE_EXTRA_CA_CERTS to its own roots: the CA alone
			// does, unless the shell already names extra certificates there,
			// which must stay trusted too.
			nodeExtra := certs.CAPath(dir)
			if extra := os.Getenv("NODE_EXTRA_CA_CERTS"); extra != "" && extra != nodeExtra {
				if nodeExtra, err = certs.TrustBundle(dir, extra); err != nil {
					return err
				}
			}
			unset, vars := envVars(mode, hostport, nodeExtra, bundle, secret, os.Getenv)
			if len(unset) > 0 {
				fmt.Fprintf(g.stdout, "unset %s\n", strings.Join(unset, " "))
			}
			for _, kv := range vars {
				fmt.Fprintf(g.stdout, "export %s=%s\n", kv[0], shellQuote(kv[1]))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", defaultAddr, "the server's HTTPS address")
	cmd.Flags().StringVar(&data, "data", defaultData, "the server's data directory (default: the running server's, else ./"+defaultData+")")
	// $PRIVLINK_STORE applies in RunE: a default given here would be
	// printed, password and all, by --help.
	cmd.Flags().StringVar(&storeURL, "store", "", "the PostgreSQL URL that replicas share: read their CA and secrets from it (default $PRIVLINK_STORE, as serve's)")
	cmd.Flags().StringVar(&mode, "mode", modeTransparent, "transparent (Azure's host names reach privlink through its proxy) or direct (custom-cloud variables)")
	return cmd
}

// storeCacheDir is where env keeps what it read from a shared store: one
// directory per store URL under the user's cache directory.
func storeCacheDir(storeURL string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(storeURL))
	return filepath.Join(base, "privlink", "store-"+hex.EncodeToString(sum[:6])), nil
}

// envDataDir decides which data directory's CA and secrets env prints.
// With a server listening at hostport, the directory must hold the CA that
// signed the server's certificate: a second, unrelated CA would be trusted
// by nobody's server. explicit says the user named data with --data,
// fromStore that env --store just filled it.
func envDataDir(hostport, data string, explicit, fromStore bool, stderr io.Writer) (string, error) {
	dir, err := filepath.Abs(data)
	if err != nil {
		return "", err
	}
	chain, info, listening, err := probeServer(hostport)
	if !listening {
		if _, _, err := certs.EnsureCA(dir); err != nil {
			return "", err
		}
		// Not an error (serve and env may run in either order), but a
		// replica that is down or a mistyped port would otherwise pass
		// unnoticed.
		fmt.Fprintf(stderr, "privlink env: nothing is listening at %s yet; these lines are for a server started there, with its CA in %s\n", hostport, dir)
		return dir, nil
	}
	if err != nil {
		return "", fmt.Errorf("something is listening at %s, but it is not a privlink server (%v); pass the --addr of your server", hostport, err)
	}
	if signedBy(dir, chain) {
		return dir, nil
	}
	other := ""
	if info != nil && info.DataDir != "" && info.DataDir != dir {
		other = info.DataDir
	}
	if !explicit && other != "" && signedBy(other, chain) {
		fmt.Fprintf(stderr, "privlink env: using the data directory of the server at %s: %s\n", hostport, other)
		return other, nil
	}
	problem, _ := caProblem(dir)
	msg := fmt.Sprintf("a privlink server is listening at %s, but %s %s", hostport, dir, problem)
	switch {
	case fromStore:
		msg += "; that is the CA of the store --store names, so the server at " + hostport + " uses another store: give the --store its replicas share"
	case info != nil && info.Replica != "":
		// Behind a load balancer each try may reach another replica, and
		// every replica's own directory is as good as the next: the store
		// they share is where the CA is.
		msg += fmt.Sprintf("; it is replica %s of a shared store: run 'privlink env --addr %s --store URL' with the PostgreSQL URL the replicas share, or --data with a directory 'privlink env --store' filled (it holds the CA and the managed identity secret, and no database password)", info.Replica, hostport)
	case other != "":
		msg += fmt.Sprintf("; the server's data directory is %s", other)
		if p, unreadable := caProblem(other); unreadable {
			msg += fmt.Sprintf(", which %s: run 'privlink env --addr %s --data %s' as the server's user", p, hostport, other)
		} else {
			msg += fmt.Sprintf(": run 'privlink env --addr %s --data %s'", hostport, other)
		}
	default:
		msg += "; pass the server's --data directory"
	}
	return "", errors.New(msg)
}

// caProblem says why dir's CA is not the one wanted: "holds no CA", "holds
// a CA that did not sign its certificate", or that it cannot be read (a
// server's data directory is its user's alone: mode 0700; the CA file
// env --store writes is 0600); unreadable reports the last.
func caProblem(dir string) (problem string, unreadable bool) {
	f, err := os.Open(certs.CAPath(dir))
	switch {
	case err == nil:
		f.Close()
		return "holds a CA that did not sign its certificate", false
	case errors.Is(err, os.ErrPermission):
		return "cannot be read by this user (" + err.Error() + ")", true
	}
	return "holds no CA", false
}

// probeServer asks whoever listens at hostport for its certificate chain
// and, if it is privlink, its Info. listening is false when nothing accepts
// a connection there.
func probeServer(hostport string) (chain []*x509.Certificate, info *httpapi.Info, listening bool, err error) {
	conn, err := net.DialTimeout("tcp", hostport, time.Second)
	if err != nil {
		return nil, nil, false, nil
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	host, _, _ := net.SplitHostPort(hostport)
	// Not trusted yet: the chain is checked against a CA on disk afterwards.
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: host})
	if err := tc.Handshake(); err != nil {
		return nil, nil, true, err
	}
	chain = tc.ConnectionState().PeerCertificates
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := hc.Get("https://" + hostport + "/_privlink/info")
	if err == nil {
		defer resp.Body.Close()
		var i httpapi.Info
		if resp.StatusCode == http.StatusOK && json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&i) == nil {
			info = &i
		}
	}
	return chain, info, true, nil
}

// signedBy reports whether dir's CA signed the leaf of chain.
func signedBy(dir string, chain []*x509.Certificate) bool {
	if len(chain) == 0 {
		return false
	}
	pem, err := os.ReadFile(certs.CAPath(dir))
	if err != nil {
		return false
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return false
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err = chain[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter})
	return err == nil
}

// Variables the other mode sets, which env unsets so that a shell can switch
// modes by evaluating env again.
var (
	directOnly      = []string{"AZURE_AUTHORITY_HOST", "AZURE_RESOURCE_MANAGER_ENDPOINT", "ARM_METADATA_HOSTNAME", "ARM_ACTIVE_DIRECTORY_AUTHORITY_HOST", "ARM_RESOURCE_MANAGER_ENDPOINT", "ARM_RESOURCE_MANAGER_AUDIENCE"}
	transparentOnly = []string{"HTTPS_PROXY", "https_proxy"}
)

// envVars returns the variables to unset and those to export, in order.
// getenv reads the current environment (to extend NO_PROXY, and to unset
// only a proxy that is this server's).
func envVars(mode, hostport, nodeExtra, bundle, msiSecret string, getenv func(string) string) (unset []string, vars [][2]string) {
	base := "https://" + hostport
	proxyURL := "http://" + hostport
	vars = [][2]string{{"PRIVLINK_ENDPOINT", base}}
	tenant := identity.DefaultTenantID
	if mode == modeTransparent {
		// Unset whether or not this process sees them: what is evaluated
		// is the caller's shell, and unsetting a missing variable is harmless.
		unset = append(unset, directOnly...)
		noProxy := noProxyList(getenv("NO_PROXY"), getenv("no_proxy"), hostport)
		vars = append(vars,
			[2]string{"HTTPS_PROXY", proxyURL},
			[2]string{"https_proxy", proxyURL},
			[2]string{"NO_PROXY", noProxy},
			[2]string{"no_proxy", noProxy},
		)
	} else {
		for _, k := range transparentOnly {
			if getenv(k) == proxyURL {
				unset = append(unset, k)
			}
		}
		// MSAL skips instance discovery for an AD FS authority, so clients
		// that cannot turn it off sign in against privlink's own address.
		tenant = identity.ADFSTenant
	}
	vars = append(vars,
		[2]string{"SSL_CERT_FILE", bundle},
		[2]string{"REQUESTS_CA_BUNDLE", bundle},
		[2]string{"CURL_CA_BUNDLE", bundle},
		[2]string{"NODE_EXTRA_CA_CERTS", nodeExtra},
	)
	if mode == modeDirect {
		vars = append(vars, [2]string{"AZURE_AUTHORITY_HOST", base + "/"})
	}
	vars = append(vars,
		[2]string{"AZURE_TENANT_ID", tenant},
		[2]string{"AZURE_CLIENT_ID", identity.DefaultClientID},
		[2]string{"AZURE_CLIENT_SECRET", identity.DefaultClientSecret},
		[2]string{"AZURE_SUBSCRIPTION_ID", identity.DefaultSubscriptionID},
	)
	if mode == modeDirect {
		vars = append(vars, [2]string{"AZURE_RESOURCE_MANAGER_ENDPOINT", base + "/"})
	}
	vars = append(vars,
		[2]string{"ARM_TENANT_ID", tenant},
		[2]string{"ARM_CLIENT_ID", identity.DefaultClientID},
		[2]string{"ARM_CLIENT_SECRET", identity.DefaultClientSecret},
		[2]string{"ARM_SUBSCRIPTION_ID", identity.DefaultSubscriptionID},
	)
	if mode == modeDirect {
		vars = append(vars,
			[2]string{"ARM_METADATA_HOSTNAME", hostport},
			[2]string{"ARM_ACTIVE_DIRECTORY_AUTHORITY_HOST", base + "/"},
			[2]string{"ARM_RESOURCE_MANAGER_ENDPOINT", base + "/"},
			[2]string{"ARM_RESOURCE_MANAGER_AUDIENCE", "https://management.core.windows.net/"},
		)
	}
	vars = append(vars,
		[2]string{"ARM_MSI_ENDPOINT", base + "/metadata/identity/oauth2/token"},
		[2]string{"IDENTITY_ENDPOINT", base + "/msi/token"},
		[2]string{"IDENTITY_HEADER", msiSecret},
	)
	return unset, vars
}

// noProxyList is the NO_PROXY env exports: what the shell already had, plus
// the loopback names and privlink's own host, which clients must reach
// directly (the managed identity endpoint, privlink's CLI).
func noProxyList(upper, lower, hostport string) string {
	var out []string
	add := func(v string) {
		v = strings.TrimSpace(v)
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, v := range strings.Split(upper+","+lower, ",") {
		add(v)
	}
	host, _, _ := net.SplitHostPort(hostport)
	for _, v := range []string{"localhost", "127.0.0.1", "::1", host} {
		add(v)
	}
	return strings.Join(out, ",")
}

func shellQuote(s string) string {
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '/' || r == ':' || r == ',') {
			safe = false
			break
		}
	}
	if safe && s != "" {
		return s
	}
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
		} else {
			out += string(r)
		}
	}
	return out + "'"
}
