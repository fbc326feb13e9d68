package identity

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/store"
)

// Administrator reports whether p administers the directory: the default
// service principal, which plays the part of the account that created the
// tenant (its Global Administrator). Only it may create and delete
// principals; every principal may read the directory, as Entra ID's member
// users may.
func Administrator(objectID string) bool { return strings.EqualFold(objectID, defaultClientObjectID) }

// ErrBuiltin refuses deleting the default principals.
var ErrBuiltin = errors.New("identity: the default principals cannot be deleted")

// ErrInvalid wraps a refused directory request (a bad name or password).
var ErrInvalid = errors.New("identity: invalid request")

// secretYears is how long a generated secret lasts, as az ad sp
// create-for-rbac's default (--years 1).
const secretYears = 1

// CreateServicePrincipal makes a service principal (an application and
// its principal, as az ad sp create-for-rbac does) with one generated
// secret, valid a year, and returns it with the secret, which is shown only
// now.
func (s *Service) CreateServicePrincipal(ctx context.Context, displayName string) (*DirectoryObject, string, error) {
	displayName = strings.TrimSpace(displayName)
	if displayName == "" {
		displayName = "privlink-" + s.now().UTC().Format("2006-01-02-15-04-05")
	}
	now := s.now().UTC()
	secret := GenerateSecret()
	o := &DirectoryObject{ObjectID: uuid.NewString(), Kind: KindServicePrincipal, AppID: uuid.NewString(), DisplayName: displayName, Created: now,
		Secrets: []Secret{NewSecret(secret, "rbac", now, now.AddDate(secretYears, 0, 0))}}
	err := s.store.Update(ctx, func(tx store.Tx) error { return SaveObject(tx, o) })
	return o, secret, err
}

// AddSecret adds a generated secret to the service principal with the
// given application or object id, valid until end (zero: a year), and
// returns it (ErrNotFound if there is no such service principal).
func (s *Service) AddSecret(ctx context.Context, id, displayName string, end time.Time) (*DirectoryObject, string, error) {
	now := s.now().UTC()
	if end.IsZero() {
		end = now.AddDate(secretYears, 0, 0)
	}
	if !end.After(now) {
		return nil, "", fmt.Errorf("%w: the end of the secret's validity must be in the future", ErrInvalid)
	}
	secret := GenerateSecret()
	var o *DirectoryObject
	err := s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if o, err = findPrincipal(tx, id, KindServicePrincipal); err != nil {
			return err
		}
		o.Secrets = append(o.Secrets, NewSecret(secret, displayName, now, end))
		return SaveObject(tx, o)
	})
	return o, secret, err
}

// upnLocal is the part of a user principal name before the '@'.
var upnLocal = regexp.MustCompile(`^[A-Za-z0-9._'-]{1,64}$`)

// minPassword is the shortest password accepted (Entra ID's password
// policy: at least 8 characters).
const minPassword = 8

// CreateUser makes a user named name (the part before '@' of its user
// principal name in the tenant's domain, or a whole UPN in it) with the
// given password, or a generated one when password is "" (returned, and
// shown only now).
func (s *Service) CreateUser(ctx context.Context, name, displayName, password string) (*DirectoryObject, string, error) {
	local, domain, hasDomain := strings.Cut(strings.TrimSpace(name), "@")
	if hasDomain && !strings.EqualFold(domain, TenantDomain) {
		return nil, "", fmt.Errorf("%w: the user principal name must be in the tenant's domain, %s", ErrInvalid, TenantDomain)
	}
	if !upnLocal.MatchString(local) {
		return nil, "", fmt.Errorf("%w: the user name '%s' is not valid: use 1 to 64 letters, digits and . _ ' -", ErrInvalid, local)
	}
	generated := ""
	if password == "" {
		password = GenerateSecret()
		generated = password
	}
	if len(password) < minPassword {
		return nil, "", fmt.Errorf("%w: the password must have at least %d characters", ErrInvalid, minPassword)
	}
	if displayName == "" {
		displayName = local
	}
	now := s.now().UTC()
	o := &DirectoryObject{ObjectID: uuid.NewString(), Kind: KindUser, DisplayName: displayName,
		UserPrincipalName: strings.ToLower(local) + "@" + TenantDomain, Created: now,
		Secrets: []Secret{NewSecret(password, "password", now, time.Time{})}}
	err := s.store.Update(ctx, func(tx store.Tx) error { return SaveObject(tx, o) })
	if errors.Is(err, store.ErrExists) {
		return nil, "", fmt.Errorf("%w: a user named %s already exists", ErrInvalid, o.UserPrincipalName)
	}
	return o, generated, err
}

// DeleteObject deletes the principal with the given object id,
// application id or user principal name, of the given kind ("" for any):
// ErrNotFound if there is none, ErrBuiltin for the default principals.
// Managed identities go with their resources, not through here.
func (s *Service) DeleteObject(ctx context.Context, id, kind string) error {
	return s.store.Update(ctx, func(tx store.Tx) error {
		o, err := findPrincipal(tx, id, kind)
		if err != nil {
			return err
		}
		if o.Builtin {
			return ErrBuiltin
		}
		if o.Kind == KindManagedIdentity {
			return fmt.Errorf("%w: the managed identity %s belongs to %s; it goes when its resource does", ErrInvalid, o.ObjectID, o.ResourceID)
		}
		return DeleteObject(tx, o.ObjectID)
	})
}

// Find reads the principal with the given object id, application id or
// user principal name, of the given kind ("" for any).
func (s *Service) Find(ctx context.Context, id, kind string) (*DirectoryObject, error) {
	var o *DirectoryObject
	err := s.store.View(ctx, func(tx store.Tx) error {
		var err error
		o, err = findPrincipal(tx, id, kind)
		return err
	})
	return o, err
}

// List returns the principals of a kind ("" for all).
func (s *Service) List(ctx context.Context, kind string) ([]*DirectoryObject, error) {
	var out []*DirectoryObject
	err := s.store.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = ListObjects(tx, kind)
		return err
	})
	return out, err
}

// findPrincipal finds a principal by object id, application id or user
// principal name, of the given kind ("" for any).
func findPrincipal(tx store.Tx, id, kind string) (*DirectoryObject, error) {
	var o *DirectoryObject
	var err error
	switch {
	case strings.Contains(id, "@"):
		o, err = FindUser(tx, id)
	default:
		o, err = GetObject(tx, id)
		if errors.Is(err, store.ErrNotFound) {
			o, err = FindApp(tx, id)
		}
	}
	if err != nil {
		return nil, err
	}
	if kind != "" && o.Kind != kind {
		return nil, ErrNotFound
	}
	return o, nil
}
