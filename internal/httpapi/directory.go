package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/identity"
)

// The directory endpoints, /_privlink/directory/…, manage privlink's
// tenant: service principals (what az ad sp create-for-rbac makes), users
// and, read-only, managed identities. They stand where Microsoft Graph's
// writes stand in Azure (Graph's reads of principals are graph.go's);
// their errors use Graph's codes in ARM's envelope. Every principal of the tenant
// may read the directory; only its administrator, the default service
// principal, may change it (identity.Administrator).

// graphError is a directory error with its status.
func graphError(w http.ResponseWriter, status int, code, format string, args ...any) {
	writeARMError(w, arm.Errorf(code, format, args...).WithStatus(status))
}

// directoryWriter refuses directory changes to all but the administrator.
func directoryWriter(w http.ResponseWriter, r *http.Request) bool {
	p := principalOf(r)
	if p == nil || !identity.Administrator(p.ObjectID) {
		graphError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation. Only the tenant's administrator, privlink's default service principal, may change the directory.")
		return false
	}
	return true
}

// directoryFailure answers an error of the identity service.
func (s *Server) directoryFailure(w http.ResponseWriter, r *http.Request, what, id string, err error) {
	switch {
	case errors.Is(err, identity.ErrNotFound):
		graphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
	case errors.Is(err, identity.ErrBuiltin):
		graphError(w, http.StatusBadRequest, "Request_BadRequest", "The %s '%s' is one of privlink's default principals, which cannot be deleted.", what, id)
	case errors.Is(err, identity.ErrInvalid):
		graphError(w, http.StatusBadRequest, "Request_BadRequest", "%s", strings.TrimPrefix(err.Error(), identity.ErrInvalid.Error()+": "))
	default:
		s.writeError(w, r, err)
	}
}

// credentialView is a secret as the directory shows it: never its value.
type credentialView struct {
	KeyID         string `json:"keyId"`
	DisplayName   string `json:"displayName,omitempty"`
	Hint          string `json:"hint,omitempty"`
	StartDateTime string `json:"startDateTime"`
	EndDateTime   string `json:"endDateTime,omitempty"`
}

// principalView is a directory object as the directory endpoints list it.
type principalView struct {
	ObjectID            string           `json:"objectId"`
	Type                string           `json:"type"`
	DisplayName         string           `json:"displayName"`
	AppID               string           `json:"appId,omitempty"`
	UserPrincipalName   string           `json:"userPrincipalName,omitempty"`
	ResourceID          string           `json:"resourceId,omitempty"`
	Default             bool             `json:"default,omitempty"`
	PasswordCredentials []credentialView `json:"passwordCredentials,omitempty"`
}

func viewOf(o *identity.DirectoryObject) principalView {
	v := principalView{ObjectID: o.ObjectID, Type: o.Kind, DisplayName: o.DisplayName, AppID: o.AppID,
		UserPrincipalName: o.UserPrincipalName, ResourceID: o.ResourceID, Default: o.Builtin}
	if o.Kind == identity.KindServicePrincipal {
		for _, c := range o.Secrets {
			cv := credentialView{KeyID: c.KeyID, DisplayName: c.DisplayName, Hint: c.Hint, StartDateTime: c.Start.Format(time.RFC3339)}
			if !c.End.IsZero() {
				cv.EndDateTime = c.End.Format(time.RFC3339)
			}
			v.PasswordCredentials = append(v.PasswordCredentials, cv)
		}
	}
	return v
}

// readJSON decodes an optional JSON body into v.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err == nil && len(b) > 0 {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		graphError(w, http.StatusBadRequest, "Request_BadRequest", "The request body is not valid JSON: %v", err)
		return false
	}
	return true
}

// listPrincipals serves GET /_privlink/directory/{servicePrincipals|users|managedIdentities}.
func (s *Server) listPrincipals(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		objs, err := s.Identity.List(r.Context(), kind)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := []principalView{}
		for _, o := range objs {
			out = append(out, viewOf(o))
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": out})
	}
}

// getPrincipal serves GET /_privlink/directory/{kind}/{id}: id is an object
// id, an application id or a user principal name.
func (s *Server) getPrincipal(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		o, err := s.Identity.Find(r.Context(), id, kind)
		if err != nil {
			s.directoryFailure(w, r, "principal", id, err)
			return
		}
		writeJSON(w, http.StatusOK, viewOf(o))
	}
}

// deletePrincipal serves DELETE /_privlink/directory/{servicePrincipals|users}/{id}.
func (s *Server) deletePrincipal(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !directoryWriter(w, r) {
			return
		}
		id := r.PathValue("id")
		if err := s.Identity.DeleteObject(r.Context(), id, kind); err != nil {
			s.directoryFailure(w, r, "principal", id, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// createdServicePrincipal is what creating a service principal answers:
// the JSON az ad sp create-for-rbac prints.
type createdServicePrincipal struct {
	AppID       string `json:"appId"`
	DisplayName string `json:"displayName"`
	Password    string `json:"password"`
	Tenant      string `json:"tenant"`
}

// createServicePrincipal serves POST /_privlink/directory/servicePrincipals
// {"displayName": "..."}.
func (s *Server) createServicePrincipal(w http.ResponseWriter, r *http.Request) {
	if !directoryWriter(w, r) {
		return
	}
	var in struct {
		DisplayName string `json:"displayName"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	o, secret, err := s.Identity.CreateServicePrincipal(r.Context(), in.DisplayName)
	if err != nil {
		s.directoryFailure(w, r, "service principal", in.DisplayName, err)
		return
	}
	writeJSON(w, http.StatusCreated, createdServicePrincipal{AppID: o.AppID, DisplayName: o.DisplayName, Password: secret, Tenant: s.Identity.TenantID})
}

// addPassword serves POST /_privlink/directory/servicePrincipals/{id}/addPassword
// {"displayName": "...", "endDateTime": "RFC 3339"}: a new secret beside
// the others, answered as az ad sp credential reset --append prints it.
func (s *Server) addPassword(w http.ResponseWriter, r *http.Request) {
	if !directoryWriter(w, r) {
		return
	}
	var in struct {
		DisplayName string    `json:"displayName"`
		EndDateTime time.Time `json:"endDateTime"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	id := r.PathValue("id")
	o, secret, err := s.Identity.AddSecret(r.Context(), id, in.DisplayName, in.EndDateTime)
	if err != nil {
		s.directoryFailure(w, r, "service principal", id, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"appId": o.AppID, "password": secret, "tenant": s.Identity.TenantID})
}

// createUser serves POST /_privlink/directory/users {"userPrincipalName" or
// "name", "displayName", "password"}: the password is generated (and
// answered once) when none is given.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	if !directoryWriter(w, r) {
		return
	}
	var in struct {
		Name              string `json:"name"`
		UserPrincipalName string `json:"userPrincipalName"`
		DisplayName       string `json:"displayName"`
		Password          string `json:"password"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	name := in.UserPrincipalName
	if name == "" {
		name = in.Name
	}
	o, generated, err := s.Identity.CreateUser(r.Context(), name, in.DisplayName, in.Password)
	if err != nil {
		s.directoryFailure(w, r, "user", name, err)
		return
	}
	out := map[string]string{"id": o.ObjectID, "displayName": o.DisplayName, "userPrincipalName": o.UserPrincipalName}
	if generated != "" {
		out["password"] = generated
	}
	writeJSON(w, http.StatusCreated, out)
}
