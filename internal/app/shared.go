package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/privlink/privlink/internal/certs"
	"github.com/privlink/privlink/internal/fsutil"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/portal"
	"github.com/privlink/privlink/internal/store"
)

// sharedPrefix starts the store records that hold the data directory's
// secrets for replicas sharing a store: one record per file, out of ARM's
// reach (no ARM path starts with /privlink).
const sharedPrefix = "/privlink/shared/"

// sharedType is those records' type.
const sharedType = "privlink/sharedFile"

// SharedFiles are the files that replicas sharing one store must agree
// on, so that they act as one privlink: the CA (every replica's
// certificate chains to it, and 'privlink env' trusts it), the server
// certificate, the token signing key (a token from one replica is valid at
// all), the managed identity secret and the portal's session key (a
// session opened at one replica is valid at all).
var SharedFiles = append(append([]string(nil), certs.Files...), identity.SigningKeyFile, identity.MSISecretFile, portal.KeyFile)

// sharedFile is a shared file's record body.
type sharedFile struct {
	Data []byte `json:"data"`
}

// shareDataDir makes dir hold the shared files the store holds: what the
// store has replaces what dir has; what neither has is created in dir
// (as a server alone would) and stored, unless another replica stored
// its own meanwhile, which then wins. Store writes are serialized, so the
// first replica to start creates them once and the others copy them; a
// replica starts with an empty data directory. A replica whose names the
// shared server certificate does not cover makes its own afterwards,
// signed by the shared CA (certs.ServerCertificate), and keeps it local.
func shareDataDir(ctx context.Context, db store.Store, dir string) error {
	missing, err := fetchShared(ctx, db, dir, SharedFiles)
	if err != nil || len(missing) == 0 {
		return err
	}
	// Create what a server alone would, in dir.
	if _, err := certs.ServerCertificate(dir, certs.DefaultHosts()); err != nil {
		return err
	}
	if err := identity.EnsureKeys(dir); err != nil {
		return err
	}
	if err := portal.EnsureKey(dir); err != nil {
		return err
	}
	won := map[string][]byte{}
	err = db.Update(ctx, func(tx store.Tx) error {
		clear(won)
		for _, name := range SharedFiles {
			rec, err := tx.Get(store.Key(sharedPrefix + name))
			if err == nil {
				var f sharedFile
				if err := json.Unmarshal(rec.Body, &f); err != nil {
					return fmt.Errorf("app: shared file %s: %w", name, err)
				}
				won[name] = f.Data
				continue
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return err
			}
			body, _ := json.Marshal(sharedFile{Data: b})
			if err := tx.Create(&store.Record{ID: sharedPrefix + name, Type: sharedType, Body: body}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("app: sharing the data directory's keys: %w", err)
	}
	for name, b := range won {
		if err := fsutil.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// fetchShared writes the named shared files the store holds into dir
// (replacing what is there) and returns the names it does not hold.
func fetchShared(ctx context.Context, db store.Store, dir string, names []string) (missing []string, err error) {
	got := map[string][]byte{}
	err = db.View(ctx, func(tx store.Tx) error {
		for _, name := range names {
			rec, err := tx.Get(store.Key(sharedPrefix + name))
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			var f sharedFile
			if err := json.Unmarshal(rec.Body, &f); err != nil {
				return fmt.Errorf("app: shared file %s: %w", name, err)
			}
			got[name] = f.Data
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for _, name := range names {
		b, ok := got[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		path := filepath.Join(dir, name)
		if old, err := os.ReadFile(path); err == nil && string(old) == string(b) {
			continue
		}
		if err := fsutil.WriteFile(path, b, 0o600); err != nil {
			return nil, err
		}
	}
	return missing, nil
}

// FetchShared copies the CA certificate and the managed identity secret
// of the replicas sharing the store at url into dir, for 'privlink env
// --store': the environment of any of them, read from the database they
// share. It fails when no replica has started on that store yet.
func FetchShared(ctx context.Context, url, dir string) error {
	db, err := openStore(ctx, url, dir, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, ok := db.(store.Feed); !ok {
		return fmt.Errorf("app: %q is not a shared store (want a postgres:// URL)", url)
	}
	missing, err := fetchShared(ctx, db, dir, []string{certs.CAFile, identity.MSISecretFile})
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("app: no privlink replica has started on this store yet (it holds no %s)", missing[0])
	}
	return nil
}
