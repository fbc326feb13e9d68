package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/identity"
	"github.com/spf13/cobra"
)

// The directory's collections under /_privlink/directory/, where Microsoft
// Graph stands in Azure.
const (
	servicePrincipals = "servicePrincipals"
	users             = "users"
	anyPrincipal      = "principals"
)

// directoryPath is the path of a collection of the directory, or of the
// principal id in it.
func directoryPath(collection string, id ...string) string {
	p := "/_privlink/directory/" + collection
	for _, s := range id {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// call sends method path with in as its JSON body (none when in is nil)
// and decodes a 2xx answer into out (when not nil); any other answer is
// the server's error, code and message.
func (c *client) call(method, path string, in, out any) (*response, error) {
	var body []byte
	if in != nil {
		b, err := arm.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = b
	}
	r, err := c.do(method, path, body)
	if err != nil {
		return nil, err
	}
	if !r.OK() {
		return r, armFailure(r)
	}
	if out != nil && len(r.Body) > 0 {
		if err := json.Unmarshal(r.Body, out); err != nil {
			return r, fmt.Errorf("the server's answer to %s %s: %w", method, path, err)
		}
	}
	return r, nil
}

// directoryObject is a principal as the directory shows it.
type directoryObject struct {
	ObjectID          string `json:"objectId"`
	Type              string `json:"type"`
	DisplayName       string `json:"displayName"`
	AppID             string `json:"appId"`
	UserPrincipalName string `json:"userPrincipalName"`
}

// principalType is the principalType role assignments give the object:
// User, or ServicePrincipal (managed identities too).
func (o *directoryObject) principalType() string {
	if strings.EqualFold(o.Type, identity.KindUser) {
		return "User"
	}
	return "ServicePrincipal"
}

// principal finds the principal id names (an object id, an application id
// or a user principal name) in the directory. A name that is neither a
// GUID nor a UPN is a user's in the tenant's domain ("alice"), as
// 'privlink user create --name' and 'privlink login --username' take it.
func (c *client) principal(id string) (*directoryObject, error) {
	var o directoryObject
	if _, err := c.call(http.MethodGet, directoryPath(anyPrincipal, userName(id)), nil, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// userName completes a user's name to its principal name in the tenant's
// domain ("alice": alice@privlink.local); GUIDs and UPNs stay as they are.
func userName(id string) string {
	if id != "" && !isGUID(id) && !strings.Contains(id, "@") {
		return id + "@" + identity.TenantDomain
	}
	return id
}

// printList prints the directory's list at path as a JSON array.
func (c *client) printList(path string) error {
	var page struct {
		Value json.RawMessage `json:"value"`
	}
	if _, err := c.call(http.MethodGet, path, nil, &page); err != nil {
		return err
	}
	printJSON(c.g.stdout, page.Value)
	return nil
}

// printDocument GETs path and prints the answer.
func (c *client) printDocument(path string) error {
	r, err := c.call(http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	printJSON(c.g.stdout, r.Body)
	return nil
}

// deleteObject deletes a principal of the directory, saying so on stderr.
func (c *client) deleteObject(collection, what, id string) error {
	if _, err := c.call(http.MethodDelete, directoryPath(collection, id), nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.g.stderr, "deleted %s %s\n", what, id)
	return nil
}

// nonEmpty refuses a flag given an empty value (--id ""), which would
// name no principal or role; nameValues are each flag's name and value.
func nonEmpty(nameValues ...string) error {
	for i := 0; i+1 < len(nameValues); i += 2 {
		if strings.TrimSpace(nameValues[i+1]) == "" {
			return fmt.Errorf("--%s needs a value", nameValues[i])
		}
	}
	return nil
}

// directoryNote says who may change the directory, for the help texts.
const directoryNote = `Every principal may read the directory; only the tenant's administrator, privlink's
default service principal, may change it (403 Authorization_RequestDenied otherwise).`

func spCmd(g *globals) *cobra.Command {
	cmd := group(&cobra.Command{Use: "sp", Short: "Service principals of privlink's tenant (as 'az ad sp')"})
	cred := group(&cobra.Command{Use: "credential", Short: "A service principal's secrets"})
	cred.AddCommand(spCredentialReset(g))
	cmd.AddCommand(spCreate(g), spList(g), spShow(g), spDelete(g), cred)
	return cmd
}

func spCreate(g *globals) *cobra.Command {
	var name, role string
	var scopes []string
	cmd := &cobra.Command{
		Use:     "create [--name NAME] [--role ROLE --scopes SCOPE...]",
		Aliases: []string{"create-for-rbac"},
		Short:   "Create a service principal with a secret, as 'az ad sp create-for-rbac' does",
		Long: `Create a service principal (an application and its principal) with a secret valid a year,
and print what 'az ad sp create-for-rbac' prints: appId, displayName, password and tenant.
The password is shown only now. The principal gets tokens at once, with any client-secret
credential (azidentity.ClientSecretCredential, 'privlink login --client-id --client-secret').

With --role and --scopes, it is also given ROLE (a role name such as Contributor, a role
definition GUID or id) at each scope, as a ServicePrincipal; --scopes takes several ids,
after one flag (as az's does) or repeated. The roles are checked before anything is made.

` + directoryNote,
		Args: moreValues("--scopes", &scopes),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (role != "") != (len(scopes) > 0) {
				// az's message, word for word.
				return &usageError{cmd: cmd, msg: "To create role assignments, specify both --role and --scopes."}
			}
			for _, sc := range scopes {
				if !strings.HasPrefix(sc, "/") {
					return fmt.Errorf("--scopes are resource ids such as /subscriptions/ID/resourceGroups/NAME, got %q", sc)
				}
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			roleIDs := make([]string, len(scopes))
			for i, s := range scopes {
				if roleIDs[i], err = c.roleDefinitionID(role, s); err != nil {
					return err
				}
			}
			var created struct {
				AppID       string `json:"appId"`
				DisplayName string `json:"displayName"`
				Password    string `json:"password"`
				Tenant      string `json:"tenant"`
			}
			if _, err := c.call(http.MethodPost, directoryPath(servicePrincipals), map[string]string{"displayName": name}, &created); err != nil {
				return err
			}
			out, _ := arm.Marshal(created)
			var assignErr error
			if role != "" {
				assignErr = func() error {
					o, err := c.principal(created.AppID)
					if err != nil {
						return err
					}
					for i, s := range scopes {
						fmt.Fprintf(g.stderr, "Creating '%s' role assignment under scope '%s'\n", role, s)
						if _, err := c.assignRole(s, roleIDs[i], o.ObjectID, "ServicePrincipal", ""); err != nil {
							return fmt.Errorf("the service principal %s was made, but assigning it '%s' at %s failed: %w", created.AppID, role, s, err)
						}
					}
					return nil
				}()
			}
			// The secret is printed whatever happened to the role
			// assignments: it cannot be read again.
			printJSON(g.stdout, out)
			fmt.Fprintln(g.stderr, "The output includes a secret that is shown only now: keep it safe, out of code and source control.")
			return assignErr
		},
	}
	f := cmd.Flags()
	f.StringVarP(&name, "name", "n", "", "display name (default privlink-DATE-TIME)")
	f.StringVar(&role, "role", "", "a role to give it at each of --scopes: a name (Contributor, Reader, ...), a GUID or a role definition id")
	f.StringSliceVar(&scopes, "scopes", nil, "scopes for --role: resource ids (/subscriptions/ID, ...), several after one flag or repeated")
	return cmd
}

// moreValues accepts the words after the flags as more values of a flag
// that takes several, as az's list flags do ("--scopes A B"): they must
// look like resource ids, and the flag must be there.
func moreValues(flag string, values *[]string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		for _, a := range args {
			if !strings.HasPrefix(a, "/") || !cmd.Flags().Changed(strings.TrimPrefix(flag, "--")) {
				return fmt.Errorf("unexpected argument %q: only the ids of %s (/subscriptions/...) may follow it", a, flag)
			}
		}
		*values = append(*values, args...)
		return nil
	}
}

func spCredentialReset(g *globals) *cobra.Command {
	var id, displayName string
	var appendSecret bool
	var years int
	cmd := &cobra.Command{
		Use:   "reset --id ID --append [--display-name NAME] [--years N]",
		Short: "Add a secret to a service principal and print it, as 'az ad sp credential reset --append' does",
		Long: `Add a new secret to a service principal and print appId, password and tenant, as
'az ad sp credential reset --append' does. The password is shown only now.

privlink only adds secrets: the other secrets keep working, so --append is required.
Without it az would remove them, which privlink's directory does not do; to retire a
secret, delete the service principal and create another.

` + directoryNote,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := nonEmpty("id", id); err != nil {
				return err
			}
			if !appendSecret {
				return fmt.Errorf("--append is required: privlink's directory only adds secrets, and the others keep working (without --append az would remove them; to retire them, delete the service principal and create another)")
			}
			if cmd.Flags().Changed("years") && years < 1 {
				return fmt.Errorf("--years must be 1 or more, got %d", years)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			in := map[string]string{"displayName": displayName}
			if years > 0 {
				in["endDateTime"] = time.Now().UTC().AddDate(years, 0, 0).Format(time.RFC3339)
			}
			var added struct {
				AppID    string `json:"appId"`
				Password string `json:"password"`
				Tenant   string `json:"tenant"`
			}
			if _, err := c.call(http.MethodPost, directoryPath(servicePrincipals, id, "addPassword"), in, &added); err != nil {
				return err
			}
			out, _ := arm.Marshal(added)
			printJSON(g.stdout, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&id, "id", "", "the service principal's application (client) id or object id")
	f.BoolVar(&appendSecret, "append", false, "add the secret beside the others (required: privlink never removes secrets)")
	f.StringVar(&displayName, "display-name", "", "a name for the secret")
	f.IntVar(&years, "years", 0, "how many years the secret is valid (default 1)")
	_ = cmd.MarkFlagRequired("id")
	return cmd
}

func userCmd(g *globals) *cobra.Command {
	cmd := group(&cobra.Command{Use: "user", Short: "Users of privlink's tenant (as 'az ad user')"})
	cmd.AddCommand(userCreate(g), userList(g), userShow(g), userDelete(g))
	return cmd
}

func userCreate(g *globals) *cobra.Command {
	var name, displayName, password string
	cmd := &cobra.Command{
		Use:   "create --name NAME [--display-name NAME] [--password PASSWORD]",
		Short: "Create a user who signs in with a password ('privlink login --username')",
		Long: `Create a user of the tenant. NAME is the user principal name in the tenant's domain
(alice@` + identity.TenantDomain + `) or the part before the '@' (alice). The password needs 8
characters or more; without --password one is generated and printed, only now. The user
signs in with 'privlink login --username NAME --password PASSWORD', or any client's
username/password credential, and may do what role assignments give it.

` + directoryNote,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var created struct {
				ID                string `json:"id"`
				DisplayName       string `json:"displayName"`
				UserPrincipalName string `json:"userPrincipalName"`
				Password          string `json:"password,omitempty"`
			}
			if _, err := c.call(http.MethodPost, directoryPath(users), map[string]string{"name": name, "displayName": displayName, "password": password}, &created); err != nil {
				return err
			}
			out, _ := arm.Marshal(created)
			printJSON(g.stdout, out)
			if created.Password != "" {
				fmt.Fprintln(g.stderr, "The password was generated and is shown only now: keep it safe.")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&name, "name", "n", "", "the user principal name (NAME@"+identity.TenantDomain+") or NAME")
	f.StringVar(&displayName, "display-name", "", "the name people see (default NAME)")
	f.StringVar(&password, "password", "", "the password (default: generated and printed)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

// directoryKind is a collection of the directory that list, show and
// delete commands share: service principals and users.
type directoryKind struct {
	collection string
	// what names one in messages ("service principal").
	what string
	// idHelp describes --id.
	idHelp string
	// resolve turns --id into what the directory finds (a user's bare name
	// into its UPN).
	resolve func(id string) string
}

var (
	spKind   = directoryKind{servicePrincipals, "service principal", "the service principal's application (client) id or object id", func(id string) string { return id }}
	userKind = directoryKind{users, "user", "the user's principal name (alice@" + identity.TenantDomain + ", or alice) or object id", userName}
)

func spList(g *globals) *cobra.Command {
	return directoryList(g, spKind, "List the service principals (their secrets' ids and hints, never their values)",
		`List the tenant's service principals as a JSON array: object and application ids, display
name, whether it is one of privlink's default principals, and its secrets' key ids, hints
(first three characters) and validity, never their values.`)
}

func spShow(g *globals) *cobra.Command {
	return directoryShow(g, spKind, "Show a service principal (by application or object id)")
}

func spDelete(g *globals) *cobra.Command {
	return directoryDelete(g, spKind, "Delete a service principal: its secrets stop working at once",
		`Delete a service principal (by application or object id): no new token is issued for it.
Its role assignments stay, as in Azure, naming a principal that no longer exists;
privlink's default principals cannot be deleted.`)
}

func userList(g *globals) *cobra.Command {
	return directoryList(g, userKind, "List the users (never their passwords)", "")
}

func userShow(g *globals) *cobra.Command {
	return directoryShow(g, userKind, "Show a user (by user principal name or object id)")
}

func userDelete(g *globals) *cobra.Command {
	return directoryDelete(g, userKind, "Delete a user: its password and refresh tokens stop working",
		`Delete a user (by user principal name or object id): it can no longer sign in, and the
refresh tokens it holds are refused. Its role assignments stay, as in Azure.`)
}

// directoryList is "{sp|user} list".
func directoryList(g *globals, k directoryKind, short, long string) *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: short, Long: long, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			return c.printList(directoryPath(k.collection))
		},
	}
}

// directoryShow is "{sp|user} show --id ID".
func directoryShow(g *globals, k directoryKind, short string) *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use: "show --id ID", Short: short, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := nonEmpty("id", id); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			return c.printDocument(directoryPath(k.collection, k.resolve(id)))
		},
	}
	cmd.Flags().StringVar(&id, "id", "", k.idHelp)
	_ = cmd.MarkFlagRequired("id")
	return cmd
}

// directoryDelete is "{sp|user} delete --id ID".
func directoryDelete(g *globals, k directoryKind, short, long string) *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use: "delete --id ID", Short: short, Long: long + "\n\n" + directoryNote, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := nonEmpty("id", id); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			return c.deleteObject(k.collection, k.what, k.resolve(id))
		},
	}
	cmd.Flags().StringVar(&id, "id", "", k.idHelp)
	_ = cmd.MarkFlagRequired("id")
	return cmd
}
