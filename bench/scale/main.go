// Command scale measures the embedded store with many stored managed private
// endpoints: it fills a data directory through the resource engine
// (in-process, the same rules as the API), then starts privlink binaries on
// it and reports the data size, the time from start to a healthy server, the
// resident memory, and the latency of pages of each list. Given a baseline
// binary it measures that one too, on a copy of the same data, in the same
// run. It is a benchmark tool, not part of privlink; bench/scale.sh runs it.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/privlink/privlink/internal/app"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/certs"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/resource"
)

// perCluster is how many endpoints each cluster has, and how many
// connections each storage account receives.
const perCluster = 100

// perGroup is how many clusters (and as many storage accounts) a resource
// group holds.
const perGroup = 100

const sub = "/subscriptions/" + identity.DefaultSubscriptionID

func main() {
	n := flag.Int("n", 100000, "managed private endpoints to store (each with its connection and operation)")
	work := flag.String("work", "", "work directory (data is built in work/data; kept if it exists with a done mark)")
	bins := flag.String("bins", "", "comma-separated name=binary pairs to measure, e.g. new=/tmp/privlink,base=/tmp/privlink-base")
	samples := flag.Int("samples", 200, "requests per list")
	flag.Parse()
	if *work == "" || *bins == "" {
		log.Fatal("need -work and -bins")
	}
	data := filepath.Join(*work, "data")
	if _, err := os.Stat(filepath.Join(*work, "seeded")); err != nil {
		os.RemoveAll(data)
		start := time.Now()
		if err := seed(data, *n); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*work, "seeded"), []byte(strconv.Itoa(*n)), 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("seeded %d endpoints in %s\n", *n, time.Since(start).Round(time.Second))
	}
	for _, pair := range strings.Split(*bins, ",") {
		name, bin, _ := strings.Cut(pair, "=")
		dir := filepath.Join(*work, "run-"+name)
		os.RemoveAll(dir)
		if err := exec.Command("cp", "-a", data, dir).Run(); err != nil {
			log.Fatal(err)
		}
		if err := measure(name, bin, dir, *n, *samples); err != nil {
			log.Fatalf("%s: %v", name, err)
		}
		os.RemoveAll(dir)
	}
}

// seed fills dir with n endpoints: n/100 clusters and n/100 storage
// accounts in groups of 100 each, every cluster with 100 endpoints, each to
// its own account's blob, auto-approved (the caller owns the subscription).
func seed(dir string, n int) error {
	ctx := context.Background()
	s, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", DataDir: dir, AccessLog: false, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer s.Shutdown(context.Background())
	e := s.Engine()
	admin := &arm.Principal{ObjectID: identity.DefaultClientObjectID, TenantID: identity.DefaultTenantID, AppID: identity.DefaultClientID, Name: identity.DefaultClientID, Type: arm.PrincipalApplication}
	serve := func(method, path, body string) ([]byte, error) {
		u, err := url.Parse(path)
		if err != nil {
			return nil, err
		}
		p, aerr := arm.ParsePath(u.Path)
		if aerr != nil {
			return nil, aerr
		}
		q := u.Query()
		resp, err := e.Serve(ctx, &resource.Request{Method: method, Path: p, Query: q, APIVersion: q.Get("api-version"), Body: []byte(body), Header: http.Header{}, Principal: admin})
		if err == nil && resp.Status >= 300 {
			err = fmt.Errorf("%d %s", resp.Status, resp.Body)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		return resp.Body, nil
	}
	clusters := max(1, n/perCluster)
	par := func(count int, fn func(i int) error) error {
		var next atomic.Int64
		var first error
		var once sync.Once
		var wg sync.WaitGroup
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= count {
						return
					}
					if err := fn(i); err != nil {
						once.Do(func() { first = err })
						return
					}
				}
			}()
		}
		wg.Wait()
		return first
	}
	for g := range (clusters + perGroup - 1) / perGroup {
		if _, err := serve(http.MethodPut, group(g)+"?api-version=2021-04-01", `{"location":"westus"}`); err != nil {
			return err
		}
	}
	err = par(clusters, func(c int) error {
		if _, err := serve(http.MethodPut, cluster(c)+"?api-version=2024-04-13", `{"location":"westus","sku":{"name":"Standard_E2a_v4","tier":"Standard"}}`); err != nil {
			return err
		}
		_, err := serve(http.MethodPut, account(c)+"?api-version=2024-01-01", `{"location":"westus","kind":"StorageV2","sku":{"name":"Standard_LRS"}}`)
		return err
	})
	if err != nil {
		return err
	}
	if err := await(serve, cluster(clusters-1)); err != nil {
		return err
	}
	start := time.Now()
	err = par(n, func(i int) error {
		c := i / perCluster
		_, err := serve(http.MethodPut, endpoint(c, i%perCluster)+"?api-version=2024-04-13",
			`{"properties":{"privateLinkResourceId":"`+account(c)+`","groupId":"blob","requestMessage":"Please Approve."}}`)
		if i%10000 == 0 && i > 0 {
			fmt.Printf("  %d endpoints, %.0f/s\n", i, float64(i)/time.Since(start).Seconds())
		}
		return err
	})
	if err != nil {
		return err
	}
	return await(serve, endpoint(clusters-1, perCluster-1))
}

// await waits until the resource at id is Succeeded.
func await(serve func(method, path, body string) ([]byte, error), id string) error {
	for range 6000 {
		b, err := serve(http.MethodGet, id+"?api-version=2024-04-13", "")
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(`"provisioningState":"Succeeded"`)) {
			// Let the operation worker finish the others queued with it.
			time.Sleep(2 * time.Second)
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not succeed", id)
}

func group(g int) string { return fmt.Sprintf("%s/resourceGroups/scale%04d", sub, g) }
func cluster(c int) string {
	return fmt.Sprintf("%s/providers/Microsoft.Kusto/clusters/c%06d", group(c/perGroup), c)
}
func account(c int) string {
	return fmt.Sprintf("%s/providers/Microsoft.Storage/storageAccounts/sa%06d", group(c/perGroup), c)
}
func endpoint(c, i int) string { return fmt.Sprintf("%s/managedPrivateEndpoints/m%03d", cluster(c), i) }

// measure starts bin on dir and prints the figures.
func measure(name, bin, dir string, n, samples int) error {
	size, err := dirSize(dir)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	base := "https://" + addr
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data", dir, "--access-log=false", "--log-level", "warn", "--provisioning-delay", "0s")
	cmd.Stderr = os.Stderr
	client, err := httpClient(dir)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for {
		resp, err := client.Get(base + "/_privlink/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(start) > 5*time.Minute {
			return fmt.Errorf("not healthy after 5 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ready := time.Since(start)
	rssStart := rss(cmd.Process.Pid, "VmRSS")
	token, err := login(bin, base, dir)
	if err != nil {
		return err
	}
	clusters := max(1, n/perCluster)
	groups := (clusters + perGroup - 1) / perGroup
	lists := []struct {
		name string
		path func() string
	}{
		{"endpoints of a cluster (100)", func() string {
			return cluster(rand.IntN(clusters)) + "/managedPrivateEndpoints?api-version=2024-04-13"
		}},
		{"connections of a storage account (100)", func() string {
			return account(rand.IntN(clusters)) + "/privateEndpointConnections?api-version=2024-01-01"
		}},
		{"storage accounts of a group (100)", func() string {
			return group(rand.IntN(groups)) + "/providers/Microsoft.Storage/storageAccounts?api-version=2024-01-01"
		}},
		{"resources of a group (200)", func() string {
			return group(rand.IntN(groups)) + "/resources?api-version=2021-04-01"
		}},
		{"storage accounts of the subscription, first page", func() string {
			return sub + "/providers/Microsoft.Storage/storageAccounts?api-version=2024-01-01"
		}},
		{"resources of the subscription, first page", func() string {
			return sub + "/resources?api-version=2021-04-01"
		}},
		{"resource groups of the subscription", func() string {
			return sub + "/resourcegroups?api-version=2021-04-01"
		}},
	}
	fmt.Printf("== %s (%s): %d endpoints, data %.0f MB, healthy after %s, RSS %d MB at start\n", name, bin, n, float64(size)/1e6, ready.Round(time.Millisecond), rssStart/1024)
	for _, li := range lists {
		var lat []time.Duration
		items := 0
		for i := range samples + 5 {
			t0 := time.Now()
			req, _ := http.NewRequest(http.MethodGet, base+li.path(), nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			d := time.Since(t0)
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s %s", li.name, resp.Status, body)
			}
			if i < 5 {
				continue // warm-up
			}
			var page struct {
				Value []json.RawMessage `json:"value"`
			}
			_ = json.Unmarshal(body, &page)
			items = len(page.Value)
			lat = append(lat, d)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		fmt.Printf("  %-50s items %6d  p50 %8s  p99 %8s\n", li.name, items, lat[len(lat)/2].Round(10*time.Microsecond), lat[len(lat)*99/100].Round(10*time.Microsecond))
	}
	fmt.Printf("  RSS after the lists %d MB (peak %d MB)\n", rss(cmd.Process.Pid, "VmRSS")/1024, rss(cmd.Process.Pid, "VmHWM")/1024)
	return nil
}

func httpClient(dir string) (*http.Client, error) {
	pem, err := os.ReadFile(certs.CAPath(dir))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, nil
}

// login signs in with privlink's CLI and returns the access token.
func login(bin, base, dir string) (string, error) {
	profile := filepath.Join(dir, "bench-profile.json")
	cmd := exec.Command(bin, "login", "--endpoint", base, "--data", dir)
	cmd.Env = append(os.Environ(), "PRIVLINK_PROFILE="+profile)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("login: %v: %s", err, out)
	}
	b, err := os.ReadFile(profile)
	if err != nil {
		return "", err
	}
	i := bytes.Index(b, []byte(`"accessToken": "`))
	if i < 0 {
		return "", fmt.Errorf("no token in %s", profile)
	}
	rest := b[i+len(`"accessToken": "`):]
	return string(rest[:bytes.IndexByte(rest, '"')]), nil
}

// rss reads a field of /proc/pid/status, in KiB.
func rss(pid int, field string) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb
		}
	}
	return 0
}

func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			total += info.Size()
		}
		return err
	})
	return total, err
}
