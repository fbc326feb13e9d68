package deploy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/resource"
	"github.com/privlink/privlink/internal/store"
)

// Azure's limits on a scope's deployment history, from "Automatic deletions
// from deployment history" (https://learn.microsoft.com/en-us/azure/azure-resource-manager/templates/deployment-history-deletions):
// each scope holds at most 800 deployments, and a new deployment beyond them
// fails; deployments are deleted from the history when it exceeds 700,
// oldest first, until it is down to 600.
const (
	// HistoryLimit is the most deployments a scope's history holds.
	HistoryLimit = 800
	// HistoryTrigger: deletions start when the history holds more than this.
	HistoryTrigger = 700
	// HistoryTarget is what deletions bring the history down to.
	HistoryTarget = 600
)

// History bounds the deployment history of each scope (a resource group, a
// subscription). The zero value, and each field left zero, is Azure's
// numbers; others are for tests, which cannot wait for 700 deployments.
type History struct {
	// Limit is the most deployments a scope holds: a deployment of a new
	// name beyond it fails with DeploymentQuotaExceeded (default 800).
	Limit int
	// Trigger: a deployment, validate or what-if at a scope that holds more
	// than Trigger deployments deletes the oldest ones (default 700).
	Trigger int
	// Target is how many deployments the deletions leave (default 600).
	Target int
}

// withDefaults fills h's zero fields with Azure's numbers and checks that
// Target < Trigger < Limit.
func (h History) withDefaults() History {
	if h.Limit == 0 {
		h.Limit = HistoryLimit
	}
	if h.Trigger == 0 {
		h.Trigger = HistoryTrigger
	}
	if h.Target == 0 {
		h.Target = HistoryTarget
	}
	if h.Target < 0 || h.Target >= h.Trigger || h.Trigger >= h.Limit {
		panic(fmt.Sprintf("deploy: History %+v: want 0 <= Target < Trigger < Limit", h))
	}
	return h
}

// trimBatch bounds the deployments one transaction of a trim deletes, so
// that a trim of a hundred deployments (and their operations) never holds
// the store's writer for long.
const trimBatch = 50

// extPlace holds a deployment's place in its scope's history: a UUIDv7
// (time-ordered, increasing within the process) drawn when the record was
// written by a PUT. A PUT of the same name writes a new record, so it
// moves the deployment to the newest place, as the page above says.
const extPlace = "deploymentPlace"

// newPlace is the place of a deployment written now.
func newPlace() string { return uuid.Must(uuid.NewV7()).String() }

// place is where a deployment stands in its history, oldest first.
type place struct {
	at  time.Time
	seq string // the UUIDv7, "" for records written before places were kept
}

func placeOf(doc *resource.Doc) place {
	var s string
	if doc.Ext(extPlace, &s) {
		if u, err := uuid.Parse(s); err == nil {
			sec, nsec := u.Time().UnixTime()
			return place{at: time.Unix(sec, nsec), seq: s}
		}
	}
	// A record from before places: its timestamp (when it ended, or
	// started if it has not) is the best there is.
	ts, _, _ := doc.Props().String("timestamp")
	at, _ := time.Parse(time.RFC3339Nano, ts)
	return place{at: at}
}

func (p place) equal(q place) bool { return p.seq == q.seq && p.at.Equal(q.at) }

func (p place) before(q place) bool {
	if !p.at.Equal(q.at) {
		return p.at.Before(q.at)
	}
	return p.seq < q.seq
}

// deploymentQuotaExceeded is ARM's answer to a deployment that would take a
// scope's history beyond its limit (learn.microsoft.com ...
// /troubleshooting/deployment-quota-exceeded).
func deploymentQuotaExceeded(name string, limit, count int) *arm.Error {
	return arm.Errorf(arm.CodeDeploymentQuotaExceeded, "Creating the deployment '%s' would exceed the quota of '%d'. The current deployment count is '%d'. Please delete some deployments before creating a new one, or see https://aka.ms/800LimitFix for information on managing deployment limits.", name, limit, count)
}

// scopeOf is the scope whose history holds the deployment id.
func scopeOf(id arm.ResourceID) arm.ResourceID {
	return arm.ResourceID{Subscription: id.Subscription, ResourceGroup: id.ResourceGroup}
}

// historyCount counts the deployments in scope's history, up to max, from
// the keys alone.
func historyCount(c *resource.Ctx, scope arm.ResourceID, max int) (int, error) {
	recs, err := c.Tx.List(store.Query{Parent: scope.Key(), Type: Type, KeysOnly: true, Limit: max})
	return len(recs), err
}

// admit checks, before a PUT of deployment id writes anything, that the
// history has room for it: a new name at a full history fails, and starts
// the deletions (which the deployment may then be tried again after). It
// reports whether the history holds more than the trigger once the
// deployment is written.
func (d *Engine) admit(ctx context.Context, id arm.ResourceID, r *resource.Request) (bool, error) {
	h := d.cfg.History
	var count int
	exists := false
	err := d.res.View(ctx, func(c *resource.Ctx) error {
		var err error
		if count, err = historyCount(c, scopeOf(id), h.Limit); err != nil {
			return err
		}
		_, err = c.Tx.Get(id.Key())
		switch {
		case err == nil:
			exists = true
		case !resource.IsNotFound(err):
			return err
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if exists {
		return count > h.Trigger, nil
	}
	if count >= h.Limit {
		d.trim(ctx, scopeOf(id), r)
		return false, deploymentQuotaExceeded(id.Name(), h.Limit, count)
	}
	return count+1 > h.Trigger, nil
}

// trim applies Azure's automatic deletions to scope's history, as the
// principal of r (a deployment's, a validate's or a what-if's): when it
// holds more than Trigger deployments, the oldest are deleted until it
// holds Target, each exactly as a DELETE of it would (its record and its
// deployment operations), in transactions of at most trimBatch. As Azure's
// do, the deletions pass over deployments still running, deployments the
// principal may not delete (Microsoft.Resources/deployments/delete), and a
// scope under a CanNotDelete or ReadOnly lock (on the group or the
// subscription): there, nothing is deleted. One trim of a scope runs at a
// time; the others return at once. Failures are logged, never answered:
// the request that triggered it has done what it was asked.
func (d *Engine) trim(ctx context.Context, scope arm.ResourceID, r *resource.Request) {
	key := scope.Key()
	d.mu.Lock()
	if d.trimming[key] {
		d.mu.Unlock()
		return
	}
	d.trimming[key] = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.trimming, key)
		d.mu.Unlock()
	}()
	n, why, err := d.trimHistory(ctx, scope, r)
	switch {
	case err != nil && ctx.Err() == nil:
		d.cfg.Logger.Warn("deployment history", "scope", scope.String(), "deleted", n, "err", err)
	case n > 0:
		d.cfg.Logger.Info("deployment history", "scope", scope.String(), "deleted", n, "kept", why)
	case why != "":
		// At every deployment while the history stays full: not worth more.
		d.cfg.Logger.Debug("deployment history", "scope", scope.String(), "deleted", 0, "kept", why)
	}
}

// victim is a deployment a trim deletes.
type victim struct {
	key   string
	place place
}

// trimHistory does trim's work: it returns how many deployments it
// deleted and, when something kept it from deleting enough, why.
func (d *Engine) trimHistory(ctx context.Context, scope arm.ResourceID, r *resource.Request) (int, string, error) {
	h := d.cfg.History
	var (
		all    []victim
		locked string
		ended  = map[string]bool{}
	)
	err := d.res.View(ctx, func(c *resource.Ctx) error {
		count, err := historyCount(c, scope, h.Trigger+1)
		if err != nil || count <= h.Trigger {
			return err
		}
		if locked, err = deleteLock(c, scope); err != nil || locked != "" {
			return err
		}
		docs, err := c.Children(scope, Type)
		if err != nil {
			return err
		}
		for _, doc := range docs {
			v := victim{key: doc.ID.Key(), place: placeOf(doc)}
			all = append(all, v)
			if s, _, _ := doc.Props().String("provisioningState"); terminal(s) {
				ended[v.key] = true
			}
		}
		return nil
	})
	if err != nil || locked != "" {
		return 0, locked, err
	}
	excess := len(all) - h.Target
	if len(all) <= h.Trigger || excess <= 0 {
		return 0, "", nil
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].place.equal(all[j].place) {
			return all[i].place.before(all[j].place)
		}
		return all[i].key < all[j].key
	})
	var (
		doomed          []victim
		running, denied int
	)
	for _, v := range all {
		if len(doomed) == excess {
			break
		}
		if !ended[v.key] {
			running++
			continue
		}
		id, aerr := arm.ParseResourceID(v.key)
		if aerr != nil {
			continue
		}
		if err := d.res.Authorize(ctx, r, Type+"/delete", id); err != nil {
			if ae := arm.AsError(err); ae == nil || (ae.Code != arm.CodeAuthorizationFailed && ae.Code != arm.CodeAuthenticationFailed) {
				return 0, "", err
			}
			denied++
			continue
		}
		doomed = append(doomed, v)
	}
	deleted := 0
	for len(doomed) > 0 {
		batch := doomed[:min(trimBatch, len(doomed))]
		doomed = doomed[len(batch):]
		n := 0
		err := d.res.Update(ctx, func(c *resource.Ctx) error {
			n = 0
			for _, v := range batch {
				doc, err := c.LoadKey(v.key)
				if resource.IsNotFound(err) {
					continue // deleted meanwhile
				}
				if err != nil {
					return err
				}
				if !placeOf(doc).equal(v.place) {
					continue // deployed again meanwhile: now the newest
				}
				err = removeDeployment(c, doc)
				if ae := arm.AsError(err); ae != nil && ae.Code == arm.CodeDeploymentActive {
					continue
				}
				if err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return deleted, "", err
		}
		deleted += n
	}
	var why []string
	if deleted < excess {
		if running > 0 {
			why = append(why, fmt.Sprintf("%d running", running))
		}
		if denied > 0 {
			why = append(why, fmt.Sprintf("%d the deployer may not delete", denied))
		}
	}
	return deleted, strings.Join(why, ", "), nil
}

// deleteLock names a management lock that forbids deletions in scope (a
// CanNotDelete or ReadOnly lock on the resource group or the subscription
// above it), or returns "".
func deleteLock(c *resource.Ctx, scope arm.ResourceID) (string, error) {
	scopes := []arm.ResourceID{{Subscription: scope.Subscription}}
	if scope.ResourceGroup != "" {
		scopes = append(scopes, scope)
	}
	for _, s := range scopes {
		locks, err := c.Children(s, lockType)
		if err != nil {
			return "", err
		}
		for _, l := range locks {
			level, _, _ := l.Props().String("level")
			if strings.EqualFold(level, "CanNotDelete") || strings.EqualFold(level, "ReadOnly") {
				return fmt.Sprintf("%s lock %s", level, l.ID.String()), nil
			}
		}
	}
	return "", nil
}

// lockType is the type of management locks (served generically).
const lockType = "Microsoft.Authorization/locks"
