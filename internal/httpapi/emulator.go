package httpapi

import (
	"net"
	"net/http"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/authz"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/providers/kusto"
	"github.com/privlink/privlink/internal/resource"
)

// health answers 200 once the server is ready, 503 before.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		return
	}
	if s.Check != nil {
		if err := s.Check(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "failing", "reason": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Info describes a running server to local tools. It holds no secret: the
// data directory's path, not its content.
type Info struct {
	// DataDir is the absolute data directory.
	DataDir string `json:"dataDir"`
	// CAFile is the PEM file of the CA that signs the server's certificates.
	CAFile string `json:"caFile"`
	// ProxyURL is the transparent proxy, as HTTPS_PROXY takes it.
	ProxyURL string `json:"proxyUrl"`
	// PublicHosts are the Azure host names the proxy serves.
	PublicHosts []string `json:"publicHosts"`
	// Replica is set when the server is one of several replicas sharing a
	// store (PostgreSQL): its CA and secrets are in that store, and its
	// data directory is its own. It names the replica.
	Replica string `json:"replica,omitempty"`
}

// info serves GET /_privlink/info without authentication: 'privlink env'
// reads it (over a connection it does not trust yet) to find the server's
// data directory, then checks that the CA there signed the server's
// certificate before using it.
func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	i := s.Info
	if r.TLS != nil && r.Host != "" && !identity.PublicHost(r.Host) {
		// The proxy is on the HTTPS port the client reached: behind a
		// load balancer, the balancer's, not this replica's own. (The
		// plain HTTP listener, --http-addr, has no proxy.)
		hostport := r.Host
		if _, _, err := net.SplitHostPort(hostport); err != nil {
			hostport = net.JoinHostPort(strings.Trim(hostport, "[]"), "443")
		}
		i.ProxyURL = "http://" + hostport
	}
	writeJSON(w, http.StatusOK, i)
}

// endpointStates serves GET /_privlink/endpoints?cluster={id} or ?id={id}:
// the connection state of managed private endpoints, which the Kusto API
// does not show, with notes for people (the CLI prints them). It shows what
// the caller may read of the endpoints through the Kusto API, and refuses
// as the API does.
func (s *Server) endpointStates(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := &resource.Request{Method: http.MethodGet, Principal: principalOf(r), Header: r.Header}
	read := kusto.EndpointType + "/read"
	switch {
	case q.Get("id") != "":
		id, aerr := arm.ParseResourceID(q.Get("id"))
		if aerr != nil {
			writeARMError(w, aerr)
			return
		}
		if err := s.Engine.CheckSubscription(r.Context(), id); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.Engine.Authorize(r.Context(), req, read, id); err != nil {
			s.writeError(w, r, err)
			return
		}
		st, err := kusto.Endpoint(r.Context(), s.Engine, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	case q.Get("cluster") != "":
		id, aerr := arm.ParseResourceID(q.Get("cluster"))
		if aerr != nil {
			writeARMError(w, aerr)
			return
		}
		// As the API's list: all of them to a caller that may read them at
		// the cluster, those it may read one by one to one with access
		// below it, a refusal to one with none.
		if err := s.Engine.CheckSubscription(r.Context(), id); err != nil {
			s.writeError(w, r, err)
			return
		}
		whole := s.Engine.Authorize(r.Context(), req, read, id)
		if whole != nil && s.Engine.Reach(r.Context(), req, id)&authz.Below == 0 {
			s.writeError(w, r, whole)
			return
		}
		all, err := kusto.Endpoints(r.Context(), s.Engine, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		sts := []kusto.EndpointState{}
		for _, st := range all {
			eid, aerr := arm.ParseResourceID(st.ID)
			if whole == nil || (aerr == nil && s.Engine.Authorize(r.Context(), req, read, eid) == nil) {
				sts = append(sts, st)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": sts})
	default:
		writeARMError(w, arm.Errorf(arm.CodeBadRequest, "Give the query parameter 'id' (a managed private endpoint id) or 'cluster' (a cluster id)."))
	}
}

// metadata serves GET /metadata/endpoints: this cloud's endpoints. ARM's
// own answer changed shape twice: one cloud object before api-version
// 2020-06-01, a list of clouds from 2020-06-01, and one object again from
// 2022-09-01 (Azure PowerShell's ArmMetadata and go-azure-sdk, which
// Terraform's azurerm uses, read that object).
//
// Reached at privlink's own address it describes the custom cloud whose
// login endpoint and Resource Manager are privlink (tokens for that address
// are accepted too); reached at management.azure.com through the transparent
// proxy it describes Azure's public cloud, as ARM there does.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	base := identity.BaseURL(r)
	name, portal, login := "privlink", base, base+"/"
	audiences := []string{"https://management.core.windows.net/", "https://management.azure.com/", base + "/"}
	if identity.PublicHost(r.Host) {
		name, portal, login = "AzureCloud", "https://portal.azure.com", "https://login.microsoftonline.com"
		audiences = audiences[:2]
		base = "https://management.azure.com"
	}
	cloud := map[string]any{
		"name":   name,
		"portal": portal,
		"authentication": map[string]any{
			"loginEndpoint":    login,
			"audiences":        audiences,
			"tenant":           "common",
			"identityProvider": "AAD",
		},
		"resourceManager":          base + "/",
		"media":                    "https://rest.media.azure.net",
		"graphAudience":            "https://graph.windows.net/",
		"graph":                    "https://graph.windows.net/",
		"batch":                    "https://batch.core.windows.net/",
		"sqlManagement":            "https://management.core.windows.net:8443/",
		"microsoftGraphResourceId": "https://graph.microsoft.com/",
		"appInsightsResourceId":    "https://api.applicationinsights.io",
		"logAnalyticsResourceId":   "https://api.loganalytics.io",
		"activeDirectoryDataLake":  "https://datalake.azure.net/",
		"vmImageAliasDoc":          "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/main/arm-compute/quickstart-templates/aliases.json",
		"suffixes": map[string]string{
			"storage": "core.windows.net", "keyVaultDns": "vault.azure.net", "sqlServerHostname": "database.windows.net",
			"acrLoginServer": "azurecr.io", "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
			"azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net", "mhsmDns": "managedhsm.azure.net",
			"mysqlServerEndpoint": "mysql.database.azure.com", "postgresqlServerEndpoint": "postgres.database.azure.com",
			"synapseAnalytics": "dev.azuresynapse.net", "attestationEndpoint": "attest.azure.net",
		},
	}
	if v := r.URL.Query().Get("api-version"); v >= "2020-06-01" && v < "2022-09-01" {
		writeJSON(w, http.StatusOK, []any{cloud})
		return
	}
	writeJSON(w, http.StatusOK, cloud)
}
