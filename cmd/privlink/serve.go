package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // --pprof-addr
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/privlink/privlink/internal/app"
	"github.com/privlink/privlink/internal/dataplane"
	"github.com/privlink/privlink/internal/logbuf"
	"github.com/privlink/privlink/internal/operation"
	"github.com/spf13/cobra"
)

// Defaults shared by serve, env and login.
const (
	defaultAddr = "127.0.0.1:8443"
	defaultData = "privlink-data"
)

// redactURL hides the password of a store URL for printing.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// storeArg is how the hint to run env names the store URL raw: as
// "$PRIVLINK_STORE" when that is where it came from, so that the line
// works as printed; otherwise quoted, with its password elided
// (redactURL), since the output is no place for it, and a note saying so.
func storeArg(raw string) (arg, note string) {
	if raw != "" && raw == os.Getenv("PRIVLINK_STORE") {
		return `"$PRIVLINK_STORE"`, ""
	}
	if r := redactURL(raw); r != raw {
		return shellQuote(r), " (with the store URL's password, elided here)"
	}
	return shellQuote(raw), ""
}

func serveCmd(g *globals) *cobra.Command {
	var cfg app.Config
	accessControl := true
	var level, format, pprofAddr string
	var hosts []string
	var privateRange string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the privlink server (HTTPS, embedded storage in the data directory)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("store") {
				cfg.Store = os.Getenv("PRIVLINK_STORE")
			}
			var lv slog.Level
			if err := lv.UnmarshalText([]byte(level)); err != nil {
				return fmt.Errorf("--log-level: %q is not a level: give debug, info, warn or error", level)
			}
			format = strings.ToLower(format)
			if format != "text" && format != "json" {
				return fmt.Errorf("--log-format: %q is not a format: give text or json", format)
			}
			opts := &slog.HandlerOptions{Level: lv}
			// Log lines are written in batches (every 100 ms, warnings
			// and errors at once), so the access log costs a copy per
			// request rather than a write to the terminal or journal.
			lw := logbuf.New(g.stderr, 0)
			defer lw.Close()
			var h slog.Handler = slog.NewTextHandler(lw, opts)
			if format == "json" {
				h = slog.NewJSONHandler(lw, opts)
			}
			cfg.Logger = slog.New(logbuf.Handler(h, lw, slog.LevelWarn))
			cfg.Hosts = hosts
			r, err := netip.ParsePrefix(privateRange)
			if err == nil {
				err = dataplane.CheckRange(r)
			}
			if err != nil {
				return fmt.Errorf("--private-range: %w", err)
			}
			cfg.PrivateRange = r
			for _, b := range []struct {
				flag string
				n    int
			}{{"data-path-max-clusters", cfg.DataPathMaxClusters}, {"data-path-max-targets", cfg.DataPathMaxTargets}, {"data-path-max-listeners", cfg.DataPathMaxListeners}} {
				if b.n < 1 {
					return fmt.Errorf("--%s: %d: give at least 1", b.flag, b.n)
				}
			}
			cfg.NoAccessControl = !accessControl
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			s, err := app.Start(ctx, cfg)
			if err != nil {
				return err
			}
			if pprofAddr != "" {
				// Go's profiler, for measuring privlink itself; never on by default.
				go func() { cfg.Logger.Warn("pprof", "err", http.ListenAndServe(pprofAddr, nil)) }()
			}
			fmt.Fprintf(g.stdout, "privlink is serving Azure Resource Manager at %s\n", s.URL())
			// One line naming this process among the replicas of its store
			// (distinct per replica: host and port by default).
			if s.Shared() {
				fmt.Fprintf(g.stdout, "replica %s (store shared with the other replicas on %s)\n", s.Replica(), redactURL(cfg.Store))
			} else {
				fmt.Fprintf(g.stdout, "replica %s (embedded store)\n", s.Replica())
			}
			if u := s.HTTPURL(); u != "" {
				fmt.Fprintf(g.stdout, "plain HTTP at %s\n", u)
			}
			fmt.Fprintf(g.stdout, "transparent proxy (HTTPS_PROXY) at %s for %s\n", s.ProxyURL(), strings.Join(app.PublicHosts, ", "))
			fmt.Fprintf(g.stdout, "clusters' managed networks in %s (privlink egress --cluster ID)\n", r)
			fmt.Fprintf(g.stdout, "CA certificate: %s\n", s.CAPath())
			if s.Shared() {
				arg, note := storeArg(cfg.Store)
				fmt.Fprintf(g.stdout, "point your tools at it (or at any replica, or their load balancer) with: eval \"$(%s env --addr %s --store %s)\"%s\n", selfCommand(), strings.TrimPrefix(s.URL(), "https://"), arg, note)
			} else {
				fmt.Fprintf(g.stdout, "point your tools at it with: eval \"$(%s env --addr %s --data %s)\"\n", selfCommand(), strings.TrimPrefix(s.URL(), "https://"), s.DataDir())
			}
			<-ctx.Done()
			cfg.Logger.Info("shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return s.Shutdown(sctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", defaultAddr, "HTTPS listen address")
	f.StringVar(&cfg.HTTPAddr, "http-addr", "", "also serve plain HTTP on this address (off when empty)")
	f.StringVar(&cfg.DataDir, "data", defaultData, "data directory: database, certificates, keys")
	// The default is applied in RunE, not given here: cobra prints a flag's
	// default in --help, and a PostgreSQL URL carries its password.
	f.StringVar(&cfg.Store, "store", "", "where resources and operations are kept: empty for the SQLite database in the data directory, or a PostgreSQL URL postgres://user@host/db (default $PRIVLINK_STORE)")
	f.DurationVar(&cfg.ProvisioningDelay, "provisioning-delay", 2*time.Second, "how long asynchronous operations (creating clusters and endpoints, deletes) take")
	f.IntVar(&cfg.PageSize, "page-size", 100, "items per page of pageable lists")
	f.DurationVar(&cfg.OperationRetention, "operation-retention", operation.DefaultRetention, "how long an ended long-running operation's status stays readable before its record is removed (Azure keeps them at least 24h; negative: forever)")
	f.BoolVar(&cfg.AccessLog, "access-log", true, "log every request at info level")
	f.StringVar(&level, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&format, "log-format", "text", "log format: text or json")
	f.StringSliceVar(&hosts, "host", nil, "extra host names the server certificate covers")
	f.StringVar(&cfg.TemplateRoot, "template-root", "", "directory that linked template URIs (templateLink, parametersLink, relativePath) are read from; off when empty")
	f.BoolVar(&accessControl, "access-control", true, "enforce role-based access control (false: every valid token may do everything, and every new endpoint is approved at once)")
	f.BoolVar(&cfg.Offline, "offline", false, "the transparent proxy refuses hosts privlink does not serve, instead of tunnelling them to the network")
	f.StringVar(&cfg.Replica, "replica-name", "", "this process's name among the replicas sharing a --store (default: host name and HTTPS port)")
	f.StringVar(&privateRange, "private-range", dataplane.DefaultRange.String(), "loopback addresses (inside 127.0.0.0/8, at least a /23) for the clusters' managed networks: a /24 per cluster, private endpoint addresses, egress and DNS")
	f.IntVar(&cfg.DataPathMaxClusters, "data-path-max-clusters", dataplane.DefaultMaxClusters, "clusters whose data path state (endpoints, their targets) is kept in memory at once; past it the least recently used without open tunnels is dropped and read again from the store when next needed")
	f.IntVar(&cfg.DataPathMaxTargets, "data-path-max-targets", dataplane.DefaultMaxTargets, "targets the data path keeps for their host names alone, and as many names known to be no target's; past it the least recently used are read again from the store when asked for")
	f.IntVar(&cfg.DataPathMaxListeners, "data-path-max-listeners", dataplane.DefaultMaxListeners, "endpoint private addresses listening at once (first come); an endpoint past it is reached through its cluster's egress only, and GET /_privlink/network gives its notListening reason")
	f.StringVar(&pprofAddr, "pprof-addr", "", "serve Go's /debug/pprof/ profiler on this (local) address, for performance work")
	return cmd
}

// selfCommand is how the user ran privlink, for commands serve suggests:
// "go run ./cmd/privlink" when the binary is go run's temporary build,
// else the name it was started by.
func selfCommand() string {
	if strings.Contains(filepath.ToSlash(os.Args[0]), "/go-build") {
		return "go run ./cmd/privlink"
	}
	return os.Args[0]
}
