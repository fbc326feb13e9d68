// Package devices holds the rules of Microsoft.Devices/IotHubs as a private
// link target (sub-resource iotHub).
package devices

import (
	"encoding/json"
	"regexp"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/providers/common"
	"github.com/privlink/privlink/internal/providers/privatelink"
	"github.com/privlink/privlink/internal/resource"
)

// APIVersions are the accepted api-versions, oldest first: the catalog's
// and those privlink accepted before it (armiothub v1.3 uses 2023-06-30).
var APIVersions = catalog.Accept(Type, "2021-03-31", "2021-07-01", "2021-07-02", "2022-04-30-preview", "2022-11-15-preview", "2023-06-30", "2023-06-30-preview")

// Type is the IoT hub type, spelled as Azure serves it.
const Type = "Microsoft.Devices/IotHubs"

var hubName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]{1,48}[a-zA-Z0-9]$`)

// Register adds IoT hubs and their private link types.
func Register(e *resource.Engine, reg *privatelink.Registry) {
	e.Register(&resource.Kind{
		Type:        Type,
		APIVersions: APIVersions,
		Tracked:     true,
		ETag:        true,
		Pageable:    true,
		Patchable:   true,
		ValidateName: common.NameRule(hubName, arm.CodeInvalidResourceName, "The IoT hub name",
			"It must be 3 to 50 characters of letters, digits and hyphens, and start and end with a letter or digit."),
		Build: func(c *resource.Ctx, w *resource.Write) error {
			sku, err := common.RequireObject(w, "sku")
			if err != nil {
				return err
			}
			if _, ok, err := resource.StringProp(sku, "name", "sku.name"); err != nil {
				return err
			} else if !ok {
				return resource.MissingProperty("sku.name")
			}
			n := w.ID.Name()
			p := w.Doc.Props()
			p.SetValue("hostName", n+".azure-devices.net")
			p.SetValue("state", "Active")
			p.SetValue("locations", []map[string]string{{"location": w.Doc.Str("location"), "role": "primary"}})
			common.Default(w.Doc, "eventHubEndpoints", map[string]any{"events": map[string]any{
				"retentionTimeInDays": 1, "partitionCount": 4, "partitionIds": []string{"0", "1", "2", "3"},
				"path": n, "endpoint": "sb://iothub-ns-" + n + ".servicebus.windows.net/",
			}})
			return keepPolicies(w)
		},
		Actions: map[string]resource.Action{"listkeys": listKeys},
	})
	reg.Add(e, &privatelink.Target{
		Type:                 Type,
		APIVersions:          APIVersions,
		Groups:               []privatelink.Group{{ID: "iotHub", RequiredMembers: []string{"iotHub"}, ZoneNames: []string{"privatelink.azure-devices.net", "privatelink.servicebus.windows.net"}}},
		Managed:              []string{"iotHub"},
		ConnectionListArray:  true,
		ConnectionWireType:   "Microsoft.Devices/IotHubs/PrivateEndpointConnections",
		LinkResourceWireType: "Microsoft.Devices/IotHubs/PrivateLinkResources",
		LinkResourceIDTypes:  []string{"IotHubs", "PrivateLinkResources"},
		// IoT Hub's sources do not pin down its own table: azure-cli's recorded
		// test_iot_hub approves an auto-approved connection twice (both
		// succeed) and then rejects it, as privlink's default rule does;
		// nothing public shows its answer to the other moves or their codes.
		Transitions: privatelink.DefaultTransitions,
	})
}

// policiesExt keeps a hub's shared access policies with their keys.
const policiesExt = "devices.policies"

// policy is a SharedAccessSignatureAuthorizationRule.
type policy struct {
	KeyName      string `json:"keyName"`
	PrimaryKey   string `json:"primaryKey"`
	SecondaryKey string `json:"secondaryKey"`
	Rights       string `json:"rights"`
}

// defaultPolicies are the policies Azure creates every hub with.
var defaultPolicies = []policy{
	{KeyName: "iothubowner", Rights: "RegistryWrite, ServiceConnect, DeviceConnect"},
	{KeyName: "service", Rights: "ServiceConnect"},
	{KeyName: "device", Rights: "DeviceConnect"},
	{KeyName: "registryRead", Rights: "RegistryRead"},
	{KeyName: "registryReadWrite", Rights: "RegistryWrite"},
}

// keepPolicies gives a new hub its policies (those sent in
// properties.authorizationPolicies, else Azure's five) with keys for those
// sent without; an existing hub keeps its own.
func keepPolicies(w *resource.Write) error {
	var ps []policy
	if w.Doc.Ext(policiesExt, &ps) && len(ps) > 0 {
		return nil
	}
	ps = append([]policy(nil), defaultPolicies...)
	if raw, ok := w.Doc.Props().Get("authorizationPolicies"); ok {
		var sent []policy
		if err := json.Unmarshal(raw, &sent); err != nil {
			return resource.InvalidProperty("properties.authorizationPolicies", "Array", arm.Kind(raw))
		}
		if len(sent) > 0 {
			ps = sent
		}
	}
	for i := range ps {
		if ps[i].PrimaryKey == "" {
			ps[i].PrimaryKey = common.NewKey(32)
		}
		if ps[i].SecondaryKey == "" {
			ps[i].SecondaryKey = common.NewKey(32)
		}
	}
	w.Doc.SetExt(policiesExt, ps)
	return nil
}

// listKeys is POST {hub}/listkeys (IoT Hub's spelling of the action):
// SharedAccessSignatureAuthorizationRuleListResult. A connection string is
// "HostName=" + properties.hostName + ";SharedAccessKeyName=" + keyName +
// ";SharedAccessKey=" + primaryKey.
func listKeys(c *resource.Ctx, id arm.ResourceID, r *resource.Request) (*resource.Response, error) {
	d, err := c.Load(id)
	if err != nil {
		return nil, err
	}
	var ps []policy
	if !d.Ext(policiesExt, &ps) || len(ps) == 0 {
		// A hub stored before privlink kept policies.
		w := &resource.Write{Doc: d}
		if err := keepPolicies(w); err != nil {
			return nil, err
		}
		if err := c.Save(d); err != nil {
			return nil, err
		}
		d.Ext(policiesExt, &ps)
	}
	return common.JSON(map[string][]policy{"value": ps})
}
