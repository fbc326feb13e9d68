package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/privlink/privlink/internal/certs"
	"github.com/spf13/cobra"
)

func loginCmd(g *globals) *cobra.Command {
	var p profile
	var data string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in to a privlink server (as the environment's or the default service principal)",
		Long: `Sign in and keep a token in a profile, as 'armclient login' does. Without flags privlink
signs in to $PRIVLINK_ENDPOINT (or https://127.0.0.1:8443), trusting $SSL_CERT_FILE (or the
CA in ./privlink-data), as the service principal in $AZURE_CLIENT_ID/$AZURE_CLIENT_SECRET
(or the default one): after eval "$(privlink env)" no flag is needed, and client commands
sign in by themselves when there is no profile yet.

Each server has its own profile (~/.config/privlink/profiles/HOST_PORT.json), so logins
to two servers do not overwrite each other; $PRIVLINK_PROFILE or --profile names another
file, for example one per shell, as AZURE_CONFIG_DIR does for az.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env := envProfile()
			f := cmd.Flags()
			if !f.Changed("endpoint") {
				p.Endpoint = env.Endpoint
			}
			p.Endpoint = strings.TrimSuffix(p.Endpoint, "/")
			if p.CAFile == "" {
				switch {
				case data != "":
					p.CAFile = certs.CAPath(data)
				case !f.Changed("endpoint") || strings.HasPrefix(p.Endpoint, "https://"):
					p.CAFile = env.CAFile
				}
			}
			if p.CAFile != "" {
				abs, err := filepath.Abs(p.CAFile)
				if err != nil {
					return err
				}
				p.CAFile = abs
			}
			if !f.Changed("tenant") {
				p.TenantID = env.TenantID
			}
			if !f.Changed("client-id") {
				p.ClientID = env.ClientID
				if !f.Changed("client-secret") {
					p.ClientSecret = env.ClientSecret
				}
			} else if !f.Changed("client-secret") && strings.EqualFold(p.ClientID, env.ClientID) {
				p.ClientSecret = env.ClientSecret
			}
			if p.Subscription == "" {
				p.Subscription = env.Subscription
			}
			hc, err := httpClient(p.CAFile)
			if err != nil {
				return err
			}
			c := &client{g: g, p: &p, http: hc}
			if err := c.refresh(); err != nil {
				return err
			}
			path, _ := g.profilePath(p.Endpoint)
			fmt.Fprintf(g.stdout, "Logged in to %s as %s (tenant %s). Profile: %s\n", p.Endpoint, p.ClientID, p.TenantID, path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.Endpoint, "endpoint", "", "server URL (default $PRIVLINK_ENDPOINT or https://"+defaultAddr+")")
	f.StringVar(&p.CAFile, "ca", "", "CA certificate to trust (default: the one in --data, $SSL_CERT_FILE, or ./"+defaultData+")")
	f.StringVar(&data, "data", "", "the server's data directory, to find its CA")
	f.StringVar(&p.TenantID, "tenant", "", "tenant id (default $AZURE_TENANT_ID or privlink's tenant)")
	f.StringVar(&p.ClientID, "client-id", "", "service principal client id (default $AZURE_CLIENT_ID or privlink's default principal)")
	f.StringVar(&p.ClientSecret, "client-secret", "", "service principal secret (default $AZURE_CLIENT_SECRET or the default principal's)")
	f.StringVar(&p.Subscription, "subscription", "", "default subscription for task commands (default $AZURE_SUBSCRIPTION_ID or privlink's default)")
	return cmd
}
