package resource

import (
	"context"
	"net/http"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/operation"
	"github.com/privlink/privlink/internal/store"
)

// Write is a PUT (or a PATCH merged into one) on its way to the store.
type Write struct {
	ID   arm.ResourceID
	Kind *Kind
	// Input is the request body (for a PATCH: the stored document with the patch merged in).
	Input *arm.Object
	// Old is the stored resource being replaced; nil on create.
	Old *Doc
	// Doc is the document being written.
	Doc *Doc
	// Parent is the parent resource of a child type; nil for top-level types.
	Parent *Doc
	// Patch reports whether the request was a PATCH.
	Patch bool
}

// Created reports whether the write creates the resource.
func (w *Write) Created() bool { return w.Old == nil }

func (e *Engine) put(ctx context.Context, k *Kind, r *Request) (*Response, error) {
	return e.writeRequest(ctx, k, r, false)
}

func (e *Engine) patch(ctx context.Context, k *Kind, r *Request) (*Response, error) {
	return e.writeRequest(ctx, k, r, true)
}

// writeRequest serves a PUT, or a PATCH: the stored document with the body
// merged in (RFC 7396), then written as a PUT of the result would be.
func (e *Engine) writeRequest(ctx context.Context, k *Kind, r *Request, patch bool) (*Response, error) {
	id := r.Path.ID
	if err := e.AuthorizeKind(ctx, k, r, "write", id); err != nil {
		return nil, err
	}
	input, err := ParseBody(r.Body)
	if err != nil {
		return nil, err
	}
	var resp *Response
	err = e.update(ctx, r, func(c *Ctx) error {
		old, err := e.loadForWrite(c, k, id)
		if err != nil {
			return err
		}
		if patch && old == nil {
			return e.notFound(c, k, id)
		}
		if err := checkConditions(k, r, old, patch); err != nil {
			return err
		}
		doc := input
		if patch {
			doc = old.Obj.Clone()
			if err := doc.MergePatch(input); err != nil {
				return invalidContent(err.Error())
			}
			// ARM replaces tags wholesale on PATCH rather than merging them.
			if tags, ok := input.Get("tags"); ok {
				doc.Set("tags", tags)
			}
		}
		resp, err = e.write(c, k, id, doc, old, patch)
		return err
	})
	return resp, err
}

// loadForWrite checks the scope and returns the stored resource (nil when absent).
func (e *Engine) loadForWrite(c *Ctx, k *Kind, id arm.ResourceID) (*Doc, error) {
	if err := e.checkScope(c, id); err != nil {
		return nil, err
	}
	old, err := c.LoadKey(id.Key())
	if IsNotFound(err) {
		return nil, nil
	}
	return old, err
}

// checkConditions applies If-Match / If-None-Match on types with ETags.
func checkConditions(k *Kind, r *Request, old *Doc, patch bool) error {
	if !k.ETag {
		return nil
	}
	failed := arm.Errorf(arm.CodePreconditionFailed, "The condition specified using HTTP conditional header(s) is not met.")
	var cur string
	if old != nil {
		cur = old.Str("etag")
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && !patch {
		if inm != "*" || old != nil {
			return failed
		}
	}
	if im := r.Header.Get("If-Match"); im != "" {
		if old == nil {
			return failed
		}
		if im != "*" && !etagIn(im, cur) {
			return failed
		}
	}
	return nil
}

func etagIn(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		if strings.TrimSpace(t) == etag {
			return true
		}
	}
	return false
}

// write builds, validates and stores the document for a PUT or merged PATCH.
func (e *Engine) write(c *Ctx, k *Kind, id arm.ResourceID, input *arm.Object, old *Doc, patch bool) (*Response, error) {
	if old == nil && k.NoCreate {
		return nil, e.notFound(c, k, id)
	}
	if err := e.checkGroupState(c, id); err != nil {
		return nil, err
	}
	if err := e.ensureRegistered(c, k, id); err != nil {
		return nil, err
	}
	if old != nil && old.Meta.Op != "" {
		return nil, arm.Errorf(arm.CodeAnotherOperationInProgress, "Another operation (%s) is in progress on the resource '%s'. Retry once it completes.", old.Meta.OpAction, id.Name())
	}
	var parent *Doc
	if k.isChild() {
		p, err := e.parentOf(c, k, id)
		if err != nil {
			return nil, err
		}
		parent = p
		if parent.Meta.OpAction == opActionDelete {
			return nil, arm.Errorf(arm.CodeConflict, "The parent resource '%s' is being deleted.", parentName(parent.ID))
		}
	}
	if old == nil {
		if err := validateName(k, id.Name()); err != nil {
			return nil, err
		}
		id = e.canonicalID(c, k, id, parent)
	} else {
		id = old.ID
	}
	d := c.NewDoc(k, id)
	if old != nil {
		d.Meta = old.Meta
		d.version, d.stored = old.version, true
	}
	if k.ETag {
		d.Obj.SetValue("etag", `"`+e.NewID()+`"`)
	}
	if err := copyEnvelope(k, input, d, old); err != nil {
		return nil, err
	}
	w := &Write{ID: id, Kind: k, Input: input, Old: old, Doc: d, Parent: parent, Patch: patch}
	if k.Build != nil {
		if err := k.Build(c, w); err != nil {
			return nil, err
		}
	}
	// What the kind embeds as served (Kind.Embeds) is not stored: the SDKs
	// send read-only members back, and a GET-modify-PUT would store a stale
	// copy that other readers (GET {scope}/resources) serve.
	for _, em := range k.Embeds {
		d.Props().Delete(em.Member)
	}
	// properties go last among the members the client owns, then systemData.
	if d.props != nil || input.Has("properties") || !k.NoState {
		d.Props()
		d.flush()
		props, _ := d.Obj.Get("properties")
		d.Obj.Delete("properties")
		d.Obj.Set("properties", props)
	}
	c.StampSystemData(d, old)
	status := http.StatusOK
	if old == nil {
		status = http.StatusCreated
		if k.CreatedStatus != 0 {
			status = k.CreatedStatus
		}
	}
	var headers http.Header
	// inline is the operation to complete in this transaction, with its document.
	var inline *store.Operation
	var inlineDoc *operation.Doc
	if k.Async {
		st := k.states()
		action, state := opActionUpdate, st.Updating
		if old == nil {
			action, state = opActionCreate, st.Creating
		}
		if !k.NoState {
			d.SetState(state)
		}
		op, od, err := e.startOperation(c, d, action)
		if err != nil {
			return nil, err
		}
		if e.instant() {
			// Provisioning takes no time: the operation completes below, in
			// this transaction, and the worker has nothing to look for.
			inline, inlineDoc = op, od
		}
		headers = e.asyncHeaders(c.Req, d, op, patch)
		if patch {
			status = http.StatusAccepted
		}
	} else if !k.NoState && d.State() == "" {
		d.SetState(arm.StateSucceeded)
	}
	if k.AcceptedWrites && !k.Async {
		op, _, err := e.startOperation(c, d, opActionUpdate)
		if err != nil {
			return nil, err
		}
		d.Meta.Op, d.Meta.OpAction = "", ""
		if err := e.endOperation(c, op.ID, arm.StateSucceeded, nil); err != nil {
			return nil, err
		}
		headers = e.asyncHeaders(c.Req, d, op, true)
		status = http.StatusAccepted
	}
	if err := c.Save(d); err != nil {
		return nil, err
	}
	if k.AfterWrite != nil {
		if err := k.AfterWrite(c, w); err != nil {
			return nil, err
		}
	}
	// The rules above do not change d after Save, so its saved bytes are the
	// answer: the resource as accepted ("Creating", as the seed's armclient
	// walk-through shows), even when its operation completes at once below.
	body, err := served(c, k, c.Req, d.saved)
	if err != nil {
		return nil, err
	}
	resp := jsonResponse(status, body)
	if inline != nil {
		if err := e.completeInline(c, d, inline, inlineDoc); err != nil {
			return nil, err
		}
	}
	for h, v := range headers {
		resp.Header[h] = v
	}
	if k.ETag {
		resp.Header.Set("ETag", d.Str("etag"))
	}
	return resp, nil
}

// checkGroupState refuses writes into a resource group that is being deleted.
func (e *Engine) checkGroupState(c *Ctx, id arm.ResourceID) error {
	root := id.Root()
	if root.ResourceGroup == "" || id.IsResourceGroup() {
		return nil
	}
	rg, err := c.LoadKey(arm.ResourceID{Subscription: root.Subscription, ResourceGroup: root.ResourceGroup}.Key())
	if err != nil {
		return err
	}
	if rg.Meta.OpAction == opActionDelete {
		return arm.Errorf(arm.CodeResourceGroupBeingDeleted, "The resource group '%s' is in deprovisioning state and cannot perform this operation.", root.ResourceGroup)
	}
	return nil
}

// canonicalID spells a new resource's id: scope and parents as they were
// created, the new name as the client wrote it.
func (e *Engine) canonicalID(c *Ctx, k *Kind, id arm.ResourceID, parent *Doc) arm.ResourceID {
	if parent != nil {
		out := parent.ID
		out.Types = append(append([]string(nil), parent.ID.Types...), k.typeSegments()[len(k.typeSegments())-1])
		out.Names = append(append([]string(nil), parent.ID.Names...), id.Name())
		return out
	}
	out := id
	if id.Scope != nil {
		// An extension resource's scope is spelled as that resource was created.
		if sc, err := c.Load(*id.Scope); err == nil && len(id.Scope.Types) > 0 {
			scope := sc.ID
			out.Scope = &scope
		}
	}
	root := id.Root()
	if root.ResourceGroup != "" && !id.IsResourceGroup() {
		if rg, err := c.LoadKey(arm.ResourceID{Subscription: root.Subscription, ResourceGroup: root.ResourceGroup}.Key()); err == nil && out.Scope == nil {
			out.Subscription, out.ResourceGroup = rg.ID.Subscription, rg.ID.ResourceGroup
		}
	}
	if out.Namespace != "" && len(out.Types) > 0 {
		out = out.WithTypes(k.Namespace(), k.typeSegments())
	}
	if id.IsResourceGroup() {
		if sub, err := c.LoadKey(arm.ResourceID{Subscription: id.Subscription}.Key()); err == nil {
			out.Subscription = sub.ID.Subscription
		}
	}
	return out
}

// copyEnvelope copies the client-owned top-level members of input into d:
// location (normalized), tags, properties and anything else the type's
// clients send (sku, zones, identity, kind...), exactly as sent.
func copyEnvelope(k *Kind, input *arm.Object, d *Doc, old *Doc) error {
	var rest []string
	for _, key := range input.Keys() {
		switch strings.ToLower(key) {
		case "id", "name", "type", "etag", "systemdata", "properties":
		case "location":
			if !k.located() {
				continue
			}
			l, ok, err := StringProp(input, key, "location")
			if err != nil {
				return err
			}
			if !ok || l == "" {
				continue
			}
			if !KnownLocation(l) {
				_, rest := k.Namespace(), strings.TrimPrefix(k.Type, k.Namespace()+"/")
				return arm.Errorf("LocationNotAvailableForResourceType", "The provided location '%s' is not available for resource type '%s'. List of available regions for the resource type is '%s'.", l, k.Namespace()+"/"+rest, strings.Join(Locations, ","))
			}
			d.Obj.SetValue("location", NormalizeLocation(l))
		case "tags":
			v, _ := input.Get(key)
			switch arm.Kind(v) {
			case "null":
				continue
			case "object":
				tags, _ := arm.ParseObject(v)
				for _, t := range tags.Keys() {
					tv, _ := tags.Get(t)
					if arm.Kind(tv) != "string" {
						return InvalidProperty("tags."+t, "String", arm.Kind(tv))
					}
				}
				d.Obj.Set("tags", v)
			default:
				return InvalidProperty("tags", "Object", arm.Kind(v))
			}
		default:
			rest = append(rest, key)
		}
	}
	if k.located() {
		loc := d.Str("location")
		if loc == "" && k.Tracked {
			return arm.Errorf(arm.CodeLocationRequired, "The location property is required for this definition.")
		}
		if old != nil && loc != "" {
			if ol := old.Str("location"); ol != "" && ol != loc {
				return arm.Errorf(arm.CodeInvalidResourceLocation, "The resource '%s' already exists in location '%s' in resource group '%s'. A resource with the same name cannot be created in location '%s'. Please select a new resource name.", d.ID.Name(), ol, d.ID.ResourceGroupName(), loc)
			}
		}
	}
	for _, key := range rest {
		v, _ := input.Get(key)
		d.Obj.Set(key, v)
	}
	props, err := ObjectProp(input, "properties", "properties")
	if err != nil {
		return err
	}
	if props != nil {
		props = props.Clone()
		// provisioningState is the server's: a client echoing it back changes nothing.
		props.Delete("provisioningState")
		d.props = props
	}
	return nil
}

// StampSystemData sets d's systemData: created by old's creator (or now, by
// the caller, when old is nil) and last modified now by the caller.
func (c *Ctx) StampSystemData(d *Doc, old *Doc) {
	who, typ := "", arm.PrincipalApplication
	if c.Principal != nil {
		who, typ = c.Principal.Name, c.Principal.Type
	}
	now := arm.FormatTime(c.Now)
	sd := arm.SystemData{CreatedBy: who, CreatedByType: typ, CreatedAt: now, LastModifiedBy: who, LastModifiedByType: typ, LastModifiedAt: now}
	if old != nil {
		if o, err := old.Obj.Object("systemData"); err == nil && o != nil {
			sd.CreatedBy, _, _ = o.String("createdBy")
			sd.CreatedByType, _, _ = o.String("createdByType")
			sd.CreatedAt, _, _ = o.String("createdAt")
		}
	}
	d.Obj.Delete("systemData")
	d.Obj.SetValue("systemData", sd)
}

// validateName applies the type's rule, or ARM's general one.
func validateName(k *Kind, name string) error {
	if k.ValidateName != nil {
		if err := k.ValidateName(name); err != nil {
			return err
		}
		return nil
	}
	// Not "return DefaultName(...)": a nil *arm.Error returned as error is
	// a non-nil error.
	if err := DefaultName(k.Type, name); err != nil {
		return err
	}
	return nil
}

// DefaultName is ARM's general resource name rule: no characters that
// break URLs and no trailing dot or space.
func DefaultName(typ, name string) *arm.Error {
	if name == "" || len(name) > 260 || strings.ContainsAny(name, `<>*%&:\?+/#|`) || strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") || hasControl(name) {
		return arm.Errorf(arm.CodeInvalidResourceName, "The resource name '%s' is invalid for type '%s'. It must be 1 to 260 characters, not end in '.' or ' ', and not contain any of '<>*%%&:\\?+/#|' or control characters.", name, typ)
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}
