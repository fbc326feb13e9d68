package resource

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/authz"
	"github.com/privlink/privlink/internal/store"
)

func (e *Engine) get(ctx context.Context, k *Kind, r *Request) (*Response, error) {
	id := r.Path.ID
	if err := e.AuthorizeKind(ctx, k, r, "read", id); err != nil {
		return nil, err
	}
	var body []byte
	err := e.view(ctx, r, func(c *Ctx) error {
		if k.Get != nil {
			d, err := k.Get(c, id)
			if IsNotFound(err) {
				return e.notFound(c, k, id)
			}
			if err != nil {
				return err
			}
			body, err = served(c, k, r, d.Body())
			return err
		}
		rec, err := c.Tx.Get(id.Key())
		if IsNotFound(err) {
			return e.notFound(c, k, id)
		}
		if err != nil {
			return err
		}
		body, err = served(c, k, r, rec.Body)
		return err
	})
	if err != nil {
		if r.Method == http.MethodHead {
			if ae := arm.AsError(err); ae != nil && ae.HTTPStatus() == http.StatusNotFound {
				return &Response{Status: http.StatusNotFound, Header: http.Header{}}, nil
			}
		}
		return nil, err
	}
	if r.Method == http.MethodHead {
		return &Response{Status: http.StatusNoContent, Header: http.Header{}}, nil
	}
	resp := jsonResponse(http.StatusOK, body)
	if k.ETag {
		if o, err := arm.ParseObject(body); err == nil {
			if et, ok, _ := o.String("etag"); ok {
				resp.Header.Set("ETag", et)
			}
		}
	}
	return resp, nil
}

// EmbedMax bounds the children a document carries (Kind.Embeds): the first
// ones in key order. Azure allows 1,000 private endpoint connections to a
// private link service; a target with more (privlink's scale runs point
// hundreds of thousands of endpoints at one account) would otherwise make
// every GET of it as large as all of them. Their own list pages through
// them all.
const EmbedMax = 1000

// served is doc as its reader sees it: shaped for r's api-version
// (Kind.View), with the children k embeds (Kind.Embeds) read in c's
// transaction, so that they agree with the document.
func served(c *Ctx, k *Kind, r *Request, doc []byte) ([]byte, error) {
	if r != nil {
		doc = k.view(r, doc)
	}
	if len(k.Embeds) == 0 || doc == nil || r != nil && r.Method == http.MethodHead {
		return doc, nil
	}
	o, err := arm.ParseObject(doc)
	if err != nil {
		return nil, err
	}
	id, _, err := o.String("id")
	if err != nil {
		return nil, err
	}
	rid, aerr := arm.ParseResourceID(id)
	if aerr != nil {
		return nil, aerr
	}
	props, err := o.Object("properties")
	if err != nil {
		return nil, err
	}
	if props == nil {
		props = &arm.Object{}
	} else {
		props = props.Clone()
	}
	for _, em := range k.Embeds {
		ck := c.Kind(em.Type)
		recs, err := c.Tx.List(store.Query{Parent: rid.Key(), Type: em.Type, Limit: EmbedMax})
		if err != nil {
			return nil, err
		}
		items := make([][]byte, 0, len(recs))
		for _, rec := range recs {
			b := rec.Body
			if ck != nil && r != nil {
				b = ck.view(r, b)
			}
			if len(em.Keep) > 0 {
				o, err := arm.ParseObject(b)
				if err != nil {
					return nil, err
				}
				if b, err = o.Only(em.Keep...).MarshalJSON(); err != nil {
					return nil, err
				}
			}
			items = append(items, b)
		}
		props.Set(em.Member, arrayBody(items))
	}
	o.SetObject("properties", props)
	return o.MarshalJSON()
}

// notFound explains why id is missing: its subscription, its resource group,
// its parent, or the resource itself.
func (e *Engine) notFound(c *Ctx, k *Kind, id arm.ResourceID) error {
	if err := e.checkScope(c, id); err != nil {
		return err
	}
	if k.isChild() {
		if _, err := e.parentOf(c, k, id); err != nil {
			return err
		}
	}
	return resourceNotFound(id)
}

// CheckScope returns the error a request at id earns when its subscription
// or resource group does not exist (or the group is being deleted), or nil.
func (c *Ctx) CheckScope(id arm.ResourceID) error { return c.E.checkScope(c, id) }

// NotFound is the ARM error for id, which is not there, as a GET of id
// answers it: the first thing missing among its subscription
// (SubscriptionNotFound, or InvalidSubscriptionId when the id is malformed),
// its resource group (ResourceGroupNotFound), its parent resource
// (ParentResourceNotFound) and the resource itself (ResourceNotFound). Rules
// and emulator endpoints that look resources up use it so that they never
// answer differently from the API.
func (c *Ctx) NotFound(id arm.ResourceID) error {
	if err := c.E.checkScope(c, id); err != nil {
		return err
	}
	if id.Scope == nil && len(id.Types) > 1 {
		if _, err := c.E.parentOf(c, nil, id); err != nil {
			return err
		}
	}
	return resourceNotFound(id)
}

func resourceNotFound(id arm.ResourceID) *arm.Error {
	switch {
	case id.IsSubscription():
		if aerr := arm.CheckSubscriptionID(id.Subscription); aerr != nil {
			return aerr // it cannot exist: say why
		}
		return arm.Errorf(arm.CodeSubscriptionNotFound, "The subscription '%s' could not be found.", id.Subscription)
	case id.IsResourceGroup():
		return arm.Errorf(arm.CodeResourceGroupNotFound, "Resource group '%s' could not be found.", id.ResourceGroup)
	}
	var rel strings.Builder
	rel.WriteString(id.Namespace)
	for i, t := range id.Types {
		rel.WriteString("/" + t + "/" + id.Names[i])
	}
	if rg := id.ResourceGroupName(); rg != "" {
		return arm.Errorf(arm.CodeResourceNotFound, "The Resource '%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", rel.String(), rg)
	}
	return arm.Errorf(arm.CodeResourceNotFound, "The Resource '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", rel.String())
}

// checkScope checks that the subscription and resource group holding id exist.
func (e *Engine) checkScope(c *Ctx, id arm.ResourceID) error {
	root := id.Root()
	if root.Subscription != "" && !id.IsSubscription() {
		sub := arm.ResourceID{Subscription: root.Subscription}
		if _, err := c.Tx.Get(sub.Key()); err != nil {
			if IsNotFound(err) {
				return resourceNotFound(sub)
			}
			return err
		}
	}
	if root.ResourceGroup != "" && !id.IsResourceGroup() {
		rg := arm.ResourceID{Subscription: root.Subscription, ResourceGroup: root.ResourceGroup}
		if _, err := c.Tx.Get(rg.Key()); err != nil {
			if IsNotFound(err) {
				return resourceNotFound(rg)
			}
			return err
		}
	}
	return e.checkExtended(c, id)
}

// checkExtended checks that the resources an extension id extends exist,
// outermost first: an extension resource lives and dies with its scope, so
// one whose scope is missing is refused (ResourceNotFound, naming the scope)
// rather than left behind where no cascade would remove it.
func (e *Engine) checkExtended(c *Ctx, id arm.ResourceID) error {
	var chain []arm.ResourceID
	for s := id.Scope; s != nil; s = s.Scope {
		if len(s.Types) > 0 {
			chain = append(chain, *s)
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if _, err := c.Load(chain[i]); err != nil {
			if IsNotFound(err) {
				return resourceNotFound(chain[i])
			}
			return err
		}
	}
	return nil
}

// parentOf loads the parent resource of a child id.
func (e *Engine) parentOf(c *Ctx, k *Kind, id arm.ResourceID) (*Doc, error) {
	pid := id.Parent()
	p, err := c.Load(pid)
	if IsNotFound(err) {
		return nil, arm.Errorf(arm.CodeParentResourceNotFound, "Can not perform requested operation on nested resource. Parent resource '%s' not found.", parentName(pid))
	}
	return p, err
}

func parentName(id arm.ResourceID) string { return strings.Join(id.Names, "/") }

func (e *Engine) list(ctx context.Context, k *Kind, scope arm.ResourceID, r *Request) (*Response, error) {
	// A principal that may not read the whole scope sees the items it may
	// read, when it has access below the scope; else the list is refused.
	partial := false
	if err := e.AuthorizeKind(ctx, k, r, "read", scope); err != nil {
		if e.Reach(ctx, r, scope)&authz.Below == 0 && !k.ListNeverRefused {
			return nil, err
		}
		partial = true
	}
	visible := func(id string) bool {
		if !partial {
			return true
		}
		rid, aerr := arm.ParseResourceID(id)
		return aerr == nil && e.AuthorizeKind(ctx, k, r, "read", rid) == nil
	}
	var bodies [][]byte
	var next string
	collect := func(c *Ctx) error {
		if !scope.IsRoot() {
			if err := e.checkScope(c, scope); err != nil {
				return err
			}
			if scope.IsResourceGroup() || scope.IsSubscription() || len(scope.Types) > 0 {
				if _, err := c.Load(scope); IsNotFound(err) {
					if len(scope.Types) > 0 {
						return arm.Errorf(arm.CodeParentResourceNotFound, "Can not perform requested operation on nested resource. Parent resource '%s' not found.", parentName(scope))
					}
					return resourceNotFound(scope)
				} else if err != nil {
					return err
				}
			}
		}
		if k.List != nil {
			docs, err := k.List(c, scope)
			if err != nil {
				return err
			}
			for _, d := range docs {
				if visible(d.ID.String()) {
					bodies = append(bodies, d.Body())
				}
			}
			return nil
		}
		q := store.Query{Parent: scope.Key(), Type: k.Type}
		if scope.IsRoot() {
			q.Parent = ""
		}
		// A subscription lists the types that live in its groups across all
		// of them (GET /subscriptions/{s}/providers/{ns}/{type}).
		if scope.IsSubscription() && !k.isChild() && k.scopes()&InResourceGroup != 0 {
			q = store.Query{Subscription: scope.Subscription, Type: k.Type}
		}
		if k.Pageable {
			size, after, err := e.Page(r)
			if err != nil {
				return err
			}
			q.Limit, q.After = size+1, after
			recs, err := c.Tx.List(q)
			if err != nil {
				return err
			}
			if len(recs) > size {
				recs = recs[:size]
				next = nextLink(r, base64.RawURLEncoding.EncodeToString([]byte(recs[size-1].Key())))
			}
			for _, rec := range recs {
				if visible(rec.ID) {
					bodies = append(bodies, rec.Body)
				}
			}
			return nil
		}
		recs, err := c.Tx.List(q)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if visible(rec.ID) {
				bodies = append(bodies, rec.Body)
			}
		}
		return nil
	}
	err := e.view(ctx, r, func(c *Ctx) error {
		if err := collect(c); err != nil {
			return err
		}
		for i, b := range bodies {
			var err error
			if bodies[i], err = served(c, k, r, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if k.ListArray {
		return jsonResponse(http.StatusOK, arrayBody(bodies)), nil
	}
	return jsonResponse(http.StatusOK, listBody(bodies, next)), nil
}

// arrayBody writes [...] from raw documents.
func arrayBody(bodies [][]byte) []byte {
	b := listBody(bodies, "")
	return b[len(`{"value":`) : len(b)-1]
}

// listBody writes {"value":[...]} from raw documents without re-encoding them.
func listBody(bodies [][]byte, next string) []byte {
	n := 32 + len(next)
	for _, b := range bodies {
		n += len(b) + 1
	}
	var buf bytes.Buffer
	buf.Grow(n)
	buf.WriteString(`{"value":[`)
	for i, b := range bodies {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(b)
	}
	buf.WriteByte(']')
	if next != "" {
		buf.WriteString(`,"nextLink":`)
		buf.Write(quote(next))
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// ListBody is listBody for rules that build their own lists.
func ListBody(docs []*Doc) []byte {
	bodies := make([][]byte, len(docs))
	for i, d := range docs {
		bodies[i] = d.Body()
	}
	return listBody(bodies, "")
}

// Page reads the paging a pageable list was asked for: how many items (the
// server's page size, or a smaller $top) and the key to continue after (from
// $skipToken, "" for the first page). A token privlink did not make is
// InvalidParameter.
func (e *Engine) Page(r *Request) (size int, after string, err error) {
	size = e.cfg.PageSize
	if top, err := strconv.Atoi(r.Query.Get("$top")); err == nil && top > 0 && top < size {
		size = top
	}
	if tok := r.Query.Get("$skipToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return 0, "", arm.Errorf(arm.CodeInvalidParameter, "The $skipToken '%s' is invalid.", tok)
		}
		after = string(b)
	}
	return size, after, nil
}

// ListPage is a page of a list: docs, and when more may follow, a nextLink
// whose $skipToken continues after the key next ("" for the last page).
func ListPage(r *Request, docs []*Doc, next string) []byte {
	bodies := make([][]byte, len(docs))
	for i, d := range docs {
		bodies[i] = d.Body()
	}
	return ListBodies(r, bodies, next)
}

// ListBodies is ListPage of documents already written.
func ListBodies(r *Request, bodies [][]byte, next string) []byte {
	link := ""
	if next != "" {
		link = nextLink(r, base64.RawURLEncoding.EncodeToString([]byte(next)))
	}
	return listBody(bodies, link)
}

func nextLink(r *Request, token string) string {
	q := url.Values{}
	for k, v := range r.Query {
		if k != "$skipToken" {
			q[k] = v
		}
	}
	q.Set("$skipToken", token)
	// The root id spells "/": trimmed, or the subscription list's nextLink
	// would point at "//subscriptions".
	return r.BaseURL + strings.TrimSuffix(r.Path.ID.String(), "/") + "/" + r.Path.Tail + "?" + q.Encode()
}

// action serves a POST action (verb "{action}/action") or an extra
// collection (verb "{collection}/read") on the item r names. A principal
// that may not read a collection as a whole but has access below the item
// gets the collection's rule with Ctx.Readable filtering what it lists.
func (e *Engine) action(ctx context.Context, k *Kind, a Action, r *Request, verb string) (*Response, error) {
	id := r.Path.ID
	read := strings.HasSuffix(verb, "/read")
	partial := false
	if err := e.AuthorizeKind(ctx, k, r, verb, id); err != nil {
		if !read || e.Reach(ctx, r, id)&authz.Below == 0 {
			return nil, err
		}
		partial = true
	}
	var resp *Response
	run := e.update
	if read {
		run = e.view
	}
	err := run(ctx, r, func(c *Ctx) error {
		c.partial = partial
		if err := e.checkScope(c, id); err != nil {
			return err
		}
		if _, err := c.Load(id); err != nil {
			if IsNotFound(err) {
				return resourceNotFound(id)
			}
			return err
		}
		var err error
		resp, err = a(c, id, r)
		return err
	})
	return resp, err
}
