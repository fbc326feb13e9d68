package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/dataplane"
	"github.com/privlink/privlink/internal/providers/kusto"
	"github.com/privlink/privlink/internal/resource"
)

// idParam reads the query parameter name as a resource id and checks
// that the caller may do action on it, as the API would.
func (s *Server) idParam(w http.ResponseWriter, r *http.Request, name, action string) (arm.ResourceID, bool) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		writeARMError(w, arm.Errorf(arm.CodeBadRequest, "Give the query parameter '%s' (a resource id).", name))
		return arm.ResourceID{}, false
	}
	id, aerr := arm.ParseResourceID(raw)
	if aerr != nil {
		writeARMError(w, aerr)
		return arm.ResourceID{}, false
	}
	if err := s.Engine.CheckSubscription(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return arm.ResourceID{}, false
	}
	if action == "" {
		action = id.Type() + "/read"
	}
	req := &resource.Request{Method: r.Method, Principal: principalOf(r), Header: r.Header}
	if err := s.Engine.Authorize(r.Context(), req, action, id); err != nil {
		s.writeError(w, r, err)
		return arm.ResourceID{}, false
	}
	return id, true
}

// noDataPlane answers a data path request this process cannot serve
// itself: it forwards it to the replica that runs the data path, or
// answers that none does. It reports whether it answered.
func (s *Server) noDataPlane(w http.ResponseWriter, r *http.Request) (*dataplane.Plane, bool) {
	if p := s.dataPlane(); p != nil {
		return p, false
	}
	if s.DataPlaneAt == nil {
		writeARMError(w, arm.Errorf(arm.CodeBadRequest, "This server runs no data path."))
		return nil, true
	}
	at, err := s.DataPlaneAt(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return nil, true
	}
	if at == "" || r.Header.Get(forwardedHeader) != "" {
		writeARMError(w, &arm.Error{Code: arm.CodeServiceUnavailable, Message: "No replica runs the data path at the moment (one takes it over within seconds of the last one stopping). Please retry the request later."})
		return nil, true
	}
	u, err := url.Parse(at)
	if err != nil {
		s.writeError(w, r, err)
		return nil, true
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			// One hop only: a replica that lost the data path meanwhile
			// answers 503 instead of forwarding again.
			pr.Out.Header.Set(forwardedHeader, "1")
		},
		Transport: s.Forward,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeARMError(w, &arm.Error{Code: arm.CodeServiceUnavailable, Message: "The replica that runs the data path cannot be reached: " + err.Error() + ". Please retry the request later."})
		},
	}
	rp.ServeHTTP(w, r)
	return nil, true
}

// forwardedHeader marks a data path request one replica forwarded to another.
const forwardedHeader = "X-Privlink-Forwarded"

// network serves GET /_privlink/network?cluster={id} (the cluster's
// managed network: egress, DNS server, its endpoints' addresses and
// customDnsConfigs) or ?id={managed private endpoint id} (one endpoint's).
// Reading needs the read permission the Kusto API asks for the same thing.
func (s *Server) network(w http.ResponseWriter, r *http.Request) {
	dp, done := s.noDataPlane(w, r)
	if done {
		return
	}
	dp.Settle()
	if r.URL.Query().Get("id") != "" {
		id, ok := s.idParam(w, r, "id", kusto.EndpointType+"/read")
		if !ok {
			return
		}
		n, err := dp.EndpointNetworkOf(id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, n)
		return
	}
	id, ok := s.idParam(w, r, "cluster", kusto.ClusterType+"/read")
	if !ok {
		return
	}
	n, err := dp.Network(id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

// decide serves GET /_privlink/network/decide?cluster={id}&host={name}&port={n}:
// what the cluster's egress would do with a connection to host:port and
// why, and what the name resolves to from the cluster (diagnose's checks).
func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	dp, done := s.noDataPlane(w, r)
	if done {
		return
	}
	dp.Settle()
	id, ok := s.idParam(w, r, "cluster", kusto.ClusterType+"/read")
	if !ok {
		return
	}
	if _, err := dp.Network(id); err != nil {
		s.writeError(w, r, err)
		return
	}
	host := r.URL.Query().Get("host")
	if host == "" {
		writeARMError(w, arm.Errorf(arm.CodeBadRequest, "Give the query parameter 'host' (a host name)."))
		return
	}
	port := 443
	if ps := r.URL.Query().Get("port"); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > 65535 {
			writeARMError(w, arm.Errorf(arm.CodeBadRequest, "The port '%s' is not a number from 1 to 65535.", ps))
			return
		}
		port = n
	}
	v := dp.Decide(id.String(), host, port)
	writeJSON(w, http.StatusOK, map[string]any{"decision": v, "dns": dp.Resolve(id.String(), host)})
}

// backends serves GET /_privlink/backends?resource={target id}: the
// services bound to the target's sub-resources ({"value": {groupId: HOST:PORT}}).
func (s *Server) backends(w http.ResponseWriter, r *http.Request) {
	dp, done := s.noDataPlane(w, r)
	if done {
		return
	}
	id, ok := s.idParam(w, r, "resource", "")
	if !ok {
		return
	}
	b, err := dp.Backends(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"resource": id.String(), "value": b})
}

// backendBody is PUT /_privlink/backends's body.
type backendBody struct {
	Resource string `json:"resource"`
	GroupID  string `json:"groupId"`
	To       string `json:"to"`
}

// setBackend serves PUT /_privlink/backends {"resource", "groupId", "to":
// "HOST:PORT"} (bind) and DELETE /_privlink/backends?resource=&groupId=
// (unbind). Either needs the write permission on the target.
func (s *Server) setBackend(w http.ResponseWriter, r *http.Request) {
	dp, done := s.noDataPlane(w, r)
	if done {
		return
	}
	var in backendBody
	if r.Method == http.MethodPut {
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil {
			writeARMError(w, arm.Errorf(arm.CodeBadRequest, "The body must be JSON: {\"resource\": ID, \"groupId\": GROUP, \"to\": \"HOST:PORT\"} (%s).", err.Error()))
			return
		}
		if in.To == "" {
			writeARMError(w, arm.Errorf(arm.CodeBadRequest, "Give 'to' (HOST:PORT of the service); DELETE removes a binding."))
			return
		}
		q := r.URL.Query()
		q.Set("resource", in.Resource)
		r.URL.RawQuery = q.Encode()
	} else {
		in.GroupID = r.URL.Query().Get("groupId")
	}
	raw := r.URL.Query().Get("resource")
	pre, aerr := arm.ParseResourceID(raw)
	if raw == "" || aerr != nil {
		writeARMError(w, arm.Errorf(arm.CodeBadRequest, "Give 'resource': the id of the target resource."))
		return
	}
	id, ok := s.idParam(w, r, "resource", pre.Type()+"/write")
	if !ok {
		return
	}
	if in.GroupID == "" {
		writeARMError(w, arm.Errorf(arm.CodeBadRequest, "Give 'groupId': the sub-resource to bind (blob, dfs, namespace, ...)."))
		return
	}
	if err := dp.SetBackend(r.Context(), id, in.GroupID, in.To); err != nil {
		s.writeError(w, r, err)
		return
	}
	b, err := dp.Backends(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"resource": id.String(), "value": b})
}
