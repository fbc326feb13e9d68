package datapath

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/privlink/privlink/internal/certs"
	"github.com/privlink/privlink/internal/testkit"
)

// TestAzurite binds Azurite's blob service (npm azurite, from the lock file
// in ./azurite) behind a storage account that refuses public access, and
// uploads and reads a blob with the official Azure Storage SDK for Go
// through a cluster's egress: refused while the endpoint is Pending,
// carried once it is approved. Slow suite (PRIVLINK_SLOW_TESTS=1).
func TestAzurite(t *testing.T) {
	testkit.SkipUnlessSlow(t, "the Azurite test")
	bin, _ := filepath.Abs(filepath.Join("azurite", "node_modules", ".bin", "azurite-blob"))
	_, err := os.Stat(bin)
	testkit.Need(t, err == nil, "Azurite is not installed", "npm ci --prefix internal/e2e/datapath/azurite")

	env := testkit.Start(t)
	createRG(t, env, "rg")
	cl := createCluster(t, env, "rg", "adxazurite", armkusto.PublicNetworkAccessEnabled)
	acct := createAccount(t, env, "rg", "azuriteacct", armstorage.PublicNetworkAccessDisabled, nil)
	ac := must(armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options))
	keys := must(ac.ListKeys(ctx, "rg", "azuriteacct", nil))
	key := *keys.Keys[0].Value
	host := "azuriteacct.blob.core.windows.net"

	// Azurite serves HTTPS with a certificate for the account's name from
	// privlink's CA, and knows the account by the key privlink gave it.
	dir := t.TempDir()
	certFile, keyFile := issue(t, env, host, dir)
	port := freePort(t)
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(port), "--location", dir, "--silent", "--skipApiVersionCheck", "--loose",
		"--cert", certFile, "--key", keyFile)
	cmd.Env = append(testkit.CleanEnviron(), "AZURITE_ACCOUNTS=azuriteacct:"+key)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	backend := fmt.Sprintf("127.0.0.1:%d", port)
	awaitListening(t, backend, &logs)
	env.Call(t, http.MethodPut, "/_privlink/backends", `{"resource":"`+acct+`","groupId":"blob","to":"`+backend+`"}`, http.StatusOK, nil)

	e := createMPE(t, env, "rg", "adxazurite", "to-azurite", acct, "blob")
	n := networkOf(t, env, cl)
	cred := must(azblob.NewSharedKeyCredential("azuriteacct", key))
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: n.Egress}), TLSClientConfig: &tls.Config{RootCAs: caPool(t, env)}}
	client := must(azblob.NewClientWithSharedKeyCredential("https://"+host+"/", cred, &azblob.ClientOptions{ClientOptions: policy.ClientOptions{
		Transport: &http.Client{Transport: tr, Timeout: 30 * time.Second}, Retry: policy.RetryOptions{MaxRetries: -1}}}))

	if _, err := client.CreateContainer(ctx, "ingest", nil); err == nil || !strings.Contains(err.Error(), "pending") {
		t.Fatalf("create container while Pending: %v, want the egress's pending refusal", err)
	}
	setState(t, env, "rg", "azuriteacct", e, armstorage.PrivateEndpointServiceConnectionStatusApproved)
	if _, err := client.CreateContainer(ctx, "ingest", nil); err != nil {
		t.Fatalf("create container once approved: %v\nazurite:\n%s", err, logs.String())
	}
	data := []byte("time,value\n2026-12-01T00:00:00Z,42\n")
	if _, err := client.UploadBuffer(ctx, "ingest", "data.csv", data, nil); err != nil {
		t.Fatalf("upload: %v", err)
	}
	resp, err := client.DownloadStream(ctx, "ingest", "data.csv", nil)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %q, want %q", got, data)
	}
}

// issue writes a certificate for host from the server's CA, and its key,
// as PEM files in dir.
func issue(t *testing.T, env *testkit.Env, host, dir string) (string, string) {
	t.Helper()
	iss, err := certs.NewIssuer(env.Dir, tls.Certificate{}, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	c, err := iss.GetCertificate(&tls.ClientHelloInfo{ServerName: host})
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func freePort(t *testing.T) int {
	t.Helper()
	ln := must(net.Listen("tcp", "127.0.0.1:0"))
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func awaitListening(t *testing.T, addr string, logs *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("azurite did not listen on %s:\n%s", addr, logs.String())
}
