package portal

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/identity"
)

// portalClientID is the application users sign in to the portal with: the
// Azure portal's own public client id, which tokens then name as appid.
const portalClientID = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"

var guidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

type signinData struct {
	UserName, Next string
	// Default shows the default principal's credentials, while its
	// well-known secret still works (a fresh install).
	Default                  bool
	DefaultID, DefaultSecret string
}

// signinPage serves the sign-in page.
func (p *Portal) signinPage(w http.ResponseWriter, r *http.Request) {
	p.write(w, r, p.signinView(r, r.URL.Query().Get("next"), "", ""))
}

func (p *Portal) signinView(r *http.Request, next, user, problem string) *view {
	d := &signinData{UserName: user, Next: safeNext(next)}
	if _, err := p.cfg.Identity.Authenticate(r.Context(), identity.DefaultClientID, identity.DefaultClientSecret); err == nil {
		d.Default, d.DefaultID, d.DefaultSecret = true, identity.DefaultClientID, identity.DefaultClientSecret
	}
	v := &view{Page: "signin", Title: "Sign in", Data: d, Problem: problem}
	if problem != "" {
		v.Status = http.StatusUnauthorized
	}
	return v
}

// safeNext keeps a redirect after sign-in on privlink's own pages.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

// signin checks a user name and password: a user's principal name (or
// just its name in privlink's domain) and password, or a service
// principal's client id and secret.
func (p *Portal) signin(w http.ResponseWriter, r *http.Request) {
	if !p.sameOrigin(r) {
		http.Error(w, "The request did not come from privlink's own pages (cross-site request refused).", http.StatusForbidden)
		return
	}
	user := strings.TrimSpace(r.PostFormValue("username"))
	password := r.PostFormValue("password")
	next := r.PostFormValue("next")
	if user == "" || password == "" {
		p.write(w, r, p.signinView(r, next, user, "Enter a user name (or a service principal's client id) and a password (or its secret)."))
		return
	}
	var o *identity.DirectoryObject
	var err error
	client := ""
	if guidRe.MatchString(user) {
		o, err = p.cfg.Identity.Authenticate(r.Context(), user, password)
	} else {
		if !strings.Contains(user, "@") {
			user += "@" + identity.TenantDomain
		}
		o, err = p.cfg.Identity.AuthenticateUser(r.Context(), user, password)
		client = portalClientID
	}
	var ae *identity.AuthError
	if errors.As(err, &ae) {
		msg := "The user name or password is not right."
		if ae.AADSTS == 700016 || ae.AADSTS == 50034 {
			msg = "There is no user or service principal named " + user + " in privlink's directory."
		}
		p.write(w, r, p.signinView(r, next, user, msg))
		return
	}
	if err != nil {
		p.cfg.Logger.Error("portal: sign-in", "err", err)
		http.Error(w, "privlink failed to sign you in; its log says why.", http.StatusInternalServerError)
		return
	}
	s := &session{ObjectID: o.ObjectID, Client: client, Expires: time.Now().Add(sessionTTL), CSRF: randomToken()}
	value, err := p.seal.seal(s)
	if err != nil {
		http.Error(w, "privlink failed to sign you in.", http.StatusInternalServerError)
		return
	}
	setSession(w, value, s.Expires)
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

// signout ends the session.
func (p *Portal) signout(c *reqCtx) (*view, error) {
	clearSession(c.w)
	return c.redirect("/signin")
}
