package deploy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/resource"
)

// runtime is a plan.Runtime: reference() and list*() answered by the
// resource engine as the deploying principal, as if the client had sent them.
type runtime struct {
	ctx       context.Context
	e         *resource.Engine
	principal *arm.Principal
	baseURL   string
	// versions are the api-versions the template declares, by resource key,
	// for reference() without one.
	versions map[string]string
	secrets  SecretFunc
}

// call sends one request through the engine; an ARM error answer comes back
// as the error.
func (rt *runtime) call(method, id, apiVersion string, body []byte) (*resource.Response, error) {
	p, aerr := arm.ParsePath(id)
	if aerr != nil {
		return nil, aerr
	}
	q := url.Values{"api-version": {apiVersion}}
	return rt.e.Serve(rt.ctx, &resource.Request{
		Method: method, Path: p, Query: q, APIVersion: apiVersion, Body: body,
		Header: http.Header{}, BaseURL: rt.baseURL, Principal: rt.principal,
	})
}

// apiVersion picks the api-version of a request on id: the given one, the
// template's for that resource, or the newest the engine accepts.
func (rt *runtime) apiVersion(id, given string) string {
	if given != "" {
		return given
	}
	rid, aerr := arm.ParseResourceID(id)
	if aerr != nil {
		return ""
	}
	if v := rt.versions[rid.Key()]; v != "" {
		return v
	}
	if k := rt.e.Kind(rid.Type()); k != nil && len(k.APIVersions) > 0 {
		return resource.Newest(k.APIVersions)[0]
	}
	if vs := catalog.Versions(rid.Type()); len(vs) > 0 {
		return vs[len(vs)-1]
	}
	return ""
}

// Reference answers reference(id[, apiVersion]): the resource's GET body.
func (rt *runtime) Reference(id, apiVersion string) (json.RawMessage, error) {
	resp, err := rt.call(http.MethodGet, id, rt.apiVersion(id, apiVersion), nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Invoke answers list*(id, apiVersion[, body]): a POST of the action.
func (rt *runtime) Invoke(id, action, apiVersion string, body json.RawMessage) (json.RawMessage, error) {
	resp, err := rt.call(http.MethodPost, strings.TrimSuffix(id, "/")+"/"+action, rt.apiVersion(id, apiVersion), body)
	if err != nil {
		return nil, err
	}
	if resp.Body == nil {
		return json.RawMessage("{}"), nil
	}
	return resp.Body, nil
}

// Secret reads a Key Vault secret's value for a parameter reference,
// through the engine's Config.Secrets (the keyvault provider).
func (rt *runtime) Secret(vaultID, name, version string) (string, error) {
	if rt.secrets == nil {
		return "", arm.Errorf(arm.CodeInvalidTemplateDeployment, "Key Vault references are not served here.")
	}
	var value string
	err := rt.e.View(rt.ctx, func(c *resource.Ctx) error {
		var err error
		value, err = rt.secrets(c, vaultID, name, version)
		return err
	})
	if ae := arm.AsError(err); ae != nil && ae.Code == arm.CodeResourceNotFound {
		return "", arm.Errorf(arm.CodeKeyVaultSecretRetrieveFailed, "A Key Vault reference of the deployment's parameters could not be read: %s", ae.Message)
	}
	return value, err
}

// await waits until the asynchronous operation a write answered with has
// ended, and returns its error when it did not succeed.
func (rt *runtime) await(resp *resource.Response) error {
	opID := operationID(resp.Header)
	if opID == "" {
		return nil
	}
	ops := rt.e.Operations()
	for {
		op, d, err := ops.Get(rt.ctx, opID)
		if resource.IsNotFound(err) {
			return nil // swept long after it ended
		}
		if err != nil {
			return err
		}
		switch op.Status {
		case arm.StateSucceeded:
			return nil
		case arm.StateRunning:
			ops.Await(rt.ctx, opID, 5*time.Second)
			if err := rt.ctx.Err(); err != nil {
				return err
			}
			continue
		}
		if d.Error != nil {
			return d.Error
		}
		return arm.Errorf(arm.CodeConflict, "The operation ended with status '%s'.", op.Status)
	}
}

// operationID is the id of the operation a response's polling headers name
// (the last path segment of Azure-AsyncOperation, else of Location).
func operationID(h http.Header) string {
	for _, k := range []string{"Azure-AsyncOperation", "Location"} {
		if v := h.Get(k); v != "" {
			u, err := url.Parse(v)
			if err != nil {
				continue
			}
			p := strings.TrimSuffix(u.Path, "/")
			return p[strings.LastIndexByte(p, '/')+1:]
		}
	}
	return ""
}
