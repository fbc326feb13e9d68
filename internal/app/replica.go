package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/privlink/privlink/internal/certs"
	"github.com/privlink/privlink/internal/dataplane"
	"github.com/privlink/privlink/internal/store"
)

// defaultReplica names a replica after its machine and HTTPS port
// ("build-7:8443"): distinct for replicas on one machine, stable across
// a restart on the same port, so a restarted replica takes back the
// deployments its runners held at once.
func defaultReplica(addr net.Addr) string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	_, port, _ := net.SplitHostPort(addr.String())
	return net.JoinHostPort(h, port)
}

func (s *Server) setDataPlane(p *dataplane.Plane) {
	s.pmu.Lock()
	s.plane = p
	s.pmu.Unlock()
}

func (s *Server) dataPlane() *dataplane.Plane {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	return s.plane
}

// follow hands another replica's commit to what this one keeps beside
// the store. It runs on the store's feed, one change at a time, and
// requests wait for it (Barrier), so it must not wait for requests.
func (s *Server) follow(ch store.Change) {
	s.ops.Follow(ch)
	if err := s.rbac.Follow(context.Background(), ch); err != nil {
		// The index may now miss a change: read it all again at the next
		// change that names nothing, and say so.
		s.cfg.Logger.Error("access control: following another replica's commit", "err", err)
	}
	// The data path's refresh does not hold up the feed (and with it
	// every request's barrier): it may write addresses through this
	// replica's writer. Its own endpoints wait for it (Settle).
	if p := s.dataPlane(); p != nil {
		switch {
		case ch.All:
			p.ChangedLater(nil)
		case len(ch.Keys) > 0:
			p.ChangedLater(ch.Keys)
		}
		// A commit that names no record (an operation's step, a lease)
		// changes nothing the data path serves: ChangedLater(nil) would
		// mean "everything", a full reload at every such commit.
	}
}

// leaderKey is the record naming the replica that runs the data path, so
// that the others forward the data path's endpoints to it.
const leaderKey = "/privlink/replicas/dataplane"

// leader is that record's body.
type leader struct {
	Replica string `json:"replica"`
	URL     string `json:"url"`
}

// leadDataPlane runs the data path while this replica holds its
// leadership (store.Elector): the private addresses and DNS servers exist
// once per machine, and their allocation is kept in the store, so one
// replica at a time serves them and the others forward to it. When the
// leader dies its database session ends and another replica takes over
// within about a second, with the same stored addresses.
func (s *Server) leadDataPlane(ctx context.Context, el store.Elector, pc dataplane.Config) {
	for ctx.Err() == nil {
		lost, release, err := el.Lead(ctx, "dataplane")
		if err != nil {
			return
		}
		if err := s.runDataPlane(lost, pc); err != nil && lost.Err() == nil {
			s.cfg.Logger.Error("data path", "replica", s.replica, "err", err)
			release()
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		release()
	}
}

// runDataPlane starts the data path, publishes this replica as its
// leader, and stops it when lost ends.
func (s *Server) runDataPlane(lost context.Context, pc dataplane.Config) error {
	p, err := dataplane.New(pc)
	if err != nil {
		return err
	}
	// Commits reach the plane from now on (before Start's full read: a
	// change that lands in between is applied again, never missed).
	s.setDataPlane(p)
	defer func() {
		s.api.SetDataPlane(nil)
		s.setDataPlane(nil)
		p.Close()
	}()
	if err := p.Start(lost); err != nil {
		return err
	}
	body, _ := json.Marshal(leader{Replica: s.replica, URL: s.localURL()})
	err = s.store.Update(lost, func(tx store.Tx) error {
		rec, err := tx.Get(store.Key(leaderKey))
		if errors.Is(err, store.ErrNotFound) {
			return tx.Create(&store.Record{ID: leaderKey, Type: sharedType, Body: body})
		}
		if err != nil {
			return err
		}
		rec.Body, rec.Version = body, 0
		return tx.Replace(rec)
	})
	if err != nil {
		return err
	}
	s.api.SetDataPlane(p)
	s.cfg.Logger.Info("this replica runs the data path", "replica", s.replica)
	<-lost.Done()
	s.cfg.Logger.Info("this replica no longer runs the data path", "replica", s.replica)
	return nil
}

// dataPlaneAt is the base URL of the replica that runs the data path, as
// it published it ("" if none has).
func (s *Server) dataPlaneAt(ctx context.Context) (string, error) {
	var l leader
	err := s.store.View(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(store.Key(leaderKey))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(rec.Body, &l)
	})
	return l.URL, err
}

// localURL is this replica's HTTPS address as another process on the
// same machine reaches it (an unspecified listen address becomes
// 127.0.0.1; the data path is per machine).
func (s *Server) localURL() string {
	a := s.https.Addr().(*net.TCPAddr)
	ip := a.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return "https://" + net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
}

// forwardTransport reaches other replicas: they present certificates of
// the shared CA in dir.
func forwardTransport(dir string) http.RoundTripper {
	pool := x509.NewCertPool()
	if b, err := os.ReadFile(certs.CAPath(dir)); err == nil {
		pool.AppendCertsFromPEM(b)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t
}
