// Package portal is privlink's web UI: the Azure portal's pages for managed
// private endpoints, their approval, access control and deployments,
// rendered on the server (html/template, with htmx for live parts) and
// embedded in the binary. It reads and writes only through privlink's own
// HTTP API, in-process, with the signed-in principal's token.
package portal

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/identity"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Target is a private link target type as the portal offers it.
type Target struct {
	// Type is the resource type ("Microsoft.Storage/storageAccounts").
	Type string
	// APIVersion is the api-version the portal reads it with.
	APIVersion string
	// Managed are the sub-resources a managed private endpoint may ask for.
	Managed []string
}

// Config configures a Portal.
type Config struct {
	Identity *identity.Service
	// DataDir keeps the key that seals session cookies.
	DataDir string
	// Targets are the private link target types, in the order offered.
	Targets []Target
	Logger  *slog.Logger
}

// Portal serves the web UI. Attach gives it the API handler it calls.
type Portal struct {
	cfg    Config
	seal   *sealer
	api    http.Handler
	mux    *http.ServeMux
	pages  map[string]*template.Template
	blades map[string]blade

	mu     sync.Mutex
	tokens map[string]cachedToken // object id -> a token issued for it
}

type cachedToken struct {
	token string
	exp   time.Time
}

// blade is one page of a resource ("overview", "networking", ...): a GET
// renders it, a POST (with an "action" field) changes something.
type blade struct {
	title string
	// applies reports whether the blade shows in a resource's menu.
	applies func(id arm.ResourceID) bool
	get     func(c *reqCtx, id arm.ResourceID) (*view, error)
	post    func(c *reqCtx, id arm.ResourceID) (*view, error)
}

// New makes a portal.
func New(cfg Config) (*Portal, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s, err := loadSealer(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	p := &Portal{cfg: cfg, seal: s, blades: map[string]blade{}, tokens: map[string]cachedToken{}}
	if p.pages, err = parsePages(); err != nil {
		return nil, err
	}
	p.routes()
	return p, nil
}

// Attach gives the portal the handler of privlink's API, which it calls
// in-process.
func (p *Portal) Attach(api http.Handler) { p.api = api }

// Claims reports whether r is for one of the portal's pages (other paths
// are the API's to answer, with its 404).
func (p *Portal) Claims(r *http.Request) bool {
	_, pattern := p.mux.Handler(r)
	return pattern != ""
}

// ServeHTTP serves the portal's pages.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

// routes is the portal's route table.
func (p *Portal) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", cacheable(http.FileServerFS(static))))
	m.HandleFunc("GET /signin", p.signinPage)
	m.HandleFunc("POST /signin", p.signin)
	m.HandleFunc("POST /signout", p.signedIn(p.signout))
	// A sign-out typed in the address bar asks first: a GET changes
	// nothing (the anti-forgery rule), so the POST stays the only way out.
	m.HandleFunc("GET /signout", p.signedIn(func(c *reqCtx) (*view, error) {
		return &view{Page: "signout", Title: "Sign out", Crumbs: []crumb{{"Home", "/"}}}, nil
	}))
	m.HandleFunc("GET /{$}", p.signedIn(p.home))
	m.HandleFunc("GET /browse/subscriptions", p.signedIn(p.subscriptions))
	m.HandleFunc("GET /browse/resourcegroups", p.signedIn(p.resourceGroups))
	m.HandleFunc("GET /browse/all", p.signedIn(p.allResources))
	m.HandleFunc("GET /resource/{path...}", p.signedIn(p.resource))
	m.HandleFunc("POST /resource/{path...}", p.signedIn(p.resource))
	for _, add := range extraRoutes {
		add(p, m)
	}
	p.mux = m
	p.addResourceBlades()
}

func cacheable(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// extraRoutes add the top-level pages of other files (Deploy a custom
// template) to the route table.
var extraRoutes []func(p *Portal, m *http.ServeMux)

// reqCtx is one signed-in request.
type reqCtx struct {
	p   *Portal
	w   http.ResponseWriter
	r   *http.Request
	s   *session
	who *identity.DirectoryObject
	api *api
}

// handler is a page: it returns the view to render, or an error to show.
type handler func(c *reqCtx) (*view, error)

// errSignIn sends the browser to the sign-in page.
var errSignIn = errors.New("portal: not signed in")

// signedIn runs h for a signed-in principal, checking the anti-forgery
// token of requests that change something, and renders what it returns;
// without a valid session it sends the browser to sign in.
func (p *Portal) signedIn(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := p.context(w, r)
		if err != nil {
			p.toSignIn(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !p.sameOrigin(r) || r.Header.Get("X-CSRF-Token") != c.s.CSRF && r.PostFormValue("csrf") != c.s.CSRF {
				http.Error(w, "The request did not come from privlink's own pages (cross-site request refused).", http.StatusForbidden)
				return
			}
		}
		v, err := h(c)
		if errors.Is(err, errSignIn) {
			p.toSignIn(w, r)
			return
		}
		if v == nil && err == nil {
			return // the handler answered itself (a redirect)
		}
		p.render(c, v, err)
	}
}

// sameOrigin refuses requests that a browser says came from another site.
func (p *Portal) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" && !strings.EqualFold(strings.TrimPrefix(strings.TrimPrefix(o, "https://"), "http://"), r.Host) {
		return false
	}
	return true
}

func (p *Portal) toSignIn(w http.ResponseWriter, r *http.Request) {
	next := r.URL.RequestURI()
	if r.Method != http.MethodGet {
		next = "/"
	}
	target := "/signin?next=" + urlQueryEscape(next)
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// context opens the session and prepares the API client.
func (p *Portal) context(w http.ResponseWriter, r *http.Request) (*reqCtx, error) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return nil, errSignIn
	}
	s, ok := p.seal.open(ck.Value)
	if !ok || time.Now().After(s.Expires) {
		return nil, errSignIn
	}
	who, err := p.cfg.Identity.Object(r.Context(), s.ObjectID)
	if err != nil {
		return nil, errSignIn // deleted since: signed out
	}
	tok, err := p.token(who, s.Client, r)
	if err != nil {
		return nil, err
	}
	return &reqCtx{p: p, w: w, r: r, s: s, who: who, api: &api{ctx: r.Context(), handler: p.api, host: r.Host, token: tok}}, nil
}

// token is a token of who for Resource Manager, issued by the identity
// service and kept until a few minutes before it expires.
func (p *Portal) token(who *identity.DirectoryObject, client string, r *http.Request) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.tokens[who.ObjectID]; ok && time.Until(t.exp) > 5*time.Minute {
		return t.token, nil
	}
	tok, exp, err := p.cfg.Identity.Issue(who, client, "https://management.azure.com/", identity.BaseURL(r)+"/"+p.cfg.Identity.TenantID+"/v2.0")
	if err != nil {
		return "", err
	}
	if len(p.tokens) > 1000 {
		p.tokens = map[string]cachedToken{}
	}
	p.tokens[who.ObjectID] = cachedToken{token: tok, exp: exp}
	return tok, nil
}
