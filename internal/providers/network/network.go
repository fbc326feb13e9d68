// Package network holds the rules of Microsoft.Network's private endpoints:
// generic resources, except that a private endpoint whose connections point
// at one of privlink's private link targets connects to it through the same
// state machine as a Kusto managed private endpoint (privatelink), shows the
// connection's state, and releases it when deleted. Every other
// Microsoft.Network type (virtual networks, subnets, private DNS zones, the
// endpoints' privateDnsZoneGroups, ...) is generic.
package network

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/providers/generic"
	"github.com/privlink/privlink/internal/providers/privatelink"
	"github.com/privlink/privlink/internal/resource"
)

// Types.
const (
	PrivateEndpointType  = "Microsoft.Network/privateEndpoints"
	NetworkInterfaceType = "Microsoft.Network/networkInterfaces"
	connectionType       = "Microsoft.Network/privateEndpoints/privateLinkServiceConnections"
)

// The two lists of connections a private endpoint may ask for: automatic
// ones (approved at once when the caller may approve them: see
// privatelink.AutoApprove) and manual ones (always Pending, for the
// target's owner to decide).
const (
	automatic = "privateLinkServiceConnections"
	manual    = "manualPrivateLinkServiceConnections"
)

// nicExt keeps the id of the network interface made for an endpoint.
const nicExt = "network.nic"

// Register adds private endpoints to e; their connections look their
// targets up in reg.
func Register(e *resource.Engine, reg *privatelink.Registry) {
	k := generic.Kind(PrivateEndpointType)
	k.Generic = false // rules of its own: not to be replaced
	base := k.Build
	k.Build = func(c *resource.Ctx, w *resource.Write) error {
		if err := base(c, w); err != nil {
			return err
		}
		return build(c, w, reg)
	}
	k.BeforeDelete = release
	e.Register(k)
	reg.OnChange(PrivateEndpointType, func(c *resource.Ctx, ep *resource.Doc) error { return reflect(ep) })
}

// connState is a PrivateLinkServiceConnectionState, in the spec's order.
type connState struct {
	Status          string `json:"status"`
	Description     string `json:"description"`
	ActionsRequired string `json:"actionsRequired"`
}

// connection is one entry of a private endpoint's connection lists, as the
// spec's PrivateLinkServiceConnection.
type connection struct {
	obj    *arm.Object
	props  *arm.Object
	name   string
	target string
	groups []string
	msg    string
}

// connections reads one of the lists; absent is none.
func connections(props *arm.Object, list string) ([]*connection, error) {
	raw, ok := props.Get(list)
	if !ok || arm.Kind(raw) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, resource.InvalidProperty("properties."+list, "Array", arm.Kind(raw))
	}
	var out []*connection
	for i, item := range items {
		path := fmt.Sprintf("properties.%s[%d]", list, i)
		o, err := arm.ParseObject(item)
		if err != nil {
			return nil, resource.InvalidProperty(path, "Object", arm.Kind(item))
		}
		cn := &connection{obj: o}
		if cn.name, _, err = resource.StringProp(o, "name", path+".name"); err != nil {
			return nil, err
		}
		if cn.name == "" {
			return nil, resource.MissingProperty(path + ".name")
		}
		p, err := resource.ObjectProp(o, "properties", path+".properties")
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, resource.MissingProperty(path + ".properties")
		}
		cn.props = p.Clone()
		if cn.target, _, err = resource.StringProp(p, "privateLinkServiceId", path+".properties.privateLinkServiceId"); err != nil {
			return nil, err
		}
		if cn.target == "" {
			return nil, resource.MissingProperty(path + ".properties.privateLinkServiceId")
		}
		if cn.msg, _, err = resource.StringProp(p, "requestMessage", path+".properties.requestMessage"); err != nil {
			return nil, err
		}
		if g, ok := p.Get("groupIds"); ok && arm.Kind(g) != "null" {
			if err := json.Unmarshal(g, &cn.groups); err != nil {
				return nil, resource.InvalidProperty(path+".properties.groupIds", "Array", arm.Kind(g))
			}
		}
		out = append(out, cn)
	}
	return out, nil
}

// build connects a new or changed endpoint's connections to their targets.
// A connection keeps its link while its name, target and group stay the
// same; one that changed or went away is released and a new one placed.
// Connections to anything but privlink's targets (a Private Link service of
// one's own, say) are echoed as Approved (automatic) or Pending (manual):
// there is nothing of theirs to connect to.
func build(c *resource.Ctx, w *resource.Write, reg *privatelink.Registry) error {
	props := w.Doc.Props()
	old := privatelink.LinksOf(w.Doc) // the Meta came with the stored document
	var links []privatelink.Link
	for _, list := range []string{automatic, manual} {
		conns, err := connections(props, list)
		if err != nil {
			return err
		}
		if conns == nil {
			continue
		}
		items := make([]*arm.Object, 0, len(conns))
		for i, cn := range conns {
			path := fmt.Sprintf("properties.%s[%d]", list, i)
			l, err := connect(c, w, reg, cn, list == manual, old, path)
			if err != nil {
				return err
			}
			if l != nil {
				links = append(links, *l)
			} else {
				status := privatelink.Approved
				if list == manual {
					status = privatelink.Pending
				}
				cn.props.SetValue("privateLinkServiceConnectionState", connState{Status: status, ActionsRequired: "None"})
			}
			cn.obj.SetValue("id", w.ID.String()+"/"+list+"/"+cn.name)
			cn.obj.SetValue("type", connectionType)
			cn.props.SetValue("provisioningState", arm.StateSucceeded)
			cn.obj.SetObject("properties", cn.props)
			items = append(items, cn.obj)
		}
		props.SetValue(list, items)
	}
	for _, l := range old {
		if !hasLink(links, l) {
			if err := privatelink.ReleaseLink(c, l); err != nil {
				return err
			}
		}
	}
	privatelink.SetLinks(w.Doc, links)
	if err := reflect(w.Doc); err != nil {
		return err
	}
	return networkInterface(c, w, reg, links)
}

func hasLink(links []privatelink.Link, l privatelink.Link) bool {
	for _, x := range links {
		if strings.EqualFold(x.Connection, l.Connection) {
			return true
		}
	}
	return false
}

// connect returns the link of one connection to a privlink target (an
// existing one kept, or a new one placed), or nil for another target.
func connect(c *resource.Ctx, w *resource.Write, reg *privatelink.Registry, cn *connection, isManual bool, old []privatelink.Link, path string) (*privatelink.Link, error) {
	tid, aerr := arm.ParseResourceID(cn.target)
	if aerr != nil {
		return nil, arm.Errorf(arm.CodeLinkedInvalidPropertyID, "Property id '%s' at path '%s.properties.privateLinkServiceId' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{subscriptionId}' or '/providers/{resourceProviderNamespace}/'.", cn.target, path)
	}
	t := reg.Lookup(tid.Type())
	if t == nil {
		return nil, nil
	}
	if len(cn.groups) != 1 {
		return nil, arm.Errorf(arm.CodeBadRequest, "The private endpoint connection '%s' must name exactly one group id of the private link resource '%s' in %s.properties.groupIds; it names %d.", cn.name, cn.target, path, len(cn.groups))
	}
	for _, l := range old {
		if strings.EqualFold(l.Name, cn.name) && strings.EqualFold(l.Target, cn.target) && strings.EqualFold(l.GroupID, cn.groups[0]) {
			return &l, nil
		}
	}
	target, err := c.Load(tid)
	if resource.IsNotFound(err) {
		// Network's answer for a reference to a resource that is not there.
		return nil, arm.Errorf("InvalidResourceReference", "Resource %s referenced by resource %s was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.", cn.target, w.ID.String())
	}
	if err != nil {
		return nil, err
	}
	group := ""
	var valid []string
	for _, g := range t.GroupsOfTarget(target) {
		valid = append(valid, "'"+g.ID+"'")
		if strings.EqualFold(g.ID, cn.groups[0]) {
			group = g.ID
		}
	}
	if group == "" {
		return nil, arm.Errorf(arm.CodeBadRequest, "The group id '%s' of private endpoint connection '%s' is not a sub-resource of '%s'. Valid group ids are: %s.", cn.groups[0], cn.name, cn.target, strings.Join(valid, ", "))
	}
	status := privatelink.Pending
	if !isManual {
		if status, err = privatelink.AutoApprove(c, t, target, w.ID, PrivateEndpointType+"/write"); err != nil {
			return nil, err
		}
	}
	l, err := privatelink.Place(c, t, target, w.ID, w.ID.String(), group, cn.msg, status)
	if err != nil {
		return nil, err
	}
	l.Name = cn.name
	return &l, nil
}

// reflect writes each linked connection's state (as the target's side
// says, or Disconnected once the target removed it) into the endpoint's
// document, as privateLinkServiceConnectionState.
func reflect(ep *resource.Doc) error {
	links := privatelink.LinksOf(ep)
	props := ep.Props()
	for _, list := range []string{automatic, manual} {
		raw, ok := props.Get(list)
		if !ok {
			continue
		}
		var items []*arm.Object
		if err := json.Unmarshal(raw, &items); err != nil {
			continue // not ours to repair: build checked what it wrote
		}
		for _, it := range items {
			name, _, _ := it.String("name")
			for _, l := range links {
				if !strings.EqualFold(l.Name, name) {
					continue
				}
				p, _ := it.Object("properties")
				if p == nil {
					p = &arm.Object{}
				}
				p.SetValue("privateLinkServiceConnectionState", connState{Status: l.Status, Description: l.Description, ActionsRequired: "None"})
				it.SetObject("properties", p)
			}
		}
		props.SetValue(list, items)
	}
	return nil
}

// release removes an endpoint's connections from their targets and its
// network interface.
func release(c *resource.Ctx, ep *resource.Doc) error {
	for _, l := range privatelink.LinksOf(ep) {
		if err := privatelink.ReleaseLink(c, l); err != nil {
			return err
		}
	}
	var nic string
	if ep.Ext(nicExt, &nic) && nic != "" {
		d, err := c.LoadKey(arm.KeyOf(nic))
		if resource.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return c.Remove(d)
	}
	return nil
}

// networkInterface gives a new endpoint the network interface Azure makes
// for it ({endpoint}.nic.{guid} in the endpoint's group, with one IP
// configuration per connected group), and shows it in networkInterfaces;
// customDnsConfigs name each connected target's host name with the
// interface's address. The address is taken from the subnet's prefix at an
// offset made from the endpoint's id: stable, and different between
// endpoints in most cases, but no allocator.
func networkInterface(c *resource.Ctx, w *resource.Write, reg *privatelink.Registry, links []privatelink.Link) error {
	props := w.Doc.Props()
	var nicID string
	if !w.Doc.Ext(nicExt, &nicID) || nicID == "" {
		rg := arm.ResourceID{Subscription: w.ID.Root().Subscription, ResourceGroup: w.ID.Root().ResourceGroup}
		id := rg.Child(NetworkInterfaceType, w.ID.Name()+".nic."+c.E.NewID())
		nicID = id.String()
		w.Doc.SetExt(nicExt, nicID)
	}
	subnet := ""
	if s, _ := props.Object("subnet"); s != nil {
		subnet, _, _ = s.String("id")
	}
	ip := address(c, subnet, w.ID.String())
	props.SetValue("networkInterfaces", []map[string]string{{"id": nicID}})
	var dns []map[string]any
	var ipconfs []map[string]any
	for _, l := range links {
		name := targetName(l.Target)
		for _, z := range zonesOf(c, reg, l) {
			fqdn := name + "." + strings.TrimPrefix(z, "privatelink.")
			dns = append(dns, map[string]any{"fqdn": fqdn, "ipAddresses": []string{ip}})
			ipconfs = append(ipconfs, map[string]any{
				"name": "privateEndpointIpConfig." + c.E.NewID(),
				"properties": map[string]any{
					"privateIPAddress": ip, "privateIPAllocationMethod": "Dynamic", "privateIPAddressVersion": "IPv4",
					"primary": len(ipconfs) == 0, "subnet": map[string]string{"id": subnet},
					"privateLinkConnectionProperties": map[string]any{"groupId": l.GroupID, "requiredMemberName": l.GroupID, "fqdns": []string{fqdn}},
				},
			})
			break // the target's main zone: the others belong to its dependencies
		}
	}
	if dns == nil {
		dns = []map[string]any{}
	}
	props.SetValue("customDnsConfigs", dns)
	nid, aerr := arm.ParseResourceID(nicID)
	if aerr != nil {
		return fmt.Errorf("network: stored nic id %q: %v", nicID, aerr)
	}
	k := c.Kind(NetworkInterfaceType)
	nic := c.NewDoc(k, nid)
	var old *resource.Doc
	if cur, err := c.LoadKey(nid.Key()); err == nil {
		old = cur
		nic = cur
	} else if !resource.IsNotFound(err) {
		return err
	}
	if l := w.Doc.Str("location"); l != "" {
		nic.Obj.SetValue("location", l)
	}
	np := nic.Props()
	np.SetValue("provisioningState", arm.StateSucceeded)
	np.SetValue("privateEndpoint", map[string]string{"id": w.ID.String()})
	np.SetValue("ipConfigurations", ipconfs)
	np.SetValue("nicType", "Standard")
	c.StampSystemData(nic, old)
	return c.Save(nic)
}

// zonesOf are the private DNS zones of the linked group.
func zonesOf(c *resource.Ctx, reg *privatelink.Registry, l privatelink.Link) []string {
	id, aerr := arm.ParseResourceID(l.Target)
	if aerr != nil {
		return nil
	}
	t := reg.Lookup(id.Type())
	if t == nil {
		return nil
	}
	target, err := c.Load(id)
	if err != nil {
		return nil
	}
	for _, g := range t.GroupsOfTarget(target) {
		if strings.EqualFold(g.ID, l.GroupID) {
			return g.ZoneNames
		}
	}
	return nil
}

func targetName(id string) string { return id[strings.LastIndexByte(id, '/')+1:] }

// address is an IPv4 address in the subnet's first prefix (10.0.0.0/24 when
// the subnet or its prefix is unknown), at an offset from 4 (Azure keeps
// the first four) made from seed.
func address(c *resource.Ctx, subnet, seed string) string {
	prefix := netip.MustParsePrefix("10.0.0.0/24")
	if id, aerr := arm.ParseResourceID(subnet); aerr == nil {
		if d, err := c.Load(id); err == nil {
			if p, ok := subnetPrefix(d.Props()); ok {
				prefix = p
			}
		} else if v, err := c.Load(id.Parent()); err == nil {
			// A subnet written inline in its virtual network.
			if raw, ok := v.Props().Get("subnets"); ok {
				var subs []*arm.Object
				if json.Unmarshal(raw, &subs) == nil {
					for _, s := range subs {
						if n, _, _ := s.String("name"); strings.EqualFold(n, id.Name()) {
							if sp, _ := s.Object("properties"); sp != nil {
								if p, ok := subnetPrefix(sp); ok {
									prefix = p
								}
							}
						}
					}
				}
			}
		}
	}
	size := uint64(1) << (32 - prefix.Bits())
	if !prefix.Addr().Is4() || size < 8 {
		return "10.0.0.4"
	}
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(seed)))
	off := 4 + uint64(h.Sum32())%(size-5) // not the network's last address either
	b := prefix.Masked().Addr().As4()
	n := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
	n += off
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}).String()
}

func subnetPrefix(p *arm.Object) (netip.Prefix, bool) {
	s, _, _ := p.String("addressPrefix")
	if s == "" {
		if raw, ok := p.Get("addressPrefixes"); ok {
			var list []string
			if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
				s = list[0]
			}
		}
	}
	pr, err := netip.ParsePrefix(s)
	return pr, err == nil
}
