package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/privlink/privlink/internal/certs"
	"github.com/privlink/privlink/internal/identity"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func loginCmd(g *globals) *cobra.Command {
	var p profile
	var data, password, objectID, resourceID string
	var managed bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in to a privlink server (as a service principal, a user or a managed identity)",
		Long: `Sign in and keep a token in a profile, as 'armclient login' does. Without flags privlink
signs in to $PRIVLINK_ENDPOINT (or https://127.0.0.1:8443), trusting $SSL_CERT_FILE (or the
CA in ./privlink-data), as the service principal in $AZURE_CLIENT_ID/$AZURE_CLIENT_SECRET
(or the default one): after eval "$(privlink env)" no flag is needed, and client commands
sign in by themselves when there is no profile yet.

Who to be, as 'az login' takes it:
  --client-id ID --client-secret S   a service principal ('privlink sp create' makes one)
  --username USER --password P       a user ('privlink user create': alice@privlink.local, or
                                     alice), with the password grant:
                                     the profile keeps the refresh token, never the password;
                                     unused for a day, it expires and you log in again
  --identity [--client-id ID | --object-id ID | --resource-id ID]
                                     a managed identity, from the server's IMDS endpoint: the
                                     default one, a user-assigned one, or a resource's
                                     system-assigned one

A login lasts, in every shell, until the next one: 'privlink login' with no flags signs in
as the environment's principal again. Each server has its own profile
(~/.config/privlink/profiles/HOST_PORT.json), so logins to two servers do not overwrite
each other; $PRIVLINK_PROFILE or --profile names another
file, for example one per shell, as AZURE_CONFIG_DIR does for az.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env := envProfile()
			f := cmd.Flags()
			if err := loginKind(f, &p, managed, password, objectID, resourceID); err != nil {
				return err
			}
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
			switch {
			case p.Kind != "":
				// A user or a managed identity: no service principal's secret.
			case !f.Changed("client-id"):
				p.ClientID = env.ClientID
				if !f.Changed("client-secret") {
					p.ClientSecret = env.ClientSecret
				}
			case !f.Changed("client-secret") && strings.EqualFold(p.ClientID, env.ClientID):
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
			if p.Kind == kindUser {
				err = c.signInUser(password)
			} else {
				err = c.refresh()
			}
			if err != nil {
				return err
			}
			path, _ := g.profilePath(p.Endpoint)
			fmt.Fprintf(g.stdout, "Logged in to %s as %s (tenant %s). Profile: %s\n", p.Endpoint, signedInAs(&p), p.TenantID, path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.Endpoint, "endpoint", "", "server URL (default $PRIVLINK_ENDPOINT or https://"+defaultAddr+")")
	f.StringVar(&p.CAFile, "ca", "", "CA certificate to trust (default: the one in --data, $SSL_CERT_FILE, or ./"+defaultData+")")
	f.StringVar(&data, "data", "", "the server's data directory, to find its CA")
	f.StringVar(&p.TenantID, "tenant", "", "tenant id (default $AZURE_TENANT_ID or privlink's tenant)")
	f.StringVar(&p.ClientID, "client-id", "", "service principal client id (default $AZURE_CLIENT_ID or privlink's default principal); with --identity, a user-assigned identity's")
	f.StringVar(&p.ClientSecret, "client-secret", "", "service principal secret (default $AZURE_CLIENT_SECRET or the default principal's)")
	f.StringVarP(&p.Username, "username", "u", "", "sign in as this user (NAME@privlink.local, or NAME), with --password")
	f.StringVarP(&password, "password", "p", "", "the user's password (used once, never kept)")
	f.BoolVar(&managed, "identity", false, "sign in as a managed identity, from the server's IMDS endpoint")
	f.StringVar(&objectID, "object-id", "", "with --identity: the object (principal) id of the managed identity")
	f.StringVar(&resourceID, "resource-id", "", "with --identity: a user-assigned identity's resource id, or a resource's (its system-assigned identity)")
	f.StringVar(&p.Subscription, "subscription", "", "default subscription for task commands (default $AZURE_SUBSCRIPTION_ID or privlink's default)")
	return cmd
}

// loginKind reads who 'privlink login' signs in as from its flags into p:
// a user (--username), a managed identity (--identity) or, by default, a
// service principal. Flags of two kinds at once are a usage error.
func loginKind(f *pflag.FlagSet, p *profile, managed bool, password, objectID, resourceID string) error {
	user := f.Changed("username") || f.Changed("password")
	spFlags := f.Changed("client-secret") || (f.Changed("client-id") && !managed)
	switch {
	case managed && (user || f.Changed("client-secret")):
		return fmt.Errorf("--identity signs in as a managed identity: it takes no --username, --password or --client-secret")
	case user && spFlags:
		return fmt.Errorf("--username signs in as a user, --client-id and --client-secret as a service principal: give one of them")
	case !managed && (f.Changed("object-id") || f.Changed("resource-id")):
		return fmt.Errorf("--object-id and --resource-id choose a managed identity: give --identity too")
	case user && (p.Username == "" || password == ""):
		return fmt.Errorf("a user signs in with both --username and --password")
	}
	switch {
	case managed:
		n := 0
		for _, v := range []string{p.ClientID, objectID, resourceID} {
			if v != "" {
				n++
			}
		}
		if n > 1 {
			return fmt.Errorf("--identity takes at most one of --client-id, --object-id and --resource-id")
		}
		p.Kind = kindIdentity
		if n == 1 {
			p.Identity = &identityRef{ClientID: p.ClientID, ObjectID: objectID, ResourceID: resourceID}
		}
		p.ClientID = ""
	case user:
		p.Kind, p.ClientID = kindUser, azureCLIClientID
		if !strings.Contains(p.Username, "@") {
			p.Username += "@" + identity.TenantDomain
		}
	}
	return nil
}

// signedInAs says who a profile's token stands for: the service
// principal's client id, the user's principal name, or the managed
// identity's client id (and its resource's id), as the token says.
func signedInAs(p *profile) string {
	var cl struct {
		AppID      string `json:"appid"`
		UPN        string `json:"upn"`
		ResourceID string `json:"xms_mirid"`
	}
	if parts := strings.Split(p.AccessToken, "."); len(parts) == 3 {
		if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			_ = json.Unmarshal(b, &cl)
		}
	}
	switch p.Kind {
	case kindUser:
		if cl.UPN != "" {
			return "user " + cl.UPN
		}
		return "user " + p.Username
	case kindIdentity:
		who := "managed identity " + cl.AppID
		if cl.ResourceID != "" {
			who += " of " + cl.ResourceID
		}
		return who
	}
	return p.ClientID
}
