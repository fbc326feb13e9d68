// Package app assembles a privlink server: data directory, store, identity,
// engine, providers, operation worker and listeners. cmd/privlink and the
// end-to-end tests start servers through it.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/authz"
	"github.com/privlink/privlink/internal/certs"
	"github.com/privlink/privlink/internal/dataplane"
	"github.com/privlink/privlink/internal/deploy"
	"github.com/privlink/privlink/internal/deploy/plan"
	"github.com/privlink/privlink/internal/deploy/template"
	"github.com/privlink/privlink/internal/httpapi"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/operation"
	"github.com/privlink/privlink/internal/portal"
	"github.com/privlink/privlink/internal/providers"
	"github.com/privlink/privlink/internal/providers/authorization"
	"github.com/privlink/privlink/internal/providers/keyvault"
	"github.com/privlink/privlink/internal/providers/resources"
	"github.com/privlink/privlink/internal/proxy"
	"github.com/privlink/privlink/internal/resource"
	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/postgres"
	"github.com/privlink/privlink/internal/store/sqlite"
)

// Config configures a server.
type Config struct {
	// Addr is the HTTPS listen address, e.g. "127.0.0.1:8443" (":0" picks a port).
	Addr string
	// HTTPAddr, when set, also serves plain HTTP there.
	HTTPAddr string
	// DataDir holds the database, certificates and keys.
	DataDir string
	// ProvisioningDelay is how long asynchronous operations take.
	ProvisioningDelay time.Duration
	// PageSize bounds pageable lists.
	PageSize int
	Logger   *slog.Logger
	// AccessLog logs each request at Info.
	AccessLog bool
	// Hosts are extra names the server certificate covers.
	Hosts []string
	// Offline makes the transparent proxy refuse every destination privlink
	// does not serve itself, instead of tunnelling it (hermetic test runs).
	Offline bool
	// Binder is the template language deployments use (default:
	// internal/deploy/template; tests give others).
	Binder plan.Binder
	// TemplateRoot is the directory linked template URIs are read from
	// (template.DirLinks); "" refuses linked templates.
	TemplateRoot string
	// DeploymentHistory bounds each scope's deployment history (zero:
	// Azure's numbers; tests give smaller ones).
	DeploymentHistory deploy.History
	// Store selects the store: "" for the embedded SQLite database in the
	// data directory, or a PostgreSQL URL ("postgres://user@host/db").
	Store string
	// OperationRetention is how long the record (and status URL) of an
	// ended long-running operation is kept; 0 means
	// operation.DefaultRetention (24 hours), negative keeps them forever.
	OperationRetention time.Duration
	// NoAccessControl lets every authenticated principal do everything
	// (role assignments are still kept, and enforced again when it is
	// turned back on).
	NoAccessControl bool
	// PrivateRange holds the clusters' managed networks (loopback
	// addresses; zero: dataplane.DefaultRange).
	PrivateRange netip.Prefix
	// DataPathMaxClusters bounds the clusters whose data path state is
	// kept loaded at once (zero: dataplane's default, 256); past it the
	// least recently used without open tunnels is dropped, to be read
	// again when next needed.
	DataPathMaxClusters int
	// DataPathMaxTargets bounds the targets kept for their names alone,
	// and the names kept as no target's (zero: dataplane's default, 4096
	// each); past it the least recently used are read again when asked for.
	DataPathMaxTargets int
	// DataPathMaxListeners bounds the endpoint addresses listening at once
	// (zero: dataplane's default, 1024); an endpoint past it is reached
	// through its cluster's egress only.
	DataPathMaxListeners int
	// Replica names this process among the replicas sharing a store
	// (default: the host name and the HTTPS port, "host:8443"): it owns
	// the operations it claims and is printed at start.
	Replica string
}

// PublicHosts are the public Azure host names privlink serves itself through
// its transparent proxy: Resource Manager (both of its names), Microsoft
// Entra ID's login hosts (MSAL's instance discovery included) and Microsoft
// Graph (its lookups of principals, which the Azure CLI makes). A client
// with HTTPS_PROXY pointing at privlink and trusting its CA reaches privlink
// when it calls them, with no endpoint settings.
var PublicHosts = []string{
	"management.azure.com",
	"management.core.windows.net",
	"login.microsoftonline.com",
	"login.windows.net",
	"login.microsoft.com",
	"sts.windows.net",
	"graph.microsoft.com",
}

// Server is a running privlink.
type Server struct {
	cfg     Config
	store   store.Store
	ops     *operation.Engine
	engine  *resource.Engine
	rbac    *authz.RBAC
	ident   *identity.Service
	api     *httpapi.Server
	servers []*http.Server
	https   net.Listener
	mux     *proxy.Mux
	// plane is the data path this process runs: always with the embedded
	// store; with a shared one only while this replica leads it (see
	// leadDataPlane). pmu guards it.
	pmu     sync.Mutex
	plane   *dataplane.Plane
	replica string
	http    net.Listener
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	lock    *os.File
	once    sync.Once

	// fresh are connections that have not sent a request yet (see track).
	mu    sync.Mutex
	fresh map[net.Conn]bool
}

// track remembers connections in StateNew. http.Server.Shutdown waits up to
// five seconds for such a connection to send its first request; a client's
// spare connection never does, so Shutdown closes them itself.
func (s *Server) track(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fresh == nil {
		s.fresh = map[net.Conn]bool{}
	}
	if st == http.StateNew {
		s.fresh[c] = true
	} else {
		delete(s.fresh, c)
	}
}

// randPool makes uuid draw random bytes from a buffer instead of one
// getrandom call per GUID (request ids, names, etags): ids need uniqueness,
// and the syscalls were a measurable share of a request's cost.
var randPool sync.Once

// DataFileName is the database file in the data directory.
const DataFileName = "privlink.db"

// Start opens the data directory and starts serving. The server is ready
// (health answers 200) when Start returns.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	randPool.Do(uuid.EnableRandPool)
	if cfg.OperationRetention == 0 {
		cfg.OperationRetention = operation.DefaultRetention
	}
	if cfg.DataDir == "" {
		return nil, errors.New("app: no data directory")
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	cfg.DataDir = dir
	s := &Server{cfg: cfg}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	// The address first: a server that cannot listen leaves no data
	// directory or CA behind.
	if s.https, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if s.lock, err = lockDir(dir, s.https.Addr().String()); err != nil {
		return nil, err
	}
	s.replica = cfg.Replica
	if s.replica == "" {
		s.replica = defaultReplica(s.https.Addr())
	}
	db, err := openStore(ctx, cfg.Store, dir, cfg.Logger)
	if err != nil {
		return nil, err
	}
	s.store = db
	// Replicas sharing a store share the CA, the server certificate and
	// the keys through it, created by whichever starts first.
	feed, shared := db.(store.Feed)
	if shared {
		if err := shareDataDir(ctx, db, dir); err != nil {
			return nil, err
		}
	}
	host, _, _ := net.SplitHostPort(cfg.Addr)
	own := certs.DefaultHosts(append(cfg.Hosts, host)...)
	cert, err := certs.ServerCertificate(dir, own)
	if err != nil {
		return nil, fmt.Errorf("app: server certificate: %w", err)
	}
	if s.ident, err = identity.Open(ctx, dir, identity.Options{Store: db}); err != nil {
		return nil, err
	}
	owner := "local" // the only process on its store: after a restart it is the same owner
	if shared {
		owner = s.replica
	}
	s.ops = operation.New(db, operation.Options{Logger: cfg.Logger, Owner: owner})
	// Access control: the index of role assignments is built from the
	// store once and kept current by the Microsoft.Authorization rules; it
	// decides every request unless access control is off.
	s.rbac = authz.NewRBAC(db, authorization.BuiltinRoles())
	if err := s.rbac.Load(ctx); err != nil {
		return nil, fmt.Errorf("app: loading role assignments: %w", err)
	}
	var authorizer authz.Authorizer = s.rbac
	if cfg.NoAccessControl {
		authorizer = authz.AllowAll{}
	}
	s.engine = resource.New(db, s.ops, resource.Config{
		ProvisioningDelay: cfg.ProvisioningDelay,
		PageSize:          cfg.PageSize,
		Logger:            cfg.Logger,
		Authorizer:        authorizer,
	})
	provs := providers.Register(s.engine, s.rbac)
	// The embedded store keeps the types only ever listed under their
	// parent (endpoints, connections) or by key prefix (the data path's
	// addresses) out of its indexes by parent and by type, before anything
	// is written.
	if pl, ok := db.(store.ParentLister); ok {
		if err := pl.SetParentListed(ctx, append(s.engine.ParentListedTypes(), dataplane.AddressType)); err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
	}
	var links plan.Links
	if cfg.TemplateRoot != "" {
		links = template.DirLinks(cfg.TemplateRoot)
	}
	binder := cfg.Binder
	if binder == nil {
		binder = template.NewBinder(links)
	}
	deploy.Register(s.engine, deploy.Config{Binder: binder, Links: links, Secrets: keyvault.SecretValue, History: cfg.DeploymentHistory, Logger: cfg.Logger})
	if err := resources.Bootstrap(ctx, s.engine, identity.DefaultTenantID, identity.DefaultSubscriptionID, "privlink default subscription"); err != nil {
		return nil, fmt.Errorf("app: seeding the default subscription: %w", err)
	}
	// Out of the box the default service principal and managed identity
	// own the default subscription, as a subscription's creator does in
	// Azure: a newcomer's first endpoint to their own resource is approved
	// at once.
	if err := provs.Authorization.SeedOwners(ctx, s.engine, identity.DefaultSubscriptionID, identity.DefaultClientObjectID, identity.ManagedIdentityObjectID); err != nil {
		return nil, fmt.Errorf("app: seeding the default owners: %w", err)
	}
	// The data path: every cluster's managed network, following the
	// engine's commits.
	s.api = &httpapi.Server{Engine: s.engine, Identity: s.ident, Log: cfg.Logger, AccessLog: cfg.AccessLog, Check: storeCheck(db), OwnHosts: own,
		Info: httpapi.Info{DataDir: dir, CAFile: certs.CAPath(dir), PublicHosts: PublicHosts}}
	var targets []portal.Target
	for _, typ := range provs.Links.Types() {
		t := provs.Links.Lookup(typ)
		targets = append(targets, portal.Target{Type: t.Type, APIVersion: portal.APIVersionOf(t.Type, t.APIVersions), Managed: t.Managed})
	}
	ui, err := portal.New(portal.Config{Identity: s.ident, DataDir: dir, Targets: targets, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("app: portal: %w", err)
	}
	s.api.Portal = ui
	handler := s.api.Handler()

	// One port is both the HTTPS API and the transparent proxy (see
	// proxy.Mux): connections for the Azure names privlink serves come back
	// from the proxy into the same TLS server, which presents a certificate
	// for the name the client asked for.
	hosts := &proxy.Hosts{Names: PublicHosts, Offline: cfg.Offline}
	issuer, err := certs.NewIssuer(dir, cert, hosts.Match)
	if err != nil {
		return nil, err
	}
	s.mux = proxy.NewMux(s.https, &proxy.Proxy{Policy: hosts, Log: cfg.Logger}, 30*time.Second)
	hosts.Serve = func(c net.Conn) { _ = s.mux.Inject(c) }
	// The data path: every cluster's managed network, following the
	// engine's commits. Its egress decides for names that are no target's
	// as the transparent proxy does.
	pc := dataplane.Config{Engine: s.engine, Range: cfg.PrivateRange, DataDir: dir, Cert: cert, Fallback: hosts, Log: cfg.Logger, Delivered: true,
		MaxClusters: cfg.DataPathMaxClusters, MaxTargets: cfg.DataPathMaxTargets, MaxListeners: cfg.DataPathMaxListeners}
	s.engine.Watch(func(keys []string) {
		p := s.dataPlane()
		switch {
		case p == nil:
		case shared:
			// With replicas the data path follows every replica's commits
			// a moment after they commit (the others' arrive through the
			// feed anyway), and its own endpoints wait for it (Settle): a
			// request does not wait for a refresh that may itself write
			// through the database-wide lock.
			p.ChangedLater(keys)
		default:
			// Alone, a change takes effect before its caller hears of it.
			p.Changed(keys)
		}
	})
	el, canLead := db.(store.Elector)
	if !shared || !canLead {
		p, err := dataplane.New(pc)
		if err != nil {
			return nil, fmt.Errorf("app: data path: %w", err)
		}
		s.setDataPlane(p)
		if err := p.Start(ctx); err != nil {
			return nil, fmt.Errorf("app: data path: %w", err)
		}
		s.api.SetDataPlane(p)
	}
	s.api.Info.ProxyURL = s.ProxyURL()
	if s.Shared() {
		s.api.Info.Replica = s.replica
	}
	if cfg.HTTPAddr != "" {
		if s.http, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return nil, err
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if shared {
		// Other replicas' commits reach what this one keeps beside the
		// store (pollers, the worker, access control, the data path), and
		// every request waits until they have (no stale read).
		feed.Follow(func(ch store.Change) { s.follow(ch) })
		s.api.Barrier = feed.Barrier
		if canLead {
			s.api.DataPlaneAt = s.dataPlaneAt
			s.api.Forward = forwardTransport(dir)
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.leadDataPlane(runCtx, el, pc) }()
		}
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.ops.Run(runCtx) }()
	go func() {
		defer s.wg.Done()
		s.ops.Sweep(runCtx, cfg.OperationRetention, sweepInterval(cfg.OperationRetention))
	}()

	errLog := slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second, ErrorLog: errLog, ConnState: s.track,
		TLSConfig: &tls.Config{GetCertificate: issuer.GetCertificate, MinVersion: tls.VersionTLS12}}
	s.servers = append(s.servers, hs)
	s.serve(hs, tls.NewListener(s.mux, hs.TLSConfig))
	if s.http != nil {
		h := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second, ErrorLog: errLog, ConnState: s.track}
		s.servers = append(s.servers, h)
		s.serve(h, s.http)
	}
	s.api.SetReady(true)
	ok = true
	cfg.Logger.Info("privlink ready", "replica", s.replica, "https", s.URL(), "http", s.HTTPURL(), "data", dir, "ca", s.CAPath())
	return s, nil
}

func (s *Server) serve(h *http.Server, l net.Listener) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := h.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.Error("serve", "err", err)
		}
	}()
}

// sweepInterval is how often ended operations past their retention are
// removed: a tenth of the retention (so one outlives it by at most 10%),
// between a second and ten minutes.
func sweepInterval(retention time.Duration) time.Duration {
	return min(max(retention/10, time.Second), 10*time.Minute)
}

// openStore opens the store cfg.Store names (see Config.Store).
func openStore(ctx context.Context, url, dir string, log *slog.Logger) (store.Store, error) {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		return postgres.Open(ctx, url, postgres.Options{Logger: log})
	}
	if url != "" {
		return nil, fmt.Errorf("app: unknown store %q (want a postgres:// URL, or nothing for the data directory's SQLite database)", url)
	}
	return sqlite.Open(filepath.Join(dir, DataFileName), sqlite.Options{})
}

// storeCheck is the readiness check of a store that can fail for good
// (sqlite refuses writes after a failed commit), or nil.
func storeCheck(db store.Store) func() error {
	if c, ok := db.(interface{ Err() error }); ok {
		return c.Err
	}
	return nil
}

// URL is the HTTPS base URL ("https://127.0.0.1:8443").
func (s *Server) URL() string { return "https://" + s.https.Addr().String() }

// HTTPURL is the plain HTTP base URL, or "".
func (s *Server) HTTPURL() string {
	if s.http == nil {
		return ""
	}
	return "http://" + s.http.Addr().String()
}

// ProxyURL is the transparent proxy's address as HTTPS_PROXY takes it
// ("http://127.0.0.1:8443": the proxy protocol is plain HTTP CONNECT, on the
// same port as the HTTPS API).
func (s *Server) ProxyURL() string { return "http://" + s.https.Addr().String() }

// DataDir is the absolute data directory.
func (s *Server) DataDir() string { return s.cfg.DataDir }

// CAPath is the file of the CA that signed the server certificate.
func (s *Server) CAPath() string { return certs.CAPath(s.cfg.DataDir) }

// Engine is the resource engine (for tests and tools in-process).
func (s *Server) Engine() *resource.Engine { return s.engine }

// DataPlane is the data path (clusters' managed networks) this process
// runs, or nil (a replica that does not lead it).
func (s *Server) DataPlane() *dataplane.Plane { return s.dataPlane() }

// Replica is this process's name among the replicas sharing its store.
func (s *Server) Replica() string { return s.replica }

// Shared reports whether the store is shared with other replicas.
func (s *Server) Shared() bool {
	_, ok := s.store.(store.Feed)
	return ok
}

// Identity is the identity service.
func (s *Server) Identity() *identity.Service { return s.ident }

// Shutdown stops accepting requests, lets the ones in flight finish (until
// ctx ends), stops the operation worker and closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		s.api.SetReady(false)
		go func() {
			// Shutdown stops the listeners first, so no new connection appears after this.
			time.Sleep(100 * time.Millisecond)
			s.mu.Lock()
			for c := range s.fresh {
				c.Close()
			}
			s.mu.Unlock()
		}()
		for _, h := range s.servers {
			if e := h.Shutdown(ctx); e != nil {
				err = errors.Join(err, e)
			}
		}
		err = errors.Join(err, s.close())
	})
	return err
}

func (s *Server) close() error {
	if s.cancel != nil {
		s.cancel()
	}
	if s.mux != nil {
		s.mux.Close()
	}
	if p := s.dataPlane(); p != nil {
		p.Close()
	}
	for _, l := range []net.Listener{s.https, s.http} {
		if l != nil {
			l.Close()
		}
	}
	s.wg.Wait()
	var err error
	if s.store != nil {
		err = s.store.Close()
	}
	if s.lock != nil {
		s.lock.Close()
	}
	return err
}

// lockDir takes an exclusive lock on the data directory, so that two servers
// never share one embedded database. The kernel releases it if the process
// dies. The lock file names its holder (process id and address, one line),
// for the refusal of the next server to say which one holds it.
func lockDir(dir, addr string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "privlink.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := io.ReadAll(io.LimitReader(f, 256))
		f.Close()
		msg := fmt.Sprintf("data directory %s is in use by another privlink server", dir)
		if h := strings.TrimSpace(string(holder)); h != "" && utf8.ValidString(h) && !strings.ContainsAny(h, "\n\r") {
			msg += " (" + h + ")"
		}
		return nil, errors.New(msg + ": stop it, or give this one another --data")
	}
	// Best effort: the lock, not its text, keeps the directory.
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("process %d, https://%s\n", os.Getpid(), addr)), 0)
	}
	return f, nil
}
