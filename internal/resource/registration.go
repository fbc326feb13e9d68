package resource

import (
	"encoding/json"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/store"
)

// Registration states of a provider namespace in a subscription.
const (
	Registered    = "Registered"
	NotRegistered = "NotRegistered"
	Unregistered  = "Unregistered"
)

// ProviderType is the type of stored registration records, kept at
// /subscriptions/{s}/providers/{namespace}.
const ProviderType = "Microsoft.Resources/providers"

type registration struct {
	Namespace string `json:"namespace"`
	State     string `json:"registrationState"`
}

// RegistrationState reports whether subscription sub is registered to namespace ns.
func (c *Ctx) RegistrationState(sub, ns string) (string, error) {
	r, err := c.Tx.Get(arm.ResourceID{Subscription: sub, Namespace: ns}.Key())
	if IsNotFound(err) {
		return NotRegistered, nil
	}
	if err != nil {
		return "", err
	}
	// Every write reads it: the stored body is privlink's own compact
	// JSON, read without encoding/json's validation and reflection.
	if s, ok := arm.TrustedString(r.Body, "registrationState"); ok {
		return s, nil
	}
	var reg registration
	if err := json.Unmarshal(r.Body, &reg); err != nil {
		return "", err
	}
	return reg.State, nil
}

// SetRegistration records the registration state of ns in sub.
func (c *Ctx) SetRegistration(sub, ns, state string) error {
	if n := c.E.Namespace(ns); n != nil {
		ns = n.Name
	}
	id := arm.ResourceID{Subscription: sub, Namespace: ns}
	body, _ := arm.Marshal(registration{Namespace: ns, State: state})
	rec := &store.Record{ID: id.String(), Type: ProviderType, Body: body, Updated: c.Now}
	err := c.Tx.Replace(rec)
	if IsNotFound(err) {
		err = c.Tx.Create(rec)
	}
	return err
}

// ensureRegistered registers the subscription to the namespace of a type on
// its first write, as ARM does for callers allowed to register providers.
func (e *Engine) ensureRegistered(c *Ctx, k *Kind, id arm.ResourceID) error {
	sub := id.SubscriptionID()
	if sub == "" || k.ARMOwned {
		return nil
	}
	state, err := c.RegistrationState(sub, k.Namespace())
	if err != nil || state == Registered {
		return err
	}
	return c.SetRegistration(sub, k.Namespace(), Registered)
}
