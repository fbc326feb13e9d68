package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/arm"
	"github.com/spf13/cobra"
)

// authorizationAPIVersion is the Microsoft.Authorization api-version the
// role commands speak.
const authorizationAPIVersion = "2022-04-01"

// guidPattern is a GUID as ARM writes them.
var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isGUID(s string) bool { return guidPattern.MatchString(s) }

// lastSegment is what follows the last '/' of an id (all of it when none).
func lastSegment(id string) string { return id[strings.LastIndexByte(id, '/')+1:] }

// authorizationPath is the path of Microsoft.Authorization's collection
// (roleAssignments, roleDefinitions) at scope, or of an item in it, with
// the api-version and an optional $filter.
func authorizationPath(scope, collection, name, filter string) string {
	p := strings.TrimSuffix(scope, "/") + "/providers/Microsoft.Authorization/" + collection
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	p = withVersion(p, authorizationAPIVersion)
	if filter != "" {
		p += "&$filter=" + url.QueryEscape(filter)
	}
	return p
}

// odataString quotes s for a $filter.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// scopeRef is a --scope flag whose default is the subscription.
type scopeRef struct{ scope, subscription string }

func (s *scopeRef) flags(cmd *cobra.Command, what string) {
	cmd.Flags().StringVar(&s.scope, "scope", "", what+": a resource id (/subscriptions/ID, .../resourceGroups/NAME, a resource's, or / for the tenant) (default: the subscription)")
	cmd.Flags().StringVar(&s.subscription, "subscription", "", "the subscription --scope defaults to (default: the profile's)")
}

// check refuses a --scope that is not an id at all; the server judges the rest.
func (s *scopeRef) check() error {
	if s.scope != "" && !strings.HasPrefix(s.scope, "/") {
		return fmt.Errorf("--scope must be a resource id such as /subscriptions/ID/resourceGroups/NAME, got %q", s.scope)
	}
	return nil
}

// resolve is --scope, or /subscriptions/{--subscription or the profile's}.
func (s *scopeRef) resolve(c *client) string {
	if s.scope != "" {
		return s.scope
	}
	sub := s.subscription
	if sub == "" {
		sub = c.p.Subscription
	}
	return "/subscriptions/" + sub
}

// roleDefinition is a role definition as the API answers it.
type roleDefinition struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		RoleName string `json:"roleName"`
		Type     string `json:"type"`
	} `json:"properties"`
}

// listRoleDefinitions lists the role definitions that apply at scope, with
// an optional $filter.
func (c *client) listRoleDefinitions(scope, filter string) ([]roleDefinition, []json.RawMessage, error) {
	var page struct {
		Value []json.RawMessage `json:"value"`
	}
	if _, err := c.call(http.MethodGet, authorizationPath(scope, "roleDefinitions", "", filter), nil, &page); err != nil {
		return nil, nil, err
	}
	defs := make([]roleDefinition, len(page.Value))
	for i, raw := range page.Value {
		if err := json.Unmarshal(raw, &defs[i]); err != nil {
			return nil, nil, fmt.Errorf("the server's list of role definitions: %w", err)
		}
	}
	return defs, page.Value, nil
}

// roleDefinitionID resolves --role at scope as az does: a role definition
// id stays as it is; a GUID becomes the id of that role in the scope's
// subscription (or the tenant's, above subscriptions); a name is looked up
// with $filter=roleName eq '{name}' at the scope. That no role has the name
// is the server's answer (exit 1), though an empty one.
func (c *client) roleDefinitionID(role, scope string) (string, error) {
	switch {
	case strings.HasPrefix(role, "/"):
		return role, nil
	case isGUID(role):
		prefix := ""
		if id, err := arm.ParseResourceID(scope); err == nil && id.SubscriptionID() != "" {
			prefix = "/subscriptions/" + id.SubscriptionID()
		}
		return prefix + "/providers/Microsoft.Authorization/roleDefinitions/" + role, nil
	}
	defs, _, err := c.listRoleDefinitions(scope, "roleName eq "+odataString(role))
	if err != nil {
		return "", err
	}
	switch len(defs) {
	case 0:
		return "", &serverError{msg: fmt.Sprintf("Role '%s' doesn't exist at %s ('privlink role definition list' lists the roles).", role, scope)}
	case 1:
		return defs[0].ID, nil
	}
	var ids []string
	for _, d := range defs {
		ids = append(ids, d.ID)
	}
	return "", &serverError{msg: fmt.Sprintf("More than one role is named '%s': give one of these ids as --role: %s", role, strings.Join(ids, ", "))}
}

// roleAssignment is what the role commands read of an assignment.
type roleAssignment struct {
	ID         string `json:"id"`
	Properties struct {
		RoleDefinitionID string `json:"roleDefinitionId"`
		PrincipalID      string `json:"principalId"`
		Scope            string `json:"scope"`
	} `json:"properties"`
}

// assignRole gives principalID the role roleID at scope, in a new
// assignment with a new GUID.
func (c *client) assignRole(scope, roleID, principalID, principalType, description string) (*response, error) {
	props := map[string]string{"roleDefinitionId": roleID, "principalId": principalID}
	if principalType != "" {
		props["principalType"] = principalType
	}
	if description != "" {
		props["description"] = description
	}
	return c.call(http.MethodPut, authorizationPath(scope, "roleAssignments", uuid.NewString(), ""), map[string]any{"properties": props}, nil)
}

// assignmentQuery chooses role assignments as 'az role assignment list'
// does: those made at the scope (and above it with inherited, everything
// the subscription holds with all), of one principal, of one role.
type assignmentQuery struct {
	scopeRef
	assignee, role string
	all, inherited bool
}

// search lists the assignments q chooses, each as the API answers it.
func (q *assignmentQuery) search(c *client) ([]json.RawMessage, error) {
	scope := q.resolve(c)
	var terms []string
	if !q.all {
		terms = append(terms, "atScope()")
	}
	if q.assignee != "" {
		o, err := c.principal(q.assignee)
		if err != nil {
			return nil, err
		}
		terms = append(terms, "assignedTo("+odataString(o.ObjectID)+")")
	}
	roleGUID := ""
	if q.role != "" {
		id, err := c.roleDefinitionID(q.role, scope)
		if err != nil {
			return nil, err
		}
		roleGUID = lastSegment(id)
	}
	var page struct {
		Value []json.RawMessage `json:"value"`
	}
	if _, err := c.call(http.MethodGet, authorizationPath(scope, "roleAssignments", "", strings.Join(terms, " and ")), nil, &page); err != nil {
		return nil, err
	}
	out := []json.RawMessage{}
	for _, raw := range page.Value {
		var a roleAssignment
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, fmt.Errorf("the server's list of role assignments: %w", err)
		}
		if !q.all && !q.inherited && !strings.EqualFold(strings.TrimSuffix(a.Properties.Scope, "/"), strings.TrimSuffix(scope, "/")) {
			continue
		}
		if roleGUID != "" && !strings.EqualFold(lastSegment(a.Properties.RoleDefinitionID), roleGUID) {
			continue
		}
		out = append(out, raw)
	}
	return out, nil
}

// assigneeHelp says what --assignee takes.
const assigneeHelp = "the principal: a service principal's application or object id, a user's principal name (alice@privlink.local, or alice) or object id, a managed identity's client or object id"

// roleHelp says what --role takes.
const roleHelp = "the role: its name (Owner, Contributor, Reader, a custom role's), its GUID or its role definition id"

func roleCmd(g *globals) *cobra.Command {
	cmd := group(&cobra.Command{Use: "role", Short: "Role-based access control: role assignments and definitions (as 'az role')"})
	a := group(&cobra.Command{Use: "assignment", Short: "Role assignments: which principal has which role, at which scope"})
	a.AddCommand(roleAssignmentCreate(g), roleAssignmentList(g), roleAssignmentDelete(g))
	d := group(&cobra.Command{Use: "definition", Short: "Role definitions: Azure's built-in roles and custom ones"})
	d.AddCommand(roleDefinitionList(g), roleDefinitionCreate(g), roleDefinitionDelete(g))
	cmd.AddCommand(a, d)
	return cmd
}

func roleAssignmentCreate(g *globals) *cobra.Command {
	var s scopeRef
	var assignee, role, principalType, description string
	cmd := &cobra.Command{
		Use:   "create --assignee ID --role ROLE [--scope SCOPE]",
		Short: "Give a principal a role at a scope, as 'az role assignment create' does",
		Long: `Give a principal a role at a scope, as 'az role assignment create' does, and print the
role assignment as the API answers it. The assignee is looked up in the directory (its
principal type comes from there unless --assignee-principal-type says it; the server
refuses a type that does not match); the role is looked up at the scope by name, or taken
as a GUID or role definition id. The assignment gets a new GUID. The scope defaults to
the subscription.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := nonEmpty("assignee", assignee, "role", role); err != nil {
				return err
			}
			if err := s.check(); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			scope := s.resolve(c)
			roleID, err := c.roleDefinitionID(role, scope)
			if err != nil {
				return err
			}
			o, err := c.principal(assignee)
			if err != nil {
				return err
			}
			typ := principalType
			if typ == "" {
				typ = o.principalType()
			}
			r, err := c.assignRole(scope, roleID, o.ObjectID, typ, description)
			if err != nil {
				return err
			}
			printJSON(g.stdout, r.Body)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&assignee, "assignee", "", assigneeHelp)
	f.StringVar(&role, "role", "", roleHelp)
	s.flags(cmd, "where the role applies")
	f.StringVar(&principalType, "assignee-principal-type", "", "User or ServicePrincipal (default: the directory's)")
	f.StringVar(&description, "description", "", "a description of the assignment")
	_ = cmd.MarkFlagRequired("assignee")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func roleAssignmentList(g *globals) *cobra.Command {
	var q assignmentQuery
	cmd := &cobra.Command{
		Use:   "list [--assignee ID] [--role ROLE] [--scope SCOPE | --all] [--include-inherited]",
		Short: "List role assignments as a JSON array, as 'az role assignment list' does",
		Long: `List role assignments as a JSON array of the API's documents, with az's semantics: those
made at the scope (the subscription by default), also those above it with
--include-inherited, or everything the subscription holds (at, above and below it) with
--all; --assignee and --role keep one principal's, one role's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := q.check(); err != nil {
				return err
			}
			if q.all && q.scope != "" {
				return fmt.Errorf("--all lists the whole subscription: give no --scope with it")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			list, err := q.search(c)
			if err != nil {
				return err
			}
			b, _ := json.Marshal(list)
			printJSON(g.stdout, b)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.assignee, "assignee", "", "only this principal's: "+strings.TrimPrefix(assigneeHelp, "the principal: "))
	f.StringVar(&q.role, "role", "", "only this role's: "+strings.TrimPrefix(roleHelp, "the role: "))
	q.flags(cmd, "where the assignments were made")
	f.BoolVar(&q.all, "all", false, "every assignment the subscription holds, at, above and below it")
	f.BoolVar(&q.inherited, "include-inherited", false, "also the assignments made above the scope, which apply there")
	return cmd
}

func roleAssignmentDelete(g *globals) *cobra.Command {
	var q assignmentQuery
	var ids []string
	cmd := &cobra.Command{
		Use:   "delete --ids ID... | [--assignee ID] [--role ROLE] [--scope SCOPE]",
		Short: "Delete role assignments, by id or every one that matches, as 'az role assignment delete' does",
		Long: `Delete role assignments: those --ids names (several after one flag, or repeated), or every
assignment made at the scope (the subscription by default) that matches --assignee and
--role, as 'az role assignment delete' does. Each deletion is said on stderr.`,
		Args: moreValues("--ids", &ids),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := q.check(); err != nil {
				return err
			}
			filtered := q.assignee != "" || q.role != "" || q.scope != ""
			switch {
			case len(ids) > 0 && filtered:
				return fmt.Errorf("--ids names the assignments: give no --assignee, --role or --scope with it")
			case len(ids) == 0 && !filtered:
				return fmt.Errorf("name the assignments to delete: --ids, or --assignee, --role and/or --scope")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				list, err := q.search(c)
				if err != nil {
					return err
				}
				if len(list) == 0 {
					fmt.Fprintln(g.stderr, "No matched assignments were found to delete.")
					return nil
				}
				for _, raw := range list {
					var a roleAssignment
					_ = json.Unmarshal(raw, &a)
					ids = append(ids, a.ID)
				}
			}
			for _, id := range ids {
				r, err := c.call(http.MethodDelete, withVersion(id, authorizationAPIVersion), nil, nil)
				if err != nil {
					return err
				}
				if r.Status == http.StatusNoContent {
					fmt.Fprintf(g.stderr, "no role assignment %s: nothing to delete\n", id)
					continue
				}
				fmt.Fprintf(g.stderr, "deleted role assignment %s\n", id)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&ids, "ids", nil, "the role assignments' ids (several after one flag, or repeated)")
	f.StringVar(&q.assignee, "assignee", "", "the assignments of this principal: "+strings.TrimPrefix(assigneeHelp, "the principal: "))
	f.StringVar(&q.role, "role", "", "the assignments of this role: "+strings.TrimPrefix(roleHelp, "the role: "))
	q.flags(cmd, "where the assignments were made")
	return cmd
}

func roleDefinitionList(g *globals) *cobra.Command {
	var s scopeRef
	var name string
	var customOnly bool
	cmd := &cobra.Command{
		Use:   "list [--name NAME|GUID] [--custom-role-only] [--scope SCOPE]",
		Short: "List the role definitions that apply at a scope, as a JSON array",
		Long: `List the role definitions that apply at a scope (the subscription by default) as a JSON
array of the API's documents: Azure's built-in roles and the custom roles assignable
there. --name keeps the role with that name or GUID.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := s.check(); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			scope := s.resolve(c)
			var list []json.RawMessage
			if isGUID(name) {
				r, err := c.do(http.MethodGet, authorizationPath(scope, "roleDefinitions", name, ""), nil)
				switch {
				case err != nil:
					return err
				case r.Status == http.StatusNotFound:
				case !r.OK():
					return armFailure(r)
				default:
					var d roleDefinition
					if err := json.Unmarshal(r.Body, &d); err != nil {
						return fmt.Errorf("the server's role definition: %w", err)
					}
					if !customOnly || strings.EqualFold(d.Properties.Type, "CustomRole") {
						list = append(list, r.Body)
					}
				}
			} else {
				var terms []string
				if name != "" {
					terms = append(terms, "roleName eq "+odataString(name))
				}
				if customOnly {
					terms = append(terms, "type eq 'CustomRole'")
				}
				if _, list, err = c.listRoleDefinitions(scope, strings.Join(terms, " and ")); err != nil {
					return err
				}
			}
			if list == nil {
				list = []json.RawMessage{}
			}
			b, _ := json.Marshal(list)
			printJSON(g.stdout, b)
			return nil
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "only the role with this name or GUID")
	cmd.Flags().BoolVar(&customOnly, "custom-role-only", false, "only custom roles")
	s.flags(cmd, "where the roles apply")
	return cmd
}

func roleDefinitionCreate(g *globals) *cobra.Command {
	var input string
	cmd := &cobra.Command{
		Use:   "create --role-definition JSON|@FILE",
		Short: "Create a custom role, as 'az role definition create' does",
		Long: `Create a custom role from a description in az's shape and print the role definition as
the API answers it:

  {"Name": "Reader Support", "Description": "...", "Actions": ["*/read"],
   "NotActions": [], "DataActions": [], "NotDataActions": [],
   "AssignableScopes": ["/subscriptions/ID"]}

Keys are case-insensitive; Name is the role's name (roleName is accepted too) and
AssignableScopes is required: the role is written at the first of them. The role gets a
new GUID unless "Id" gives one (a GUID or a role definition id), or "name" is a GUID
beside a "roleName"; with an existing custom role's GUID, it is replaced. The API's own
shape ({"name": GUID, "properties": {...}}, as 'role definition list' prints it) is
accepted too. The argument is JSON, @FILE, @- (standard input) or a file's name.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			arg := input
			if t := strings.TrimSpace(arg); !strings.HasPrefix(t, "@") && !strings.HasPrefix(t, "{") {
				if st, err := os.Stat(t); err == nil && !st.IsDir() {
					arg = "@" + t
				}
			}
			b, err := readBody(arg, g.stdin)
			if err != nil {
				return fmt.Errorf("--role-definition: %w", err)
			}
			def, err := parseRoleDefinition(b)
			if err != nil {
				return fmt.Errorf("--role-definition: %w", err)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			r, err := c.call(http.MethodPut, authorizationPath(def.scopes[0], "roleDefinitions", def.guid, ""), def.body(), nil)
			if err != nil {
				return err
			}
			printJSON(g.stdout, r.Body)
			return nil
		},
	}
	cmd.Flags().StringVar(&input, "role-definition", "", "the role: JSON, @FILE, @- or a file's name")
	_ = cmd.MarkFlagRequired("role-definition")
	return cmd
}

// roleDefinitionInput is a custom role as 'role definition create' reads it.
type roleDefinitionInput struct {
	guid, roleName, description, typ string
	scopes                           []string
	permissions                      []map[string][]string
}

// permissionKeys are a permission block's lists, in the API's spelling.
var permissionKeys = []string{"actions", "notActions", "dataActions", "notDataActions"}

// parseRoleDefinition reads az's role definition input (keys in any
// case), or the API's shape with its "properties".
func parseRoleDefinition(b []byte) (*roleDefinitionInput, error) {
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("a role definition is a JSON object: %v", err)
	}
	top := lowerKeys(doc)
	fields := top
	apiShape := false
	if props, ok := top["properties"].(map[string]any); ok {
		fields, apiShape = lowerKeys(props), true
		for _, k := range []string{"name", "id"} {
			if v, ok := top[k]; ok {
				fields["api."+k] = v
			}
		}
	}
	known := map[string]bool{"id": true, "name": true, "rolename": true, "description": true, "assignablescopes": true, "permissions": true,
		"actions": true, "notactions": true, "dataactions": true, "notdataactions": true, "type": true, "iscustom": true,
		"createdon": true, "updatedon": true, "createdby": true, "updatedby": true, "api.name": true, "api.id": true}
	for k := range fields {
		if !known[k] {
			return nil, fmt.Errorf("unknown key %q: a role definition has Name, Description, Actions, NotActions, DataActions, NotDataActions, AssignableScopes and optionally Id", k)
		}
	}
	str := func(key string) (string, error) {
		v, ok := fields[key]
		if !ok || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%q must be a string", strings.TrimPrefix(key, "api."))
		}
		return strings.TrimSpace(s), nil
	}
	in := &roleDefinitionInput{}
	var err error
	name, err := str("name")
	if err != nil {
		return nil, err
	}
	if in.roleName, err = str("rolename"); err != nil {
		return nil, err
	}
	if in.description, err = str("description"); err != nil {
		return nil, err
	}
	if in.typ, err = str("type"); err != nil {
		return nil, err
	}
	id, err := str("id")
	if err != nil {
		return nil, err
	}
	if apiShape {
		if name, err = str("api.name"); err != nil {
			return nil, err
		}
		if id == "" {
			if id, err = str("api.id"); err != nil {
				return nil, err
			}
		}
	}
	switch {
	case in.roleName == "":
		in.roleName = name
	case isGUID(name) && id == "":
		id = name
	}
	if id != "" {
		if in.guid = lastSegment(id); !isGUID(in.guid) {
			return nil, fmt.Errorf("\"Id\" must be a GUID or a role definition id, got %q", id)
		}
	} else {
		in.guid = uuid.NewString()
	}
	if in.roleName == "" {
		return nil, fmt.Errorf("the role needs a name: \"Name\": \"...\"")
	}
	if in.scopes, err = stringList(fields, "assignablescopes"); err != nil {
		return nil, err
	}
	if len(in.scopes) == 0 {
		return nil, fmt.Errorf("the role needs \"AssignableScopes\": where it may be assigned, such as [\"/subscriptions/ID\"]")
	}
	if !strings.HasPrefix(in.scopes[0], "/") {
		return nil, fmt.Errorf("\"AssignableScopes\" are resource ids such as /subscriptions/ID, got %q", in.scopes[0])
	}
	block := map[string][]string{}
	flat := false
	for _, k := range permissionKeys {
		l, err := stringList(fields, strings.ToLower(k))
		if err != nil {
			return nil, err
		}
		_, given := fields[strings.ToLower(k)]
		flat = flat || given
		block[k] = l
	}
	blocks, hasBlocks := fields["permissions"].([]any)
	switch {
	case hasBlocks && flat:
		return nil, fmt.Errorf("give either \"Actions\", \"NotActions\", ... or \"Permissions\", not both")
	case hasBlocks:
		for i, raw := range blocks {
			obj, ok := raw.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("\"Permissions\"[%d] must be an object", i)
			}
			obj = lowerKeys(obj)
			pb := map[string][]string{}
			for _, k := range permissionKeys {
				if pb[k], err = stringList(obj, strings.ToLower(k)); err != nil {
					return nil, err
				}
			}
			in.permissions = append(in.permissions, pb)
		}
	default:
		in.permissions = []map[string][]string{block}
	}
	return in, nil
}

// body is the role definition's PUT body.
func (in *roleDefinitionInput) body() map[string]any {
	typ := in.typ
	if typ == "" {
		typ = "CustomRole"
	}
	return map[string]any{"properties": map[string]any{
		"roleName": in.roleName, "description": in.description, "type": typ,
		"permissions": in.permissions, "assignableScopes": in.scopes,
	}}
}

// lowerKeys is m with its keys in lower case.
func lowerKeys(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// stringList reads m[key] as a list of strings (empty, never nil, when absent).
func stringList(m map[string]any, key string) ([]string, error) {
	out := []string{}
	v, ok := m[key]
	if !ok || v == nil {
		return out, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%q must be a list of strings", key)
	}
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("%q must be a list of strings", key)
		}
		out = append(out, s)
	}
	return out, nil
}

func roleDefinitionDelete(g *globals) *cobra.Command {
	var s scopeRef
	var name string
	cmd := &cobra.Command{
		Use:   "delete --name NAME|GUID [--scope SCOPE]",
		Short: "Delete a custom role, as 'az role definition delete' does",
		Long: `Delete a custom role, by name or GUID, found at the scope (the subscription by default).
The server refuses built-in roles, and roles still assigned (delete their assignments
first).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := nonEmpty("name", name); err != nil {
				return err
			}
			if err := s.check(); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			scope := s.resolve(c)
			guids := []string{name}
			if !isGUID(name) {
				defs, _, err := c.listRoleDefinitions(scope, "roleName eq "+odataString(name))
				if err != nil {
					return err
				}
				if len(defs) == 0 {
					return &serverError{msg: fmt.Sprintf("Role definition '%s' doesn't exist at %s.", name, scope)}
				}
				guids = guids[:0]
				for _, d := range defs {
					guids = append(guids, d.Name)
				}
			}
			for _, guid := range guids {
				r, err := c.call(http.MethodDelete, authorizationPath(scope, "roleDefinitions", guid, ""), nil, nil)
				if err != nil {
					return err
				}
				if r.Status == http.StatusNoContent {
					fmt.Fprintf(g.stderr, "no role definition %s: nothing to delete\n", guid)
					continue
				}
				fmt.Fprintf(g.stderr, "deleted role definition %s\n", guid)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "the role's name or GUID")
	s.flags(cmd, "where the role is found")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}
