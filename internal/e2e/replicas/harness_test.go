// Package replicas tests several privlink serve processes ("replicas")
// sharing one PostgreSQL database as one privlink: the official Azure SDK
// clients spread their requests round robin over the replicas, and the
// tests kill replicas and stop PostgreSQL under load.
package replicas

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/app"
	"github.com/privlink/privlink/internal/testkit"
)

// replica is one privlink serve process.
type replica struct {
	index int
	addr  string // 127.0.0.1:PORT
	url   string // https://127.0.0.1:PORT
	dir   string // its own data directory
	args  []string
	// name is what its "replica NAME" line said.
	name   string
	stdout *testkit.SyncBuffer
	stderr string // file of its standard error
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has ended
}

// fleet is a number of replicas on one store, with an Env whose clients
// spread their requests over them.
type fleet struct {
	t        *testing.T
	bin      string
	store    string
	replicas []*replica
	// ca is the PEM of the CA every replica presents a certificate of.
	ca []byte
	// rr spreads requests; env's HTTP client and SDK options use it, its
	// credential gets tokens from the first replica only.
	rr  *roundRobin
	env *testkit.Env
}

// fleetConfig says how to start a fleet.
type fleetConfig struct {
	n     int           // replicas (3 when 0)
	delay time.Duration // --provisioning-delay
	// names are the replicas' --replica-name; none: their default names.
	names []string
	// timeout bounds each request of env's clients (a minute when 0).
	timeout time.Duration
}

// startFleet starts the replicas at once (so that they race to create the
// shared CA and keys), each on a free 127.0.0.1 port with an empty data
// directory of its own, waits until each is healthy and has said its
// name, and checks that they all present certificates of one CA.
func startFleet(t *testing.T, store string, cfg fleetConfig) *fleet {
	t.Helper()
	if cfg.n == 0 {
		cfg.n = 3
	}
	if cfg.timeout == 0 {
		cfg.timeout = time.Minute
	}
	f := &fleet{t: t, bin: testkit.Binary(t), store: store}
	rng := testkit.RandomRange() // one range: the replicas share the stored addresses
	for i := range cfg.n {
		r := &replica{index: i, addr: freeAddr(t), dir: t.TempDir()}
		r.url = "https://" + r.addr
		r.args = []string{"serve", "--store", store, "--data", r.dir, "--addr", r.addr,
			"--provisioning-delay", cfg.delay.String(), "--private-range", rng.String(),
			"--access-log=false", "--offline"}
		if i < len(cfg.names) {
			r.args = append(r.args, "--replica-name", cfg.names[i])
		}
		r.stderr = filepath.Join(t.TempDir(), "stderr.log")
		f.replicas = append(f.replicas, r)
	}
	t.Cleanup(f.stopAll)
	for _, r := range f.replicas {
		f.start(r)
	}
	for _, r := range f.replicas {
		f.await(r)
	}

	// One CA: every replica's info names a CA file with the same
	// certificate, and a client trusting it alone verifies every replica.
	for _, r := range f.replicas {
		ca := f.caOf(r)
		if f.ca == nil {
			f.ca = ca
		} else if !samePEM(f.ca, ca) {
			t.Fatalf("replica %s presents certificates of another CA than replica %s", r.name, f.replicas[0].name)
		}
	}
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caPath, f.ca, 0o644); err != nil {
		t.Fatal(err)
	}
	env := testkit.Connect(t, f.replicas[0].url, caPath, nil, app.Config{DataDir: f.replicas[0].dir})
	for _, r := range f.replicas {
		resp, err := env.HTTP.Get(r.url + "/_privlink/health")
		if err != nil {
			t.Fatalf("replica %s, trusting the shared CA only: %v", r.name, err)
		}
		resp.Body.Close()
	}
	// env.Cred keeps env's first client (direct to the first replica):
	// its tokens come from that replica's token endpoint and are sent to all.
	f.rr = newRoundRobin(env.HTTP.Transport, f.addrs())
	env.HTTP = &http.Client{Transport: f.rr, Timeout: cfg.timeout}
	env.Options.Transport = env.HTTP
	f.env = env
	return f
}

func (f *fleet) addrs() []string {
	var out []string
	for _, r := range f.replicas {
		out = append(out, r.addr)
	}
	return out
}

// freeAddr is a 127.0.0.1 address with a port free a moment ago (a fixed
// port, so that a replica's default name and a restart use it).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start starts r's process (again, after a kill: same port, same data).
func (f *fleet) start(r *replica) {
	f.t.Helper()
	cmd := exec.Command(f.bin, r.args...)
	cmd.Env = testkit.CleanEnviron()
	errf, err := os.OpenFile(r.stderr, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		f.t.Fatal(err)
	}
	cmd.Stderr = errf
	out, err := cmd.StdoutPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	errf.Close()
	r.cmd, r.stdout, r.exited, r.name = cmd, &testkit.SyncBuffer{}, make(chan struct{}), ""
	go func() {
		_, _ = io.Copy(r.stdout, out)
		_ = cmd.Wait()
		close(r.exited)
	}()
}

// await waits until r answers its health check and has printed its
// "replica NAME" line, and fails the test with its output when it exits
// or takes a minute.
func (f *fleet) await(r *replica) {
	f.t.Helper()
	insecure := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer insecure.CloseIdleConnections()
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-r.exited:
			f.t.Fatalf("replica %d (%s) exited while starting:\nstdout:\n%s\nstderr:\n%s", r.index, strings.Join(r.args, " "), r.stdout, tail(r.stderr, 40))
		default:
		}
		healthy := false
		if resp, err := insecure.Get(r.url + "/_privlink/health"); err == nil {
			healthy = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
		if healthy {
			if r.name = replicaName(r.stdout.String()); r.name != "" {
				return
			}
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("replica %d (%s) not ready after a minute (healthy: %v; a 'replica NAME' line on stdout: %v):\nstdout:\n%s\nstderr:\n%s",
				r.index, strings.Join(r.args, " "), healthy, r.name != "", r.stdout, tail(r.stderr, 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// replicaName is the NAME of the "replica NAME ..." line in out, or "".
func replicaName(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "replica "); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	return ""
}

// caOf reads the CA certificate r names at /_privlink/info (the replicas
// run on this machine, so the file is readable).
func (f *fleet) caOf(r *replica) []byte {
	f.t.Helper()
	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer insecure.CloseIdleConnections()
	resp, err := insecure.Get(r.url + "/_privlink/info")
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct {
		CAFile string `json:"caFile"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		f.t.Fatalf("replica %s: /_privlink/info: %v", r.name, err)
	}
	b, err := os.ReadFile(info.CAFile)
	if err != nil {
		f.t.Fatalf("replica %s: its CA: %v", r.name, err)
	}
	return b
}

// samePEM reports whether a and b hold the same first certificate.
func samePEM(a, b []byte) bool {
	ca, _ := pem.Decode(a)
	cb, _ := pem.Decode(b)
	if ca == nil || cb == nil {
		return false
	}
	x, err1 := x509.ParseCertificate(ca.Bytes)
	y, err2 := x509.ParseCertificate(cb.Bytes)
	return err1 == nil && err2 == nil && x.Equal(y)
}

// kill ends r with SIGKILL (no shutdown) and takes it out of the round
// robin, as a load balancer's health check would.
func (f *fleet) kill(r *replica) {
	f.t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exited
	f.rr.setDown(r.index, true)
}

// restart starts a killed replica again on its port and data directory
// and puts it back in the round robin once healthy.
func (f *fleet) restart(r *replica) {
	f.t.Helper()
	f.start(r)
	f.await(r)
	f.rr.setDown(r.index, false)
}

// alive reports whether r's process is still running.
func (r *replica) alive() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// stopAll stops the replicas (SIGTERM, then SIGKILL after 10 s), and
// shows their logs when the test failed.
func (f *fleet) stopAll() {
	for _, r := range f.replicas {
		if r.cmd != nil && r.alive() {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, r := range f.replicas {
		if r.cmd == nil {
			continue
		}
		select {
		case <-r.exited:
		case <-time.After(10 * time.Second):
			f.t.Logf("replica %s did not stop in 10 s after SIGTERM; killing it", r.name)
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
		if f.t.Failed() {
			f.t.Logf("replica %d (%s) stdout:\n%s\nstderr (last lines):\n%s", r.index, r.name, r.stdout, tail(r.stderr, 60))
		}
	}
}

// tail is the last n lines of a file.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// roundRobin is an http.RoundTripper that sends each request to the next
// replica that is up, whatever replica its URL names: it connects to that
// replica but keeps the Host header the client meant, as a TCP load
// balancer in front of the replicas does (so that, as there, every replica
// names the same host in its token issuer and status URLs). A read (GET,
// HEAD) never goes to the replica that took the latest write while another
// is up, so a read right after a write always crosses replicas. Each
// response says in ReplicaHeader which replica sent it.
type roundRobin struct {
	base  http.RoundTripper
	hosts []string

	mu        sync.Mutex
	down      []bool
	next      int
	lastWrite int
	log       []served
}

// ReplicaHeader is the response header in which roundRobin says which
// replica (its index) answered.
const ReplicaHeader = "X-Test-Replica"

// served records which replica answered a request.
type served struct {
	replica      int
	method, path string
	status       int // 0: no answer (err)
	err          error
}

func newRoundRobin(base http.RoundTripper, hosts []string) *roundRobin {
	return &roundRobin{base: base, hosts: hosts, down: make([]bool, len(hosts)), lastWrite: -1}
}

func isRead(method string) bool { return method == http.MethodGet || method == http.MethodHead }

// pick is the replica the next request goes to, or -1 when none is up.
func (rr *roundRobin) pick(method string) int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	n := len(rr.hosts)
	up := 0
	for _, d := range rr.down {
		if !d {
			up++
		}
	}
	for k := range n {
		i := (rr.next + k) % n
		if rr.down[i] || (isRead(method) && i == rr.lastWrite && up > 1) {
			continue
		}
		rr.next = i + 1
		if !isRead(method) {
			rr.lastWrite = i
		}
		return i
	}
	return -1
}

// RoundTrip sends req to the next replica.
func (rr *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	known := false
	for _, h := range rr.hosts {
		known = known || strings.EqualFold(req.URL.Host, h)
	}
	if !known {
		return rr.base.RoundTrip(req)
	}
	i := rr.pick(req.Method)
	if i < 0 {
		return nil, errors.New("round robin: no replica is up")
	}
	out := req.Clone(req.Context())
	if out.Host == "" {
		out.Host = req.URL.Host
	}
	out.URL.Host = rr.hosts[i]
	resp, err := rr.base.RoundTrip(out)
	s := served{replica: i, method: req.Method, path: req.URL.Path, err: err}
	if resp != nil {
		s.status = resp.StatusCode
		resp.Header.Set(ReplicaHeader, strconv.Itoa(i))
	}
	rr.mu.Lock()
	rr.log = append(rr.log, s)
	rr.mu.Unlock()
	return resp, err
}

func (rr *roundRobin) setDown(i int, down bool) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.down[i] = down
	if down && rr.lastWrite == i {
		rr.lastWrite = -1
	}
}

// served returns what was sent so far and starts a new record.
func (rr *roundRobin) served() []served {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	out := rr.log
	rr.log = nil
	return out
}

// String names the replicas, for messages.
func (f *fleet) String() string {
	var names []string
	for _, r := range f.replicas {
		names = append(names, fmt.Sprintf("%s at %s", r.name, r.addr))
	}
	return strings.Join(names, ", ")
}
