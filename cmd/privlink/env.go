package main

import (
	"fmt"
	"net"
	"path/filepath"

	"github.com/privlink/privlink/internal/certs"
	"github.com/privlink/privlink/internal/identity"
	"github.com/spf13/cobra"
)

func envCmd(g *globals) *cobra.Command {
	var addr, data string
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print export lines that point Azure SDKs, azidentity, Terraform and privlink's client at a server",
		Long: `Print shell export lines for a privlink server at --addr whose data directory is --data:
eval "$(privlink env)" and the Azure SDKs (DefaultAzureCredential, EnvironmentCredential,
ManagedIdentityCredential), Terraform's azurerm and azapi providers and 'privlink login'
find the server, trust its CA and authenticate as the default service principal.
The data directory's CA and managed identity secret are created if the server has not
started yet, so the order of 'serve' and 'env' does not matter.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := filepath.Abs(data)
			if err != nil {
				return err
			}
			if _, _, err := certs.EnsureCA(dir); err != nil {
				return err
			}
			secret, err := identity.MSISecret(dir)
			if err != nil {
				return err
			}
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return fmt.Errorf("--addr: %w", err)
			}
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			hostport := net.JoinHostPort(host, port)
			base := "https://" + hostport
			for _, kv := range envVars(base, hostport, certs.CAPath(dir), secret) {
				fmt.Fprintf(g.stdout, "export %s=%s\n", kv[0], shellQuote(kv[1]))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", defaultAddr, "the server's HTTPS address")
	cmd.Flags().StringVar(&data, "data", defaultData, "the server's data directory")
	return cmd
}

// envVars are the variables env prints, in order.
func envVars(base, hostport, ca, msiSecret string) [][2]string {
	return [][2]string{
		{"PRIVLINK_ENDPOINT", base},
		{"SSL_CERT_FILE", ca},
		{"CURL_CA_BUNDLE", ca},
		{"REQUESTS_CA_BUNDLE", ca},
		{"AZURE_AUTHORITY_HOST", base + "/"},
		{"AZURE_TENANT_ID", identity.DefaultTenantID},
		{"AZURE_CLIENT_ID", identity.DefaultClientID},
		{"AZURE_CLIENT_SECRET", identity.DefaultClientSecret},
		{"AZURE_SUBSCRIPTION_ID", identity.DefaultSubscriptionID},
		{"AZURE_RESOURCE_MANAGER_ENDPOINT", base + "/"},
		{"ARM_TENANT_ID", identity.DefaultTenantID},
		{"ARM_CLIENT_ID", identity.DefaultClientID},
		{"ARM_CLIENT_SECRET", identity.DefaultClientSecret},
		{"ARM_SUBSCRIPTION_ID", identity.DefaultSubscriptionID},
		{"ARM_METADATA_HOSTNAME", hostport},
		{"ARM_MSI_ENDPOINT", base + "/metadata/identity/oauth2/token"},
		{"IDENTITY_ENDPOINT", base + "/msi/token"},
		{"IDENTITY_HEADER", msiSecret},
	}
}

func shellQuote(s string) string {
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '/' || r == ':') {
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
