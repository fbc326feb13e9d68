package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/privlink/privlink/internal/certs"
	"github.com/privlink/privlink/internal/identity"
	"github.com/spf13/cobra"
)

func loginCmd(g *globals) *cobra.Command {
	var p profile
	var data string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in to a privlink server (as the default service principal unless told otherwise)",
		Long: `Sign in and keep a token in the profile, as 'armclient login' does. Without flags privlink
uses $PRIVLINK_ENDPOINT (or https://127.0.0.1:8443), trusts the CA in ./privlink-data (or
--data, --ca, $SSL_CERT_FILE) and signs in as the default service principal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if p.Endpoint == "" {
				p.Endpoint = os.Getenv("PRIVLINK_ENDPOINT")
			}
			if p.Endpoint == "" {
				p.Endpoint = "https://" + defaultAddr
			}
			p.Endpoint = strings.TrimSuffix(p.Endpoint, "/")
			if p.CAFile == "" {
				if data != "" {
					p.CAFile = certs.CAPath(data)
				} else if f := os.Getenv("SSL_CERT_FILE"); f != "" {
					p.CAFile = f
				} else if _, err := os.Stat(certs.CAPath(defaultData)); err == nil && strings.HasPrefix(p.Endpoint, "https://") {
					p.CAFile = certs.CAPath(defaultData)
				}
			}
			if p.CAFile != "" {
				abs, err := filepath.Abs(p.CAFile)
				if err != nil {
					return err
				}
				p.CAFile = abs
			}
			if p.Subscription == "" {
				p.Subscription = os.Getenv("AZURE_SUBSCRIPTION_ID")
			}
			if p.Subscription == "" {
				p.Subscription = identity.DefaultSubscriptionID
			}
			hc, err := httpClient(p.CAFile)
			if err != nil {
				return err
			}
			c := &client{g: g, p: &p, http: hc}
			if err := c.refresh(); err != nil {
				return err
			}
			path, _ := g.profilePath()
			fmt.Fprintf(g.stdout, "Logged in to %s as %s (tenant %s). Profile: %s\n", p.Endpoint, p.ClientID, p.TenantID, path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.Endpoint, "endpoint", "", "server URL (default $PRIVLINK_ENDPOINT or https://"+defaultAddr+")")
	f.StringVar(&p.CAFile, "ca", "", "CA certificate to trust (default: the one in --data, $SSL_CERT_FILE, or ./"+defaultData+")")
	f.StringVar(&data, "data", "", "the server's data directory, to find its CA")
	f.StringVar(&p.TenantID, "tenant", identity.DefaultTenantID, "tenant id")
	f.StringVar(&p.ClientID, "client-id", identity.DefaultClientID, "service principal client id")
	f.StringVar(&p.ClientSecret, "client-secret", identity.DefaultClientSecret, "service principal secret")
	f.StringVar(&p.Subscription, "subscription", "", "default subscription for task commands (default $AZURE_SUBSCRIPTION_ID or privlink's default)")
	return cmd
}
