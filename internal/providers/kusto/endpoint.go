package kusto

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/providers/common"
	"github.com/privlink/privlink/internal/providers/privatelink"
	"github.com/privlink/privlink/internal/resource"
)

// endpointName is the rule of the Microsoft.Network private endpoint each
// managed private endpoint stands for (1 to 80 characters, letters, digits,
// '_', '.', '-', starting with a letter or digit and ending with a letter,
// digit or '_'); the Kusto spec itself allows anything.
var endpointName = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,78}[a-zA-Z0-9_])?$`)

var validateEndpointName = common.NameRule(endpointName, arm.CodeInvalidResourceName, "The managed private endpoint name",
	"It must be 1 to 80 characters of letters, digits, '_', '.' and '-', start with a letter or digit, and end with a letter, digit or '_'.")

// requestMessageMax bounds a managed private endpoint's requestMessage. The
// Kusto spec sets no bound ("The user request message."), but the message
// becomes the requestMessage of the Microsoft.Network private endpoint
// connection Azure makes for the endpoint, which the Network spec
// (privateEndpoint.json, PrivateLinkServiceConnectionProperties) documents as
// "Restricted to 140 chars".
//
// The code is RequestMessageTooLong, the one Azure answers with: in
// Azure/azure-sdk-for-go#14739 a private endpoint to a PostgreSQL server
// failed with Code="RequestMessageTooLong" ("Request Message may only be a
// maximum of 128 characters", that target's own lower bound), and in
// hashicorp/terraform-provider-azurerm#25610 the bound is found to vary by
// target while Terraform validates 140. privlink enforces the documented 140
// for every target, as a 400 on the PUT or PATCH itself. Characters are
// counted as .NET counts a string's length, in UTF-16 code units: a
// character outside the Basic Multilingual Plane, such as an emoji, counts
// twice.
const requestMessageMax = 140

// endpointProps are the writable properties of a managed private endpoint,
// the only ones kept from a request.
var endpointProps = []string{"privateLinkResourceId", "groupId", "privateLinkResourceRegion", "requestMessage"}

func endpointKind(reg *privatelink.Registry) *resource.Kind {
	return &resource.Kind{
		Type:         EndpointType,
		WireType:     "Microsoft.Kusto/Clusters/ManagedPrivateEndpoints",
		IDTypes:      []string{"Clusters", "ManagedPrivateEndpoints"},
		APIVersions:  EndpointAPIVersions,
		Async:        true,
		Patchable:    true,
		StatusStyle:  "kusto",
		States:       states,
		View:         endpointView,
		Name:         func(id arm.ResourceID) string { return strings.Join(id.Names, "/") },
		ValidateName: validateEndpointName,
		Build:        func(c *resource.Ctx, w *resource.Write) error { return buildEndpoint(c, w, reg) },
		BeforeDelete: privatelink.Release,
	}
}

// dummyLocationVersions are the api-versions at which a managed private
// endpoint carries "location": "DummyLocation". The documentation's REST
// walk-through at 2022-02-01 prints it in every answer; the specs of
// 2023-08-15 and 2024-04-13 define the endpoint as a ProxyResource, with no
// location, and clients of those versions depend on its absence: Terraform's
// azapi keeps any location a GET returns and, since its schema refuses one
// for this type, would plan to replace the endpoint on every run.
var dummyLocationVersions = []string{"2022-02-01"}

// endpointView adds the dummy location for the api-versions that show one,
// and removes it for the others (documents stored by earlier builds of
// privlink carry it whatever the version).
func endpointView(apiVersion string, doc []byte) []byte {
	want := false
	for _, v := range dummyLocationVersions {
		want = want || strings.EqualFold(v, apiVersion)
	}
	// GETs at the newer versions are the common case: a document that names
	// no location at all needs no parsing.
	if !want && !bytes.Contains(doc, []byte(`"location"`)) {
		return doc
	}
	o, err := arm.ParseTrustedObject(doc)
	if err != nil {
		return doc
	}
	if o.Has("location") == want {
		return doc
	}
	if want {
		o.SetAfter("type", "location", json.RawMessage(`"DummyLocation"`))
	} else {
		o.Delete("location")
	}
	b, err := o.MarshalJSON()
	if err != nil {
		return doc
	}
	return b
}

func buildEndpoint(c *resource.Ctx, w *resource.Write, reg *privatelink.Registry) error {
	in := w.Doc.Props()
	kept := &arm.Object{}
	for _, k := range in.Keys() {
		for _, allowed := range endpointProps {
			if strings.EqualFold(k, allowed) {
				v, _ := in.Get(k)
				kept.Set(allowed, v)
			}
		}
	}
	w.Doc.SetProps(kept)
	vals := map[string]string{}
	for _, k := range endpointProps {
		s, _, err := resource.StringProp(kept, k, "properties."+k)
		if err != nil {
			return err
		}
		vals[k] = s
	}
	for _, k := range []string{"privateLinkResourceId", "groupId"} {
		if vals[k] == "" {
			return resource.MissingProperty("properties." + k)
		}
	}
	if err := checkRequestMessage(vals["requestMessage"], w.Old); err != nil {
		return err
	}
	if VNetInjected(w.Parent) {
		return arm.Errorf("ManagedPrivateEndpointsNotSupported",
			"Managed private endpoints are not supported on cluster '%s' because it is injected into a virtual network. Use a cluster without virtualNetworkConfiguration, or reach the resource through the virtual network.", w.Parent.ID.Name())
	}
	if w.Old != nil {
		for _, k := range []string{"privateLinkResourceId", "groupId"} {
			old, _, _ := w.Old.Props().String(k)
			if !strings.EqualFold(old, vals[k]) {
				return arm.Errorf(arm.CodeBadRequest, "The property 'properties.%s' of managed private endpoint '%s' cannot be changed from '%s' to '%s'. Delete the managed private endpoint and create a new one.", k, w.ID.Name(), old, vals[k])
			}
		}
		if old, _, _ := w.Old.Props().String("requestMessage"); old != vals["requestMessage"] {
			return privatelink.UpdateRequest(c, w.Doc, vals["requestMessage"])
		}
		return nil
	}
	targetID, aerr := arm.ParseResourceID(vals["privateLinkResourceId"])
	if aerr != nil || targetID.SubscriptionID() == "" {
		return arm.Errorf(arm.CodeLinkedInvalidPropertyID, "Property id '%s' at path 'properties.privateLinkResourceId' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{subscriptionId}' or '/providers/{resourceProviderNamespace}/'.", vals["privateLinkResourceId"])
	}
	t := reg.Lookup(targetID.Type())
	if t == nil {
		return arm.Errorf("PrivateLinkResourceTypeNotSupported", "Managed private endpoints cannot connect to resources of type '%s'. Supported types are: %s.", targetID.Type(), quoteList(reg.Types()))
	}
	target, err := c.Load(targetID)
	if resource.IsNotFound(err) {
		return arm.Errorf("PrivateLinkResourceNotFound", "The private link resource '%s' was not found. Create it first, or correct properties.privateLinkResourceId.", vals["privateLinkResourceId"]).WithStatus(http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	group, ok := t.ManagedGroup(target, vals["groupId"])
	if !ok {
		return arm.Errorf("InvalidGroupId", "The groupId '%s' is not valid for a managed private endpoint to a resource of type '%s'. Valid groupIds are: %s.", vals["groupId"], t.Type, quoteList(t.Managed))
	}
	sub := targetID.SubscriptionID()
	if state, err := c.RegistrationState(sub, "Microsoft.Network"); err != nil {
		return err
	} else if state != resource.Registered {
		msg := "The subscription '" + sub + "' of the private link resource is not registered to use namespace 'Microsoft.Network'. Register it (POST /subscriptions/" + sub + "/providers/Microsoft.Network/register?api-version=2021-04-01) and retry. See https://aka.ms/rps-not-found for how to register subscriptions."
		e := arm.Errorf(arm.CodeLinkedMissingSubscriptionRegistration, "%s", msg)
		e.Details = []*arm.Error{{Code: arm.CodeLinkedMissingSubscriptionRegistration, Target: "Microsoft.Network", Message: msg}}
		return e
	}
	return privatelink.Connect(c, t, target, w.Doc, managedPrivateEndpointID(w.Parent, w.ID.Name()), group, vals["requestMessage"])
}

// checkRequestMessage refuses a request message over requestMessageMax. A
// message already stored (before privlink bounded it) may stay as it is, so
// that such endpoints can still be updated; a new or changed one may not.
func checkRequestMessage(msg string, old *resource.Doc) error {
	n := utf16Len(msg)
	if n <= requestMessageMax {
		return nil
	}
	if old != nil {
		if prev, _, _ := old.Props().String("requestMessage"); prev == msg {
			return nil
		}
	}
	return arm.Errorf("RequestMessageTooLong", "The request message is %d characters long; the request message of a managed private endpoint may be at most %d characters. Shorten properties.requestMessage.", n, requestMessageMax).WithTarget("properties.requestMessage")
}

// utf16Len is the length of s in UTF-16 code units, as .NET's String.Length.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n
}

// managedPrivateEndpointID is the id of the private endpoint Azure would create
// in the cluster's managed virtual network, in a Microsoft-managed subscription.
func managedPrivateEndpointID(cluster *resource.Doc, name string) string {
	sub := uuid.NewSHA1(uuid.NameSpaceURL, []byte("privlink:managed:"+cluster.ID.Key())).String()
	return "/subscriptions/" + sub + "/resourceGroups/" + cluster.ID.Name() + "-managed/providers/Microsoft.Network/privateEndpoints/" + cluster.ID.Name() + "." + name
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = "'" + v + "'"
	}
	return strings.Join(q, ", ")
}

type checkNameResult struct {
	Name          string `json:"name"`
	NameAvailable bool   `json:"nameAvailable"`
	Message       string `json:"message,omitempty"`
	Reason        string `json:"reason,omitempty"`
}

// checkEndpointName is POST {cluster}/managedPrivateEndpointsCheckNameAvailability.
func checkEndpointName(c *resource.Ctx, cluster arm.ResourceID, r *resource.Request) (*resource.Response, error) {
	in, err := resource.ParseBody(r.Body)
	if err != nil {
		return nil, err
	}
	name, ok, err := resource.StringProp(in, "name", "name")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, resource.MissingProperty("name")
	}
	typ, ok, err := resource.StringProp(in, "type", "type")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, resource.MissingProperty("type")
	}
	if !strings.EqualFold(typ, EndpointType) {
		return nil, arm.Errorf(arm.CodeBadRequest, "The type '%s' is invalid. The only valid value is '%s'.", typ, EndpointType)
	}
	res := checkNameResult{Name: name, NameAvailable: true}
	if aerr := validateEndpointName(name); aerr != nil {
		res = checkNameResult{Name: name, Message: aerr.Message, Reason: "Invalid"}
	} else if _, err := c.LoadKey(cluster.Child("managedPrivateEndpoints", name).Key()); err == nil {
		res = checkNameResult{Name: name, Message: "Name '" + name + "' is already taken. Please specify a different name", Reason: "AlreadyExists"}
	} else if !resource.IsNotFound(err) {
		return nil, err
	}
	b, _ := arm.Marshal(res)
	return &resource.Response{Status: http.StatusOK, Body: b, Header: http.Header{}}, nil
}
