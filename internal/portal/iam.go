package portal

// The Access control (IAM) blade, as the Azure portal's: the role
// assignments at and above a scope (inherited ones marked and linked to
// where they were made), adding one in a pane with a review step, removing
// one after a confirmation, and the roles that apply at the scope. It is
// how a person grants the approval right (a role holding
// .../privateEndpointConnectionsApproval/action on a target) that makes
// managed private endpoints to the target approved at once.
//
// Decisions:
//   - The Role select of the add pane shows the common roles first (those a
//     person reaches for in Azure, and the ones of the private link targets),
//     then the custom roles, then the other built-in roles, each group in an
//     optgroup; a "Search roles" box narrows it on the server as one types
//     (htmx), since 928 built-in roles are too many to scroll. A role chosen
//     stays in the list whatever the search.
//   - Add and remove are never disabled in advance: the permissions API
//     tells the page when the person's roles here lack
//     Microsoft.Authorization/roleAssignments/write (or delete), which it
//     says above the table, and the API's refusal (AuthorizationFailed) is
//     what the pane shows if they try anyway: the API decides, the portal
//     explains.
//   - Writes are plain HTML forms (they work without script) that answer
//     with a redirect to the blade on success (so a reload does not repeat
//     them) and with the pane again, the problem next to the button that
//     caused it, on failure. The assignment's name (a new GUID) is chosen at
//     the review step and carried to Assign, so a second click of Assign is
//     the same PUT, not a second assignment.
//   - Built-in role definitions never change while privlink runs: their
//     names are read through the API once and kept; custom roles are read
//     on each page.

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/authz"
)

func init() {
	extraBlades = append(extraBlades, func(p *Portal) {
		p.blades["iam"] = blade{title: "Access control (IAM)", applies: iamApplies, get: p.iamGet, post: p.iamPost}
	})
}

// iamVersion is the api-version of Microsoft.Authorization the blade uses.
const iamVersion = "2022-04-01"

// Actions the blade checks in the caller's permissions.
const (
	iamWriteAction  = "Microsoft.Authorization/roleAssignments/write"
	iamDeleteAction = "Microsoft.Authorization/roleAssignments/delete"
)

// iamApplies: every scope but the tenant root (which has no page of its
// own) and Microsoft.Authorization's own documents.
func iamApplies(id arm.ResourceID) bool {
	return !id.IsRoot() && !id.IsProvider() && !strings.HasPrefix(id.TypeKey(), "microsoft.authorization/")
}

// iamCommonRoles are offered first in the Role select, in this order: the
// general roles, the access administrators, and those of networking and of
// the private link targets.
var iamCommonRoles = []string{
	"Owner", "Contributor", "Reader", "User Access Administrator", "Role Based Access Control Administrator",
	"Network Contributor", "Private DNS Zone Contributor",
	"Storage Account Contributor", "Storage Blob Data Owner", "Storage Blob Data Contributor", "Storage Blob Data Reader",
	"Azure Event Hubs Data Owner", "Key Vault Contributor", "Key Vault Administrator", "SQL Server Contributor",
	"IoT Hub Data Contributor", "Azure Digital Twins Data Owner", "Managed Identity Operator",
}

// iamRole is a role definition as the blade shows it.
type iamRole struct {
	// ID is the definition's id in the form of the scope shown, GUID its name.
	ID, GUID string
	Name     string
	// Type is BuiltInRole or CustomRole.
	Type        string
	Description string
	// Selected: the role chosen in the add pane.
	Selected bool
}

// Custom reports whether the role is a custom one.
func (r iamRole) Custom() bool { return strings.EqualFold(r.Type, "CustomRole") }

// iamPrincipal is a principal of the directory as the blade shows it.
type iamPrincipal struct {
	ObjectID string
	// Name is the display name ("Unknown" for a principal that is gone),
	// Detail the user principal name or application id.
	Name, Detail string
	// Kind is the directory's (User, ServicePrincipal, ManagedIdentity),
	// KindLabel the words for it.
	Kind, KindLabel string
	// Missing: the principal no longer exists.
	Missing bool
	// Selected: the member chosen in the add pane.
	Selected bool
}

// PrincipalType is the principalType a role assignment gives the principal.
func (p iamPrincipal) PrincipalType() string {
	if p.Kind == "User" {
		return "User"
	}
	return "ServicePrincipal"
}

// iamAssignment is a line of the role assignments table.
type iamAssignment struct {
	ID, Name    string
	Principal   iamPrincipal
	Role        iamRole
	Scope       string
	Description string
	// Here: made at the scope shown (removable here); else inherited from
	// Scope, whose blade is ScopeHref ("" for the tenant root).
	Here      bool
	ScopeHref string
	// ScopeWords names Scope in a sentence ("the subscription").
	ScopeWords string
}

// iamProblem is an API refusal in plain words, with its code and answer.
type iamProblem struct{ Text, Code, JSON string }

// iamBlock is a permission block of the permissions API.
type iamBlock struct {
	Actions    []string `json:"actions"`
	NotActions []string `json:"notActions"`
}

// iamPage is the blade's data.
type iamPage struct {
	Scope string
	// Blade is the blade's URL; Tab "assignments", "roles" or "add".
	Blade, Tab string
	// ScopeWords names the scope shown ("this resource group").
	ScopeWords string

	Assignments []iamAssignment
	// ListProblem is why the assignments could not be listed.
	ListProblem *iamProblem
	// Mine are the caller's assignments at and above the scope.
	Mine []iamAssignment
	// Permissions are the caller's permission blocks here; PermsKnown
	// when the permissions API answered, CanWrite/CanDelete what they
	// allow of role assignments.
	Permissions         []iamBlock
	PermsKnown          bool
	CanWrite, CanDelete bool
	Confirm             *iamAssignment
	// Focus names the assignment whose Remove button takes the focus (back
	// from a cancelled removal).
	Focus                string
	ConfirmProblem       *iamProblem
	RolesFilter, RolesOf string
	Roles                []iamRole
	RolesProblem         *iamProblem
	Add                  *iamAddForm
}

// iamAddForm is the Add role assignment pane.
type iamAddForm struct {
	// Step is "edit" or "review".
	Step string
	// The fields: the role search, the role's definition id, the kind of
	// principal offered ("principals" or "identities"), the member's object
	// id, the description and the new assignment's name.
	Q, Role, Access, Member, Description, Name string

	Common, Custom, Other []iamRole
	// RoleCount is how many roles the select offers.
	RoleCount int
	Members   []iamMemberGroup

	RoleError, MemberError string
	// Chosen role and member, for the review step.
	ChosenRole   iamRole
	ChosenMember iamPrincipal
	Problem      *iamProblem
	LoadProblem  *iamProblem
}

// iamMemberGroup is an optgroup of the Members select.
type iamMemberGroup struct {
	Label   string
	Members []iamPrincipal
}

// iamProblemOf says what an API refusal of the blade's calls means, in
// plain words first, with the code and the API's answer kept for the
// details.
func iamProblemOf(err error) *iamProblem {
	if err == nil {
		return nil
	}
	e, ok := err.(*APIError)
	if !ok {
		return &iamProblem{Text: err.Error()}
	}
	lead := ""
	switch e.Code {
	case "AuthorizationFailed":
		lead = "You do not have permission to do this here: your roles at this scope do not allow changing role assignments (an Owner, User Access Administrator or Role Based Access Control Administrator may)."
	case "RoleAssignmentExists":
		lead = "This member already has this role at this scope; there is nothing to add."
	case "RoleDefinitionDoesNotExist":
		lead = "This role cannot be assigned here: it does not exist, or it is a custom role whose assignable scopes do not include this scope."
	case "PrincipalNotFound":
		lead = "This member no longer exists in the directory."
	case "RoleAssignmentNotFound":
		lead = "This role assignment is not there any more."
	}
	if lead == "" {
		return &iamProblem{Text: plain(err), Code: e.Code, JSON: e.Raw}
	}
	return &iamProblem{Text: lead + " " + e.Message, Code: e.Code, JSON: e.Raw}
}

// iamStatus is the HTTP status of a failed API call.
func iamStatus(err error) int {
	if e, ok := err.(*APIError); ok {
		return e.Status
	}
	return http.StatusInternalServerError
}

// iamKindLabel is a directory kind (or a role assignment's principalType)
// in words.
func iamKindLabel(kind string) string {
	switch strings.ToLower(kind) {
	case "user":
		return "User"
	case "serviceprincipal":
		return "Service principal"
	case "managedidentity":
		return "Managed identity"
	case "group":
		return "Group"
	}
	return "Unknown"
}

// iamDirectoryEntry is a principal as the directory endpoints show it.
type iamDirectoryEntry struct {
	ObjectID          string `json:"objectId"`
	Type              string `json:"type"`
	DisplayName       string `json:"displayName"`
	AppID             string `json:"appId"`
	UserPrincipalName string `json:"userPrincipalName"`
	ResourceID        string `json:"resourceId"`
}

func (d iamDirectoryEntry) principal() iamPrincipal {
	p := iamPrincipal{ObjectID: d.ObjectID, Name: d.DisplayName, Kind: d.Type, KindLabel: iamKindLabel(d.Type)}
	switch d.Type {
	case "User":
		p.Detail = d.UserPrincipalName
		if p.Name == "" {
			p.Name = d.UserPrincipalName
		}
	case "ServicePrincipal":
		p.Detail = d.AppID
		if p.Name == "" {
			p.Name = d.AppID
		}
	default:
		if p.Name == "" {
			p.Name = d.ObjectID
		}
	}
	return p
}

// principal looks a principal up in the directory; one that is gone is
// "Unknown", as the Azure portal shows it.
func (c *reqCtx) iamPrincipal(objectID, principalType string) iamPrincipal {
	var d iamDirectoryEntry
	if err := c.api.get("/_privlink/directory/principals/"+url.PathEscape(objectID), &d); err != nil {
		return iamPrincipal{ObjectID: objectID, Name: "Unknown", Detail: objectID, Kind: principalType, KindLabel: "Unknown", Missing: true}
	}
	return d.principal()
}

// iamDirectory lists the directory's principals of one of the Members
// select's kinds ("principals": users and service principals;
// "identities": managed identities).
func (c *reqCtx) iamDirectory(access string) ([]iamMemberGroup, error) {
	kinds := []struct{ path, label string }{{"users", "Users"}, {"servicePrincipals", "Service principals"}}
	if access == "identities" {
		kinds = []struct{ path, label string }{{"managedIdentities", "Managed identities"}}
	}
	var out []iamMemberGroup
	for _, k := range kinds {
		var list struct {
			Value []iamDirectoryEntry `json:"value"`
		}
		if err := c.api.get("/_privlink/directory/"+k.path, &list); err != nil {
			return nil, err
		}
		g := iamMemberGroup{Label: k.label}
		for _, d := range list.Value {
			g.Members = append(g.Members, d.principal())
		}
		sort.Slice(g.Members, func(i, j int) bool {
			return strings.ToLower(g.Members[i].Name+g.Members[i].Detail) < strings.ToLower(g.Members[j].Name+g.Members[j].Detail)
		})
		out = append(out, g)
	}
	return out, nil
}

// iamDefinitionID is the id of role definition guid in the form of scope.
func iamDefinitionID(scope arm.ResourceID, guid string) string {
	prefix := ""
	if sub := scope.SubscriptionID(); sub != "" {
		prefix = "/subscriptions/" + sub
	}
	return prefix + "/providers/Microsoft.Authorization/roleDefinitions/" + guid
}

// iamRoleGUID is the GUID of a role definition id.
func iamRoleGUID(id string) string {
	return strings.ToLower(id[strings.LastIndexByte(id, '/')+1:])
}

// iamBuiltinCache keeps the built-in roles (which never change while
// privlink runs) once the API has listed them for someone.
var iamBuiltinCache struct {
	sync.Mutex
	roles []iamRole // ID in the tenant's form
}

// iamDefinitionList lists role definitions: path is the list's URL.
func (c *reqCtx) iamDefinitionList(path string) ([]iamRole, error) {
	items, err := c.api.list(path)
	if err != nil {
		return nil, err
	}
	out := make([]iamRole, 0, len(items))
	for _, it := range items {
		id, _ := it["id"].(string)
		r := iamRole{ID: id, GUID: iamRoleGUID(id)}
		if p, ok := it["properties"].(map[string]any); ok {
			r.Name, _ = p["roleName"].(string)
			r.Type, _ = p["type"].(string)
			r.Description, _ = p["description"].(string)
		}
		out = append(out, r)
	}
	return out, nil
}

// iamRolesAt lists the role definitions that apply at scope, built-in and
// custom, by name.
func (c *reqCtx) iamRolesAt(scope arm.ResourceID) ([]iamRole, error) {
	base := withVersion(scope.String()+"/providers/Microsoft.Authorization/roleDefinitions", iamVersion) + "&$filter="
	iamBuiltinCache.Lock()
	builtins := iamBuiltinCache.roles
	iamBuiltinCache.Unlock()
	if builtins == nil {
		list, err := c.iamDefinitionList(base + url.QueryEscape("type eq 'BuiltInRole'"))
		if err != nil {
			return nil, err
		}
		for i := range list {
			list[i].ID = iamDefinitionID(arm.ResourceID{}, list[i].GUID)
		}
		iamBuiltinCache.Lock()
		iamBuiltinCache.roles = list
		iamBuiltinCache.Unlock()
		builtins = list
	}
	custom, err := c.iamDefinitionList(base + url.QueryEscape("type eq 'CustomRole'"))
	if err != nil {
		return nil, err
	}
	out := make([]iamRole, 0, len(builtins)+len(custom))
	for _, r := range builtins {
		r.ID = iamDefinitionID(scope, r.GUID)
		out = append(out, r)
	}
	out = append(out, custom...)
	sort.SliceStable(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out, nil
}

// iamScopeWords names a scope in a sentence, from where it is seen:
// "the subscription", "the resource group data", "the tenant root".
func iamScopeWords(scope string) string {
	id, err := arm.ParseResourceID(scope)
	switch {
	case err != nil:
		return scope
	case id.IsRoot():
		return "the tenant root"
	case id.IsSubscription():
		return "the subscription"
	case id.IsResourceGroup():
		return "the resource group " + id.Name()
	}
	return "the " + strings.ToLower(typeName(id.Type())) + " " + id.Name()
}

// iamThisWords names the scope shown: "this resource group".
func iamThisWords(id arm.ResourceID) string {
	switch {
	case id.IsSubscription():
		return "this subscription"
	case id.IsResourceGroup():
		return "this resource group"
	}
	return "this resource"
}

// iamAssignments lists the role assignments at and above scope, with their
// principals and roles named.
func (c *reqCtx) iamAssignments(scope arm.ResourceID, roles []iamRole) ([]iamAssignment, error) {
	items, err := c.api.list(withVersion(scope.String()+"/providers/Microsoft.Authorization/roleAssignments", iamVersion) + "&$filter=" + url.QueryEscape("atScope()"))
	if err != nil {
		return nil, err
	}
	byGUID := map[string]iamRole{}
	for _, r := range roles {
		byGUID[r.GUID] = r
	}
	principals := map[string]iamPrincipal{}
	out := make([]iamAssignment, 0, len(items))
	for _, it := range items {
		s := func(k string) string { v, _ := it[k].(string); return v }
		props, _ := it["properties"].(map[string]any)
		ps := func(k string) string { v, _ := props[k].(string); return v }
		a := iamAssignment{ID: s("id"), Name: s("name"), Scope: ps("scope"), Description: ps("description")}
		pid := strings.ToLower(ps("principalId"))
		pr, ok := principals[pid]
		if !ok {
			pr = c.iamPrincipal(pid, ps("principalType"))
			if pr.Missing {
				pr.KindLabel = iamKindLabel(ps("principalType"))
			}
			principals[pid] = pr
		}
		a.Principal = pr
		defID := ps("roleDefinitionId")
		role, ok := byGUID[iamRoleGUID(defID)]
		if !ok {
			// A role the list at this scope does not show (a custom role
			// deleted since): read it where the assignment names it.
			var doc map[string]any
			role = iamRole{ID: defID, GUID: iamRoleGUID(defID), Name: iamRoleGUID(defID) + " (a role definition that is not there any more)"}
			if c.api.get(withVersion(defID, iamVersion), &doc) == nil {
				if p, ok := doc["properties"].(map[string]any); ok {
					role.Name, _ = p["roleName"].(string)
					role.Type, _ = p["type"].(string)
				}
			}
			byGUID[role.GUID] = role
		}
		a.Role = role
		a.Here = strings.EqualFold(strings.TrimSuffix(a.Scope, "/"), scope.String())
		if !a.Here {
			a.ScopeWords = iamScopeWords(a.Scope)
			if sid, err := arm.ParseResourceID(a.Scope); err == nil && iamApplies(sid) {
				a.ScopeHref = resourceURL(sid.String()) + "/iam"
			}
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if !strings.EqualFold(x.Role.Name, y.Role.Name) {
			return strings.ToLower(x.Role.Name) < strings.ToLower(y.Role.Name)
		}
		if x.Principal.Name != y.Principal.Name {
			return strings.ToLower(x.Principal.Name) < strings.ToLower(y.Principal.Name)
		}
		return len(x.Scope) > len(y.Scope)
	})
	return out, nil
}

// iamAllowed reports whether permission blocks grant action.
func iamAllowed(blocks []iamBlock, action string) bool {
	a := strings.ToLower(action)
	for _, b := range blocks {
		p := authz.Permission{Actions: authz.CompileAll(b.Actions), NotActions: authz.CompileAll(b.NotActions)}
		if p.Grants(a) {
			return true
		}
	}
	return false
}

// iamPermissions reads the caller's permissions at scope into d.
func (c *reqCtx) iamPermissions(scope arm.ResourceID, d *iamPage) {
	var list struct {
		Value []iamBlock `json:"value"`
	}
	if c.api.get(withVersion(scope.String()+"/providers/Microsoft.Authorization/permissions", iamVersion), &list) != nil {
		return
	}
	d.Permissions, d.PermsKnown = list.Value, true
	d.CanWrite, d.CanDelete = iamAllowed(list.Value, iamWriteAction), iamAllowed(list.Value, iamDeleteAction)
}

// iamView starts the blade's view: its title names the scope, as the
// Azure portal's "{name} | Access control (IAM)".
func (c *reqCtx) iamView(id arm.ResourceID, d *iamPage) *view {
	name := id.Name()
	if id.IsSubscription() {
		var sub struct {
			DisplayName string `json:"displayName"`
		}
		if c.api.get(withVersion(id.String(), subscriptionsVersion), &sub) == nil && sub.DisplayName != "" {
			name = sub.DisplayName
		}
	}
	return &view{Page: "iam", Title: name + " | Access control (IAM)", Data: d}
}

// MyAccess says which roles the caller holds here and where they come
// from: "Owner (inherited from the subscription)".
func (d *iamPage) MyAccess() string {
	if len(d.Mine) == 0 {
		return "You have no role assignment at or above " + d.ScopeWords + "."
	}
	parts := make([]string, len(d.Mine))
	for i, a := range d.Mine {
		where := "at " + d.ScopeWords
		if !a.Here {
			where = "inherited from " + a.ScopeWords
		}
		parts[i] = a.Role.Name + " (" + where + ")"
	}
	return "You have: " + strings.Join(parts, ", ") + "."
}

// Limits says what the caller's permissions here do not allow of role
// assignments ("" when they allow adding and removing them).
func (d *iamPage) Limits() string {
	switch {
	case !d.PermsKnown || d.CanWrite && d.CanDelete:
		return ""
	case !d.CanWrite && !d.CanDelete:
		return "Your roles at " + d.ScopeWords + " allow neither adding nor removing role assignments (" + iamWriteAction + ", " + iamDeleteAction + "): privlink will refuse them."
	case !d.CanWrite:
		return "Your roles at " + d.ScopeWords + " do not allow adding role assignments (" + iamWriteAction + "): privlink will refuse them."
	}
	return "Your roles at " + d.ScopeWords + " do not allow removing role assignments (" + iamDeleteAction + "): privlink will refuse it."
}

func newIAMPage(id arm.ResourceID, tab string) *iamPage {
	return &iamPage{Scope: id.String(), Blade: resourceURL(id.String()) + "/iam", Tab: tab, ScopeWords: iamThisWords(id)}
}

// iamGet serves the blade: the role assignments (with a removal to
// confirm, ?remove={name}), the roles (?tab=roles) or the add pane
// (?pane=add).
func (p *Portal) iamGet(c *reqCtx, id arm.ResourceID) (*view, error) {
	q := c.r.URL.Query()
	switch {
	case q.Get("pane") == "add":
		f := &iamAddForm{Step: "edit", Q: q.Get("q"), Role: q.Get("role"), Access: q.Get("access"), Member: q.Get("member"), Description: q.Get("description")}
		return c.iamAddPane(id, f), nil
	case q.Get("tab") == "roles":
		return c.iamRolesTab(id, q.Get("filter"), q.Get("type")), nil
	}
	v := c.iamAssignmentsTab(id, q.Get("remove"), nil)
	d := v.Data.(*iamPage)
	d.Focus = q.Get("focus")
	switch {
	case q.Get("added") != "":
		v.Notice = "The role assignment was added."
		for _, a := range d.Assignments {
			if strings.EqualFold(a.Name, q.Get("added")) {
				v.Notice = "Added: " + a.Role.Name + " for " + a.Principal.Name + " at " + d.ScopeWords + "."
			}
		}
	case q.Get("removed") != "":
		v.Notice = "The role assignment was removed."
	}
	return v, nil
}

// iamAssignmentsTab is the Role assignments tab; remove names an
// assignment whose removal is to be confirmed.
func (c *reqCtx) iamAssignmentsTab(id arm.ResourceID, remove string, problem *iamProblem) *view {
	d := newIAMPage(id, "assignments")
	v := c.iamView(id, d)
	c.iamPermissions(id, d)
	roles, err := c.iamRolesAt(id)
	if err != nil {
		// Roles are named by GUID then; the list still says who has access.
		roles = nil
	}
	d.Assignments, err = c.iamAssignments(id, roles)
	if err != nil {
		d.ListProblem = iamProblemOf(err)
	}
	for i, a := range d.Assignments {
		if strings.EqualFold(a.Principal.ObjectID, c.who.ObjectID) {
			d.Mine = append(d.Mine, a)
		}
		if remove != "" && a.Here && strings.EqualFold(a.Name, remove) {
			d.Confirm = &d.Assignments[i]
		}
	}
	if remove != "" && d.Confirm == nil && problem == nil {
		v.Notice = "That role assignment is not there any more, or was not made at " + d.ScopeWords + "."
	}
	d.ConfirmProblem = problem
	return v
}

// iamRolesTab is the Roles tab: the role definitions that apply here,
// narrowed by filter (name or description) and of (BuiltInRole or
// CustomRole).
func (c *reqCtx) iamRolesTab(id arm.ResourceID, filter, of string) *view {
	d := newIAMPage(id, "roles")
	d.RolesFilter, d.RolesOf = filter, of
	v := c.iamView(id, d)
	roles, err := c.iamRolesAt(id)
	if err != nil {
		d.RolesProblem = iamProblemOf(err)
		return v
	}
	f := strings.ToLower(strings.TrimSpace(filter))
	for _, r := range roles {
		if of != "" && !strings.EqualFold(r.Type, of) {
			continue
		}
		if f != "" && !strings.Contains(strings.ToLower(r.Name+" "+r.Description), f) {
			continue
		}
		d.Roles = append(d.Roles, r)
	}
	return v
}

// iamAddPane is the Add role assignment pane, at f's step.
func (c *reqCtx) iamAddPane(id arm.ResourceID, f *iamAddForm) *view {
	d := newIAMPage(id, "add")
	d.Add = f
	v := c.iamView(id, d)
	if f.Access != "identities" {
		f.Access = "principals"
	}
	c.iamPermissions(id, d)
	roles, err := c.iamRolesAt(id)
	if err != nil {
		f.LoadProblem = iamProblemOf(err)
		return v
	}
	iamGroupRoles(f, roles)
	if f.Members, err = c.iamDirectory(f.Access); err != nil {
		f.LoadProblem = iamProblemOf(err)
	}
	for _, g := range f.Members {
		for i := range g.Members {
			g.Members[i].Selected = strings.EqualFold(g.Members[i].ObjectID, f.Member)
		}
	}
	return v
}

// iamGroupRoles fills the Role select's groups: the common roles in their
// order, then custom roles, then the other built-in roles, keeping those
// that match the search f.Q (by name or description) and the role chosen.
func iamGroupRoles(f *iamAddForm, roles []iamRole) {
	q := strings.ToLower(strings.TrimSpace(f.Q))
	common := map[string]int{}
	for i, n := range iamCommonRoles {
		common[strings.ToLower(n)] = i
	}
	f.Common, f.Custom, f.Other = nil, nil, nil
	for _, r := range roles {
		chosen := f.Role != "" && strings.EqualFold(r.GUID, iamRoleGUID(f.Role))
		if q != "" && !chosen && !strings.Contains(strings.ToLower(r.Name+" "+r.Description), q) {
			continue
		}
		r.Selected = chosen
		_, isCommon := common[strings.ToLower(r.Name)]
		switch {
		case isCommon && !r.Custom():
			f.Common = append(f.Common, r)
		case r.Custom():
			f.Custom = append(f.Custom, r)
		default:
			f.Other = append(f.Other, r)
		}
	}
	sort.SliceStable(f.Common, func(i, j int) bool {
		return common[strings.ToLower(f.Common[i].Name)] < common[strings.ToLower(f.Common[j].Name)]
	})
	if q != "" {
		// Roles named with the words before those that only describe them.
		named := func(rs []iamRole) func(i, j int) bool {
			return func(i, j int) bool {
				return strings.Contains(strings.ToLower(rs[i].Name), q) && !strings.Contains(strings.ToLower(rs[j].Name), q)
			}
		}
		sort.SliceStable(f.Custom, named(f.Custom))
		sort.SliceStable(f.Other, named(f.Other))
	}
	f.RoleCount = len(f.Common) + len(f.Custom) + len(f.Other)
}

// iamFindRole finds the role with definition id ref among roles.
func iamFindRole(roles []iamRole, ref string) (iamRole, bool) {
	g := iamRoleGUID(ref)
	for _, r := range roles {
		if r.GUID == g {
			return r, true
		}
	}
	return iamRole{}, false
}

// iamPost changes the scope's role assignments: action "review" (the add
// pane's review step), "edit" (back to the pane's fields), "assign" (create
// the assignment) or "remove" (after the confirmation).
func (p *Portal) iamPost(c *reqCtx, id arm.ResourceID) (*view, error) {
	form := func(k string) string { return strings.TrimSpace(c.r.PostFormValue(k)) }
	blade := resourceURL(id.String()) + "/iam"
	switch form("action") {
	case "remove":
		name := form("name")
		if !guidRe.MatchString(name) {
			return c.iamAssignmentsTab(id, "", nil), nil
		}
		_, err := c.api.do(http.MethodDelete, withVersion(id.String()+"/providers/Microsoft.Authorization/roleAssignments/"+name, iamVersion), nil)
		if err != nil {
			v := c.iamAssignmentsTab(id, name, iamProblemOf(err))
			v.Status = iamStatus(err)
			return v, nil
		}
		return c.redirect(blade + "?removed=1")
	case "review", "edit", "assign":
	default:
		return nil, &APIError{Status: http.StatusBadRequest, Code: "BadRequest", Message: "This page does not know what to do: " + form("action") + "."}
	}
	f := &iamAddForm{Step: "edit", Q: form("q"), Role: form("role"), Access: form("access"), Member: form("member"), Description: form("description"), Name: form("name")}
	v := c.iamAddPane(id, f)
	if form("action") == "edit" || f.LoadProblem != nil {
		return v, nil
	}
	var all []iamRole
	for _, g := range [][]iamRole{f.Common, f.Custom, f.Other} {
		all = append(all, g...)
	}
	role, ok := iamFindRole(all, f.Role)
	if !ok {
		f.RoleError = "Choose a role."
		if f.Role != "" {
			f.RoleError = "That role does not apply here; choose another."
		}
	}
	var member iamPrincipal
	if f.Member == "" || !guidRe.MatchString(f.Member) {
		f.MemberError = "Choose a member."
	} else if member = c.iamPrincipal(f.Member, ""); member.Missing {
		f.MemberError = "That member is not in the directory any more; choose another."
	}
	if f.RoleError != "" || f.MemberError != "" {
		v.Status = http.StatusUnprocessableEntity
		return v, nil
	}
	f.Step, f.ChosenRole, f.ChosenMember = "review", role, member
	if !guidRe.MatchString(f.Name) {
		f.Name = uuid.NewString()
	}
	if form("action") == "review" {
		return v, nil
	}
	props := map[string]any{"roleDefinitionId": role.ID, "principalId": member.ObjectID, "principalType": member.PrincipalType()}
	if f.Description != "" {
		props["description"] = f.Description
	}
	_, err := c.api.do(http.MethodPut, withVersion(id.String()+"/providers/Microsoft.Authorization/roleAssignments/"+f.Name, iamVersion), map[string]any{"properties": props})
	if err != nil {
		f.Problem = iamProblemOf(err)
		v.Status = iamStatus(err)
		return v, nil
	}
	return c.redirect(blade + "?added=" + url.QueryEscape(f.Name))
}
