package identity

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/store"
)

// Kinds of directory objects. ServicePrincipal and User are the
// principalType values role assignments carry; a managed identity is a
// service principal to role assignments (principalType ServicePrincipal)
// and a ManagedIdentity to systemData.
const (
	KindServicePrincipal = "ServicePrincipal"
	KindUser             = "User"
	KindManagedIdentity  = "ManagedIdentity"
)

// DirectoryObject is a principal of privlink's tenant: a service principal
// (an application with client secrets), a user (a user principal name and
// a password) or a managed identity (a service principal that belongs to
// an Azure resource and has no secret: it gets tokens from the managed
// identity endpoints).
type DirectoryObject struct {
	// ObjectID is the principal's object id: the "oid" of its tokens and
	// the principalId of its role assignments.
	ObjectID string `json:"objectId"`
	// Kind is ServicePrincipal, User or ManagedIdentity.
	Kind string `json:"kind"`
	// AppID is the application (client) id of a service principal or a
	// managed identity.
	AppID string `json:"appId,omitempty"`
	// DisplayName is the name people see.
	DisplayName string `json:"displayName"`
	// UserPrincipalName is a user's sign-in name ("alice@privlink.local").
	UserPrincipalName string `json:"userPrincipalName,omitempty"`
	// ResourceID is the Azure resource a managed identity belongs to: a
	// Microsoft.ManagedIdentity/userAssignedIdentities resource, or the
	// resource whose system-assigned identity it is.
	ResourceID string `json:"resourceId,omitempty"`
	// Builtin objects are the ones every privlink has (the default service
	// principal and managed identity): they cannot be deleted.
	Builtin bool `json:"builtin,omitempty"`
	// Secrets are a service principal's client secrets, or a user's password.
	Secrets []Secret `json:"secrets,omitempty"`
	// Created is when the object was made.
	Created time.Time `json:"created"`
}

// Secret is a client secret or password, kept as a salted PBKDF2-SHA256
// hash: what was issued is shown once, when it is made, never again.
type Secret struct {
	// KeyID identifies the secret (Microsoft Graph's passwordCredential keyId).
	KeyID       string `json:"keyId"`
	DisplayName string `json:"displayName,omitempty"`
	// Hint is the secret's first three characters, as Entra ID shows them.
	Hint  string    `json:"hint,omitempty"`
	Start time.Time `json:"startDateTime"`
	// End is when the secret stops working (zero: never).
	End  time.Time `json:"endDateTime,omitzero"`
	Salt []byte    `json:"salt"`
	Hash []byte    `json:"hash"`
}

// pbkdf2Iterations keeps a token request around a millisecond: the
// secrets guard an emulator's principals, and clients cache their tokens.
const pbkdf2Iterations = 4096

func hashSecret(secret string, salt []byte) []byte {
	h, err := pbkdf2.Key(sha256.New, secret, salt, pbkdf2Iterations, 32)
	if err != nil {
		panic("identity: pbkdf2: " + err.Error()) // only for lengths outside FIPS limits, which these are not
	}
	return h
}

// NewSecret makes a secret record for secret (a password chosen by a
// person, or one made by GenerateSecret).
func NewSecret(secret, displayName string, start, end time.Time) Secret {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	hint := secret
	if len(hint) > 3 {
		hint = hint[:3]
	}
	return Secret{KeyID: uuid.NewString(), DisplayName: displayName, Hint: hint, Start: start.UTC(), End: end.UTC(), Salt: salt, Hash: hashSecret(secret, salt)}
}

// secretAlphabet is the characters of generated secrets: Entra ID's client
// secrets are 40 characters of letters, digits and "~._-".
const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~._-"

// GenerateSecret makes a new random client secret in the shape Entra ID's
// have: 40 characters, the fourth to sixth "8Q~".
func GenerateSecret() string {
	b := make([]byte, 37)
	_, _ = rand.Read(b)
	out := make([]byte, 0, 40)
	for i, x := range b {
		if i == 3 {
			out = append(out, "8Q~"...)
		}
		out = append(out, secretAlphabet[int(x)%len(secretAlphabet)])
	}
	return string(out)
}

// Verify reports whether secret is one of o's secrets, valid at now.
func (o *DirectoryObject) Verify(secret string, now time.Time) bool {
	ok := false
	for _, s := range o.Secrets {
		if !s.End.IsZero() && now.After(s.End) {
			continue
		}
		if subtle.ConstantTimeCompare(hashSecret(secret, s.Salt), s.Hash) == 1 {
			ok = true
		}
	}
	return ok
}

// PrincipalType is what role assignments call o: User or ServicePrincipal
// (managed identities included).
func (o *DirectoryObject) PrincipalType() string {
	if o.Kind == KindUser {
		return KindUser
	}
	return KindServicePrincipal
}

// The directory's records: each object under its object id, and index
// records that map an application id, a user principal name or a resource
// id to it. They live outside every ARM path (no resource id starts with
// /privlink/), so no ARM request can reach them.
const (
	objectType   = "privlink.directory/objects"
	indexType    = "privlink.directory/index"
	objectPrefix = "/privlink/directory/objects/"
	appPrefix    = "/privlink/directory/appids/"
	upnPrefix    = "/privlink/directory/upns/"
	resPrefix    = "/privlink/directory/resources"
)

// ErrNotFound is returned for a directory object that does not exist.
var ErrNotFound = store.ErrNotFound

// indexKeys are the index records that point at o.
func indexKeys(o *DirectoryObject) []string {
	var out []string
	if o.AppID != "" {
		out = append(out, appPrefix+strings.ToLower(o.AppID))
	}
	if o.UserPrincipalName != "" {
		out = append(out, upnPrefix+strings.ToLower(o.UserPrincipalName))
	}
	if o.ResourceID != "" {
		out = append(out, resPrefix+strings.ToLower(o.ResourceID))
	}
	return out
}

// GetObject reads the object with the given object id (ErrNotFound if absent).
func GetObject(tx store.Tx, objectID string) (*DirectoryObject, error) {
	rec, err := tx.Get(objectPrefix + strings.ToLower(objectID))
	if err != nil {
		return nil, err
	}
	o := &DirectoryObject{}
	if err := json.Unmarshal(rec.Body, o); err != nil {
		return nil, fmt.Errorf("identity: directory object %s: %w", objectID, err)
	}
	return o, nil
}

func byIndex(tx store.Tx, key string) (*DirectoryObject, error) {
	rec, err := tx.Get(key)
	if err != nil {
		return nil, err
	}
	return GetObject(tx, string(rec.Body))
}

// FindApp reads the service principal or managed identity with the given
// application (client) id (ErrNotFound if absent).
func FindApp(tx store.Tx, appID string) (*DirectoryObject, error) {
	return byIndex(tx, appPrefix+strings.ToLower(appID))
}

// FindUser reads the user with the given user principal name (ErrNotFound if absent).
func FindUser(tx store.Tx, upn string) (*DirectoryObject, error) {
	return byIndex(tx, upnPrefix+strings.ToLower(upn))
}

// FindResource reads the managed identity of the Azure resource with the
// given id (ErrNotFound if absent).
func FindResource(tx store.Tx, resourceID string) (*DirectoryObject, error) {
	return byIndex(tx, resPrefix+strings.ToLower(resourceID))
}

// SaveObject creates or replaces o and its index records. It refuses (an
// error wrapping store.ErrExists) an application id, user principal name
// or resource that another object has.
func SaveObject(tx store.Tx, o *DirectoryObject) error {
	key := objectPrefix + strings.ToLower(o.ObjectID)
	var old *DirectoryObject
	if cur, err := GetObject(tx, o.ObjectID); err == nil {
		old = cur
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	keep := map[string]bool{}
	for _, k := range indexKeys(o) {
		keep[k] = true
		rec, err := tx.Get(k)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if err := tx.Create(&store.Record{ID: k, Type: indexType, Body: []byte(strings.ToLower(o.ObjectID))}); err != nil {
				return err
			}
		case err != nil:
			return err
		case string(rec.Body) != strings.ToLower(o.ObjectID):
			return fmt.Errorf("identity: %s belongs to another directory object: %w", strings.TrimPrefix(k, "/privlink/directory/"), store.ErrExists)
		}
	}
	if old != nil {
		for _, k := range indexKeys(old) {
			if !keep[k] {
				if err := tx.Delete(k); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		}
	}
	body, err := json.Marshal(o)
	if err != nil {
		return err
	}
	rec := &store.Record{ID: key, Type: objectType, Body: body}
	if old != nil {
		return tx.Replace(rec)
	}
	return tx.Create(rec)
}

// DeleteObject removes the object with the given object id and its index
// records (ErrNotFound if absent).
func DeleteObject(tx store.Tx, objectID string) error {
	o, err := GetObject(tx, objectID)
	if err != nil {
		return err
	}
	for _, k := range indexKeys(o) {
		if err := tx.Delete(k); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return tx.Delete(objectPrefix + strings.ToLower(o.ObjectID))
}

// ListObjects returns the objects of a kind ("" for all), sorted by display
// name then object id.
func ListObjects(tx store.Tx, kind string) ([]*DirectoryObject, error) {
	recs, err := tx.List(store.Query{Type: objectType})
	if err != nil {
		return nil, err
	}
	var out []*DirectoryObject
	for _, rec := range recs {
		o := &DirectoryObject{}
		if err := json.Unmarshal(rec.Body, o); err != nil {
			return nil, fmt.Errorf("identity: directory object %s: %w", rec.ID, err)
		}
		if kind == "" || o.Kind == kind {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !strings.EqualFold(out[i].DisplayName, out[j].DisplayName) {
			return strings.ToLower(out[i].DisplayName) < strings.ToLower(out[j].DisplayName)
		}
		return out[i].ObjectID < out[j].ObjectID
	})
	return out, nil
}
