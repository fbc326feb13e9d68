package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"
	"github.com/privlink/privlink/internal/arm"
	"github.com/spf13/cobra"
)

// clusterNetwork is GET /_privlink/network?cluster=.
type clusterNetwork struct {
	Cluster       string            `json:"cluster"`
	Subnet        string            `json:"subnet"`
	Egress        string            `json:"egress"`
	DNS           string            `json:"dns"`
	PublicAddress string            `json:"publicAddress"`
	Endpoints     []endpointNetwork `json:"endpoints"`
}

type endpointNetwork struct {
	ID                string `json:"id"`
	GroupID           string `json:"groupId"`
	Target            string `json:"privateLinkResourceId"`
	ProvisioningState string `json:"provisioningState"`
	ConnectionState   string `json:"connectionState"`
	PrivateIPAddress  string `json:"privateIPAddress"`
	Listen            string `json:"listen"`
	CustomDNSConfigs  []struct {
		FQDN        string   `json:"fqdn"`
		IPAddresses []string `json:"ipAddresses"`
	} `json:"customDnsConfigs"`
}

func (c *client) network(cluster arm.ResourceID) (*clusterNetwork, error) {
	var n clusterNetwork
	if err := c.getJSON("/_privlink/network?cluster="+url.QueryEscape(cluster.String()), &n); err != nil {
		return nil, err
	}
	if n.Egress == "" {
		return nil, &serverError{msg: "cluster " + cluster.Name() + " has no egress (out of managed networks in the private range? see the server's log)"}
	}
	return &n, nil
}

// networkCmd is 'privlink network --cluster ID': the cluster's managed
// network, its endpoints' private addresses and customDnsConfigs.
func networkCmd(g *globals) *cobra.Command {
	var ref clusterRef
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "network --cluster CLUSTER",
		Short: "Show a cluster's managed network: egress, DNS server, and each managed private endpoint's private address and DNS names",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, cid, err := ref.connect(g)
			if err != nil {
				return err
			}
			r, err := c.do(http.MethodGet, "/_privlink/network?cluster="+url.QueryEscape(cid.String()), nil)
			if err != nil {
				return err
			}
			if !r.OK() {
				return armFailure(r)
			}
			if asJSON {
				printJSON(g.stdout, r.Body)
				return nil
			}
			var n clusterNetwork
			if err := json.Unmarshal(r.Body, &n); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "cluster:  %s\nsubnet:   %s\negress:   %s (HTTP CONNECT and SOCKS5)\ndns:      %s\npublic:   %s\n\n", n.Cluster, n.Subnet, n.Egress, n.DNS, n.PublicAddress)
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tGROUP\tCONNECTION\tADDRESS\tLISTEN\tFQDN")
			for _, e := range n.Endpoints {
				fqdns := []string{}
				for _, d := range e.CustomDNSConfigs {
					fqdns = append(fqdns, d.FQDN)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID[strings.LastIndexByte(e.ID, '/')+1:], e.GroupID, dash(e.ConnectionState), dash(e.PrivateIPAddress), dash(e.Listen), dash(strings.Join(fqdns, ",")))
			}
			return tw.Flush()
		},
	}
	ref.flags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// egressCmd is 'privlink egress --cluster ID': export lines that make any
// program act as the cluster.
func egressCmd(g *globals) *cobra.Command {
	var ref clusterRef
	cmd := &cobra.Command{
		Use:   "egress --cluster CLUSTER",
		Short: "Print export lines that make programs act as the cluster: eval \"$(privlink egress --cluster ID)\"",
		Long: "Print export lines that send a program's traffic through the cluster's egress (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY\n" +
			"as socks5h://, so that names are resolved from the cluster's view), keep privlink's own address direct (NO_PROXY),\n" +
			"and name the cluster's DNS server (PRIVLINK_DNS=HOST:PORT, for dig @HOST -p PORT). Trust privlink's CA as\n" +
			"'privlink env' exports it (SSL_CERT_FILE and friends): the targets' certificates are signed by it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, cid, err := ref.connect(g)
			if err != nil {
				return err
			}
			n, err := c.network(cid)
			if err != nil {
				return err
			}
			u, _ := url.Parse(c.p.Endpoint)
			hostport := ""
			if u != nil {
				hostport = u.Host
			}
			noProxy := noProxyList(os.Getenv("NO_PROXY"), os.Getenv("no_proxy"), hostport)
			proxyURL := "http://" + n.Egress
			fmt.Fprintf(g.stderr, "privlink: the egress of cluster %s; eval this output to act as the cluster\n", n.Cluster)
			for _, kv := range [][2]string{
				{"HTTPS_PROXY", proxyURL}, {"https_proxy", proxyURL},
				{"HTTP_PROXY", proxyURL}, {"http_proxy", proxyURL},
				{"ALL_PROXY", "socks5h://" + n.Egress}, {"all_proxy", "socks5h://" + n.Egress},
				{"NO_PROXY", noProxy}, {"no_proxy", noProxy},
				{"PRIVLINK_DNS", n.DNS},
				{"PRIVLINK_CLUSTER", n.Cluster},
			} {
				fmt.Fprintf(g.stdout, "export %s=%s\n", kv[0], shellQuote(kv[1]))
			}
			return nil
		},
	}
	ref.flags(cmd)
	return cmd
}

// backendCmd is 'privlink backend set|remove|list': real services behind
// targets' sub-resources.
func backendCmd(g *globals) *cobra.Command {
	cmd := group(&cobra.Command{Use: "backend", Short: "Bind a target's sub-resource to a real local service (else privlink's built-in responder answers)"})
	var resID, groupID, to string
	set := &cobra.Command{
		Use:   "set --resource RESOURCE_ID --group-id GROUP --to HOST:PORT",
		Short: "Send the traffic for a target's sub-resource to the service at HOST:PORT (e.g. Azurite's 127.0.0.1:10000)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]string{"resource": resID, "groupId": groupID, "to": to})
			return c.printed(http.MethodPut, "/_privlink/backends", body)
		},
	}
	set.Flags().StringVar(&resID, "resource", "", "the target's resource id")
	set.Flags().StringVar(&groupID, "group-id", "", "the sub-resource (blob, dfs, namespace, iotHub, vault, sqlServer, cluster, digitalTwinsInstance)")
	set.Flags().StringVar(&to, "to", "", "HOST:PORT of the service")
	for _, f := range []string{"resource", "group-id", "to"} {
		_ = set.MarkFlagRequired(f)
	}
	var rmID, rmGroup string
	remove := &cobra.Command{
		Use:   "remove --resource RESOURCE_ID --group-id GROUP",
		Short: "Remove a binding: the built-in responder answers again",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			return c.printed(http.MethodDelete, "/_privlink/backends?resource="+url.QueryEscape(rmID)+"&groupId="+url.QueryEscape(rmGroup), nil)
		},
	}
	remove.Flags().StringVar(&rmID, "resource", "", "the target's resource id")
	remove.Flags().StringVar(&rmGroup, "group-id", "", "the sub-resource")
	_ = remove.MarkFlagRequired("resource")
	_ = remove.MarkFlagRequired("group-id")
	var lsID string
	list := &cobra.Command{
		Use:   "list --resource RESOURCE_ID",
		Short: "Show a target's bound services",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			return c.printed(http.MethodGet, "/_privlink/backends?resource="+url.QueryEscape(lsID), nil)
		},
	}
	list.Flags().StringVar(&lsID, "resource", "", "the target's resource id")
	_ = list.MarkFlagRequired("resource")
	cmd.AddCommand(set, remove, list)
	return cmd
}

// printed sends a request and prints the JSON answer, or fails with the error.
func (c *client) printed(method, path string, body []byte) error {
	r, err := c.do(method, path, body)
	if err != nil {
		return err
	}
	if !r.OK() {
		return armFailure(r)
	}
	printJSON(c.g.stdout, r.Body)
	return nil
}

// decision is GET /_privlink/network/decide's answer.
type decision struct {
	Decision struct {
		Allowed  bool   `json:"allowed"`
		Path     string `json:"path"`
		Via      string `json:"via"`
		Reason   string `json:"reason"`
		Target   string `json:"target"`
		GroupID  string `json:"groupId"`
		Endpoint string `json:"endpoint"`
		Backend  string `json:"backend"`
	} `json:"decision"`
}

// check is one line of diagnose's report.
type check struct {
	ok       bool
	what     string
	fix      string
	optional bool // shown, but not a failure of the whole (skipped checks)
}

// diagnoseCmd is 'privlink diagnose --cluster ID HOST[:PORT]', after
// Azure's "Troubleshooting private endpoints in Azure Data Explorer": the
// endpoint's provisioning and connection state, what the name resolves to
// from the cluster, TCP through the egress and, for Kusto, the ping.
func diagnoseCmd(g *globals) *cobra.Command {
	var ref clusterRef
	cmd := &cobra.Command{
		Use:   "diagnose --cluster CLUSTER HOST[:PORT]",
		Short: "Check the way from a cluster to a target: endpoint state, DNS from the cluster's view, TCP through its egress, the Kusto ping",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			host, port := args[0], 443
			if h, ps, err := net.SplitHostPort(args[0]); err == nil {
				n, err := strconv.Atoi(ps)
				if err != nil || n < 1 || n > 65535 {
					return &usageError{cmd: cmd, msg: "bad port in " + args[0]}
				}
				host, port = h, n
			}
			host = strings.ToLower(strings.TrimSuffix(host, "."))
			c, cid, err := ref.connect(g)
			if err != nil {
				return err
			}
			n, err := c.network(cid)
			if err != nil {
				return err
			}
			var d decision
			if err := c.getJSON("/_privlink/network/decide?cluster="+url.QueryEscape(cid.String())+"&host="+url.QueryEscape(host)+"&port="+strconv.Itoa(port), &d); err != nil {
				return err
			}
			checks := c.diagnose(n, d, host, port)
			failed := false
			for _, ch := range checks {
				mark := "✓"
				if !ch.ok {
					mark = "✗"
				}
				fmt.Fprintf(g.stdout, "%s %s\n", mark, ch.what)
			}
			for _, ch := range checks {
				if !ch.ok && !ch.optional {
					failed = true
					fmt.Fprintf(g.stdout, "\nto do: %s\n", ch.fix)
					break
				}
			}
			if failed {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	ref.flags(cmd)
	return cmd
}

func (c *client) diagnose(n *clusterNetwork, d decision, host string, port int) []check {
	v := d.Decision
	var out []check
	// 1. The endpoint: provisioning and connection.
	var ep *endpointNetwork
	for i := range n.Endpoints {
		if strings.EqualFold(n.Endpoints[i].ID, v.Endpoint) {
			ep = &n.Endpoints[i]
		}
	}
	switch {
	case v.Target == "":
		out = append(out, check{ok: v.Allowed, what: "target: " + host + " is no privlink target's name" + ifStr(v.Allowed, " (the egress passes it on as privlink's proxy does)", ""), fix: v.Reason})
	case ep != nil:
		name := ep.ID[strings.LastIndexByte(ep.ID, '/')+1:]
		out = append(out, check{ok: strings.EqualFold(ep.ProvisioningState, "Succeeded"), what: "managed private endpoint " + name + " (" + ep.GroupID + "): provisioningState " + ep.ProvisioningState,
			fix: "wait for the endpoint to finish provisioning (privlink mpe show " + name + " --cluster " + n.Cluster + "); if it Failed, delete and create it again"})
		out = append(out, check{ok: ep.ConnectionState == "Approved", what: "connection state: " + dash(ep.ConnectionState),
			fix: connectionFix(ep, name)})
	case v.Path == "trusted service" || v.Path == "public network":
		out = append(out, check{ok: true, what: "no managed private endpoint to " + v.GroupID + " of " + v.Target + "; the " + v.Path + " path lets the cluster in: " + v.Via})
	default:
		out = append(out, check{ok: false, what: "managed private endpoint: " + v.Reason,
			fix: "create one: privlink mpe create NAME --cluster " + n.Cluster + " --target " + v.Target + " --group-id " + v.GroupID + ", and have the owner of the target approve it"})
	}
	// 2. DNS from the cluster's view, with a real DNS client.
	out = append(out, dnsCheck(n, ep, v.Path, host))
	// 3. TCP through the egress.
	conn, status, err := connectThrough(n.Egress, net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		out = append(out, check{ok: false, what: "TCP to " + host + ":" + strconv.Itoa(port) + " through the egress " + n.Egress + ": " + err.Error(), fix: "is the privlink server running? (privlink serve)"})
	} else if conn == nil {
		out = append(out, check{ok: false, what: "TCP to " + host + ":" + strconv.Itoa(port) + " through the egress: refused: " + status, fix: refusalFix(v.Reason, status)})
	} else {
		conn.Close()
		out = append(out, check{ok: true, what: "TCP to " + host + ":" + strconv.Itoa(port) + " through the egress: connected (" + v.Path + ifStr(v.Backend != "", " -> "+v.Backend, "") + ")"})
	}
	// 4. The Kusto ping.
	if strings.HasSuffix(host, ".kusto.windows.net") && port == 443 {
		out = append(out, c.pingCheck(n, host))
	}
	return out
}

func ifStr(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func connectionFix(ep *endpointNetwork, name string) string {
	switch ep.ConnectionState {
	case "Pending":
		return "the owner of " + ep.Target + " must approve the connection: privlink pec list --resource " + ep.Target + ", then privlink pec approve NAME --resource " + ep.Target
	case "Rejected":
		return "the owner rejected it; a rejected connection cannot be approved again: delete the endpoint (privlink mpe delete " + name + " --cluster CLUSTER), create it again and have it approved"
	case "Disconnected":
		return "the owner removed the connection (or the target is gone): delete the endpoint and create it again"
	}
	return "wait for the endpoint's connection to be placed on the target"
}

func refusalFix(reason, status string) string {
	if reason != "" {
		return reason
	}
	return status
}

func dnsCheck(n *clusterNetwork, ep *endpointNetwork, path, host string) check {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(host), dns.TypeA)
	r, _, err := (&dns.Client{Timeout: 3 * time.Second}).Exchange(m, n.DNS)
	if err != nil {
		return check{ok: false, what: "DNS " + host + " at the cluster's DNS server " + n.DNS + ": " + err.Error(), fix: "is the privlink server running?"}
	}
	var chain []string
	addr := ""
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.CNAME:
			chain = append(chain, strings.TrimSuffix(v.Target, "."))
		case *dns.A:
			addr = v.A.String()
		}
	}
	what := "DNS from the cluster: " + host
	for _, c := range chain {
		what += " -> " + c
	}
	if r.Rcode != dns.RcodeSuccess {
		return check{ok: false, what: what + ": " + dns.RcodeToString[r.Rcode], fix: "the name is no target's: check its spelling, and that the resource exists in privlink"}
	}
	what += " -> " + dash(addr)
	switch {
	case ep != nil && ep.ConnectionState == "Approved":
		return check{ok: addr == ep.PrivateIPAddress, what: what + " (the endpoint's private address " + ep.PrivateIPAddress + ")", fix: "the name does not resolve to the endpoint's address; report this as a privlink bug"}
	case path == "trusted service" || path == "public network" || ep == nil && addr != "":
		return check{ok: addr != "", what: what + " (public address)", fix: "the name has no address"}
	}
	return check{ok: false, what: what + " (the public address: the endpoint is not approved)", fix: "approve the endpoint's connection; the name then resolves to its private address"}
}

// connectThrough sends CONNECT to the egress: the connection on 200, else
// the status line.
func connectThrough(egress, addr string) (net.Conn, string, error) {
	c, err := net.DialTimeout("tcp", egress, 5*time.Second)
	if err != nil {
		return nil, "", err
	}
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		c.Close()
		return nil, resp.Status, nil
	}
	_ = c.SetDeadline(time.Time{})
	return c, "", nil
}

func (c *client) pingCheck(n *clusterNetwork, host string) check {
	hc, err := httpClient(c.p.CAFile)
	if err != nil {
		return check{ok: false, what: "Kusto ping: " + err.Error(), fix: "privlink login again (its CA file is unreadable)"}
	}
	tr := hc.Transport.(*http.Transport)
	tr.Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: n.Egress})
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/v1/rest/ping", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return check{ok: false, what: "Kusto ping https://" + host + "/v1/rest/ping through the egress: " + err.Error(), fix: "see the checks above; if they pass, the backend bound to the cluster does not speak HTTPS"}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	body := strings.TrimSpace(string(b))
	return check{ok: resp.StatusCode == 200 && strings.Contains(body, "Pong!"), what: "Kusto ping https://" + host + "/v1/rest/ping: " + resp.Status + " " + strconv.Quote(body),
		fix: "the service behind the cluster does not answer Kusto's ping; check the backend bound with privlink backend list --resource ID"}
}
