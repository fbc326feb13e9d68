package portal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/identity"
)

// view is what a page renders.
type view struct {
	// Page names the template (templates/{Page}.html).
	Page string
	// Title is the page's heading and the window's title.
	Title string
	// Subtitle is the kind of thing shown ("Kusto cluster").
	Subtitle string
	// Crumbs lead from Home to the page.
	Crumbs []crumb
	// Menu is a resource's menu (nil elsewhere); Active is the blade shown.
	Menu   []menuItem
	Active string
	// Fragment renders only the template named so (an htmx request).
	Fragment string
	// Data is the page's own.
	Data any
	// Notice is a message for the person, Problem an error in plain words
	// and ProblemJSON the API's answer behind it.
	Notice, Problem, ProblemJSON string
	// Status is the HTTP status (200 when 0).
	Status int

	// Set by render.
	Who  *whoView
	CSRF string
	// Here is the page's own path and query, where Switch account leads
	// back to.
	Here string
}

type crumb struct{ Label, Href string }

type menuItem struct{ Label, Href, Blade string }

// whoView is the signed-in principal as the header shows it.
type whoView struct {
	Name, Kind, ObjectID string
}

func who(o *identity.DirectoryObject) *whoView {
	v := &whoView{Name: o.DisplayName, ObjectID: o.ObjectID}
	switch o.Kind {
	case identity.KindUser:
		v.Name, v.Kind = o.UserPrincipalName, "User"
	case identity.KindManagedIdentity:
		v.Kind = "Managed identity"
	default:
		v.Kind = "Service principal"
		if o.DisplayName == "" {
			v.Name = o.AppID
		}
	}
	return v
}

var funcs = template.FuncMap{
	"json": func(v any) string {
		b, _ := json.MarshalIndent(v, "", "  ")
		return string(b)
	},
	"resourceURL": resourceURL,
	"bladeURL":    func(id, blade string) string { return resourceURL(id) + "/" + blade },
	"lastSegment": func(s string) string { return s[strings.LastIndexByte(s, '/')+1:] },
	"typeName":    typeName,
	"groupOf": func(id string) string {
		rid, err := arm.ParseResourceID(id)
		if err != nil {
			return ""
		}
		return rid.ResourceGroupName()
	},
	"str": func(m map[string]any, keys ...string) string {
		if v := valueAt(m, keys...); v != nil {
			return fmt.Sprint(v)
		}
		return ""
	},
	"final": func(state string) bool {
		switch strings.ToLower(state) {
		case "succeeded", "failed", "canceled", "":
			return true
		}
		return false
	},
	"stateClass": func(state string) string {
		switch strings.ToLower(state) {
		case "succeeded", "approved", "running":
			return "ok"
		case "failed", "rejected", "disconnected", "canceled":
			return "bad"
		case "":
			return ""
		}
		return "wait"
	},
	"join": strings.Join,
}

// parsePages parses each page with the layout and the shared partials.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", n)
		if err != nil {
			return nil, fmt.Errorf("portal: template %s: %w", n, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// render writes v, or the page of err, for the signed-in request c.
func (p *Portal) render(c *reqCtx, v *view, err error) {
	if err != nil {
		if v == nil {
			v = &view{Page: "problem", Title: "Something went wrong"}
		}
		v.Problem = plain(err)
		if ae, ok := err.(*APIError); ok {
			v.ProblemJSON = ae.Raw
			if v.Status == 0 && v.Page == "problem" {
				v.Status = ae.Status
			}
		}
	}
	if c != nil {
		v.Who = who(c.who)
		v.CSRF = c.s.CSRF
		// Switch account comes back here once signed in as the other
		// principal (a GET page only: a POST's answer has no URL to
		// come back to).
		v.Here = "/"
		if c.r.Method == http.MethodGet {
			v.Here = c.r.URL.RequestURI()
		}
	}
	p.write(c.w, c.r, v)
}

// write executes v's page (or its fragment) into w.
func (p *Portal) write(w http.ResponseWriter, r *http.Request, v *view) {
	t := p.pages[v.Page]
	if t == nil {
		http.Error(w, "portal: no page "+v.Page, http.StatusInternalServerError)
		return
	}
	name := "layout"
	if v.Fragment != "" {
		name = v.Fragment
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		p.cfg.Logger.Error("portal: rendering", "page", v.Page, "err", err)
		http.Error(w, "portal: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "same-origin")
	status := v.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// resourceURL is the portal page of a resource id.
func resourceURL(id string) string { return "/resource" + strings.TrimSuffix(id, "/") }

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// typeName is a resource type as people read it.
func typeName(typ string) string {
	if n, ok := typeNames[strings.ToLower(typ)]; ok {
		return n
	}
	return typ
}

var typeNames = map[string]string{
	"microsoft.resources/subscriptions":                    "Subscription",
	"microsoft.resources/resourcegroups":                   "Resource group",
	"microsoft.kusto/clusters":                             "Azure Data Explorer cluster",
	"microsoft.kusto/clusters/managedprivateendpoints":     "Managed private endpoint",
	"microsoft.storage/storageaccounts":                    "Storage account",
	"microsoft.eventhub/namespaces":                        "Event Hubs namespace",
	"microsoft.devices/iothubs":                            "IoT hub",
	"microsoft.keyvault/vaults":                            "Key vault",
	"microsoft.sql/servers":                                "SQL server",
	"microsoft.digitaltwins/digitaltwinsinstances":         "Azure Digital Twins",
	"microsoft.managedidentity/userassignedidentities":     "Managed identity",
	"microsoft.network/privateendpoints":                   "Private endpoint",
	"microsoft.network/virtualnetworks":                    "Virtual network",
	"microsoft.resources/deployments":                      "Deployment",
	"microsoft.authorization/roleassignments":              "Role assignment",
	"microsoft.insights/diagnosticsettings":                "Diagnostic setting",
	"microsoft.kusto/clusters/databases":                   "Database",
	"microsoft.eventhub/namespaces/eventhubs":              "Event hub",
	"microsoft.storage/storageaccounts/blobservices":       "Blob service",
	"microsoft.network/privatednszones":                    "Private DNS zone",
	"microsoft.network/networkinterfaces":                  "Network interface",
	"microsoft.sql/servers/databases":                      "SQL database",
	"microsoft.devices/iothubs/privateendpointconnections": "Private endpoint connection",
}
