package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/arm"
	"github.com/spf13/cobra"
)

// deploymentAPIVersion is the Deployments API version the deploy commands speak.
const deploymentAPIVersion = "2021-04-01"

// deployCmd is 'privlink deploy', shaped like 'az deployment': group and
// sub scopes, each with create, what-if and validate.
func deployCmd(g *globals) *cobra.Command {
	cmd := group(&cobra.Command{Use: "deploy", Short: "Deploy ARM templates (as 'az deployment group|sub create|what-if|validate')"})
	grp := group(&cobra.Command{Use: "group", Short: "Deployments at a resource group"})
	sub := group(&cobra.Command{Use: "sub", Short: "Deployments at the subscription"})
	for _, verb := range []string{"create", "what-if", "validate"} {
		grp.AddCommand(deployVerb(g, verb, false))
		sub.AddCommand(deployVerb(g, verb, true))
	}
	cmd.AddCommand(grp, sub)
	return cmd
}

// deployArgs are the flags of the deploy verbs, named as az names them.
type deployArgs struct {
	group, name, file, mode, location, subscription string
	params                                          []string
	noWait                                          bool
}

func deployVerb(g *globals, verb string, subscriptionScope bool) *cobra.Command {
	var a deployArgs
	short := map[string]string{
		"create":   "Deploy a template, showing each resource as it is deployed",
		"what-if":  "Show what deploying a template would change",
		"validate": "Check a template and its parameters without deploying it",
	}[verb]
	use := verb + " --resource-group RG --template-file FILE [--parameters @FILE|KEY=VALUE]..."
	if subscriptionScope {
		use = verb + " --location LOCATION --template-file FILE [--parameters @FILE|KEY=VALUE]..."
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + `.

--parameters may be given several times: @FILE or FILE (a deployment parameters file, or a
plain {"name": {"value": ...}} object), or KEY=VALUE, converted to the type the template
declares for KEY (a JSON value for objects and arrays). Later values win. The deployment's
name defaults to the template file's name, as az does.`,
		// Like az's --parameters, which takes several values: words after
		// the flags that look like parameters (KEY=VALUE, @FILE) are more of them.
		Args: func(cmd *cobra.Command, args []string) error {
			for _, w := range args {
				if !strings.Contains(w, "=") && !strings.HasPrefix(w, "@") {
					return fmt.Errorf("unexpected argument %q: parameters are KEY=VALUE or @FILE", w)
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			a.params = append(a.params, args...)
			if !subscriptionScope && a.group == "" {
				return fmt.Errorf("--resource-group is required")
			}
			if subscriptionScope && a.location == "" && verb != "validate" && verb != "what-if" {
				return fmt.Errorf("--location is required for a deployment at the subscription")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			return runDeploy(g, c, verb, a, subscriptionScope)
		},
	}
	f := cmd.Flags()
	if !subscriptionScope {
		f.StringVarP(&a.group, "resource-group", "g", "", "the resource group to deploy to")
	} else {
		f.StringVarP(&a.location, "location", "l", "", "where the deployment's record is kept (required, as in Azure)")
	}
	f.StringVarP(&a.file, "template-file", "f", "", "the ARM template (JSON)")
	f.StringArrayVarP(&a.params, "parameters", "p", nil, "parameters: @FILE, FILE or KEY=VALUE (repeatable)")
	f.StringVarP(&a.name, "name", "n", "", "the deployment's name (default: the template file's name)")
	f.StringVar(&a.subscription, "subscription", "", "the subscription (default: the profile's)")
	if verb != "validate" {
		f.StringVar(&a.mode, "mode", "Incremental", "Incremental or Complete")
	}
	if verb == "create" {
		f.BoolVar(&a.noWait, "no-wait", false, "start the deployment and return")
	}
	_ = cmd.MarkFlagRequired("template-file")
	return cmd
}

// readTemplate reads a template file as the API reads content (readContent).
func readTemplate(file string) ([]byte, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	b, err := readContent(raw, "template")
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	return b, nil
}

// runDeploy sends the request of verb and, for create, follows the
// deployment to its end.
func runDeploy(g *globals, c *client, verb string, a deployArgs, subscriptionScope bool) error {
	tmpl, err := readTemplate(a.file)
	if err != nil {
		return err
	}
	params, err := deployParameters(tmpl, a.params)
	if err != nil {
		return err
	}
	name := a.name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(a.file), filepath.Ext(a.file))
	}
	sub := a.subscription
	if sub == "" {
		sub = c.p.Subscription
	}
	base := "/subscriptions/" + sub
	if !subscriptionScope {
		base += "/resourcegroups/" + a.group
	}
	path := base + "/providers/Microsoft.Resources/deployments/" + url.PathEscape(name)
	mode := a.mode
	if mode == "" {
		mode = "Incremental"
	}
	// The template goes first and as the file has it (not compacted, as
	// json.Marshal would): the API counts the line and column numbers of
	// its errors in the request, which then are the file's.
	var body bytes.Buffer
	body.WriteString(`{"properties":{"template":`)
	body.Write(tmpl)
	m, _ := arm.Marshal(mode)
	p, _ := arm.Marshal(params)
	fmt.Fprintf(&body, `,"mode":%s,"parameters":%s}`, m, p)
	if subscriptionScope && a.location != "" {
		l, _ := arm.Marshal(a.location)
		fmt.Fprintf(&body, `,"location":%s`, l)
	}
	body.WriteString("}")
	b := body.Bytes()
	q := "?api-version=" + deploymentAPIVersion
	switch verb {
	case "validate":
		r, err := c.do(http.MethodPost, path+"/validate"+q, b)
		if err != nil {
			return err
		}
		printJSON(g.stdout, r.Body)
		if !r.OK() {
			return &exitError{code: 1}
		}
		return nil
	case "what-if":
		r, err := c.do(http.MethodPost, path+"/whatIf"+q, b)
		if err != nil {
			return err
		}
		if !r.OK() {
			printJSON(g.stdout, r.Body)
			return &exitError{code: 1}
		}
		return printWhatIf(g, r.Body)
	}
	r, err := c.do(http.MethodPut, path+q, b)
	if err == nil {
		r, err = c.afterLostPut(r, path+q)
	}
	if err != nil {
		return err
	}
	if !r.OK() {
		printJSON(g.stdout, r.Body)
		return &exitError{code: 1}
	}
	fmt.Fprintf(g.stderr, "Deploying %s to %s\n", name, base)
	if a.noWait {
		printJSON(g.stdout, r.Body)
		return nil
	}
	return followDeployment(g, c, path, q)
}

// deployParameters merges the --parameters arguments into one parameters
// object {"name": {"value": ...}}.
func deployParameters(tmpl []byte, args []string) (map[string]json.RawMessage, error) {
	var t struct {
		Parameters map[string]struct {
			Type string `json:"type"`
		} `json:"parameters"`
	}
	_ = json.Unmarshal(tmpl, &t)
	typeOf := func(name string) string {
		for k, v := range t.Parameters {
			if strings.EqualFold(k, name) {
				return strings.ToLower(v.Type)
			}
		}
		return ""
	}
	out := map[string]json.RawMessage{}
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok && !strings.HasPrefix(a, "@") && !strings.ContainsAny(k, "/\\{") {
			val, err := parameterValue(typeOf(k), v)
			if err != nil {
				return nil, fmt.Errorf("--parameters %s: %v", k, err)
			}
			out[k], _ = json.Marshal(map[string]json.RawMessage{"value": val})
			continue
		}
		file := strings.TrimPrefix(a, "@")
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--parameters: %v", err)
		}
		if b, err = normalizeJSON(b); err != nil {
			return nil, fmt.Errorf("--parameters %s: %v", file, err)
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("--parameters %s: not a JSON object: %v", file, err)
		}
		// A deployment parameters file ($schema, contentVersion, parameters)
		// or the bare parameters object, as az takes both.
		_, schema := doc["$schema"]
		_, version := doc["contentVersion"]
		if p, ok := doc["parameters"]; ok && (schema || version) {
			doc = nil
			if err := json.Unmarshal(p, &doc); err != nil {
				return nil, fmt.Errorf("--parameters %s: 'parameters' is not an object", file)
			}
		}
		for k, v := range doc {
			out[k] = v
		}
	}
	return out, nil
}

// parameterValue converts a KEY=VALUE value to the parameter's type.
func parameterValue(typ, v string) (json.RawMessage, error) {
	switch typ {
	case "int":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an int", v)
		}
		return json.RawMessage(strconv.FormatInt(n, 10)), nil
	case "bool":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%q is not a bool", v)
		}
		return json.RawMessage(strconv.FormatBool(b)), nil
	case "object", "array", "secureobject":
		if !json.Valid([]byte(v)) {
			return nil, fmt.Errorf("%q is not JSON", v)
		}
		return json.RawMessage(v), nil
	case "", "string", "securestring":
		if typ == "" && json.Valid([]byte(v)) && (strings.HasPrefix(v, "{") || strings.HasPrefix(v, "[")) {
			return json.RawMessage(v), nil
		}
	}
	b, _ := json.Marshal(v)
	return b, nil
}

// deploymentView is what followDeployment reads of a deployment.
type deploymentView struct {
	Properties struct {
		ProvisioningState string          `json:"provisioningState"`
		Duration          string          `json:"duration"`
		Outputs           json.RawMessage `json:"outputs"`
		Error             *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Details []struct {
				Code    string `json:"code"`
				Message string `json:"message"`
				Target  string `json:"target"`
			} `json:"details"`
		} `json:"error"`
	} `json:"properties"`
}

type operationView struct {
	OperationID string `json:"operationId"`
	Properties  struct {
		ProvisioningOperation string `json:"provisioningOperation"`
		ProvisioningState     string `json:"provisioningState"`
		Timestamp             string `json:"timestamp"`
		Duration              string `json:"duration"`
		StatusMessage         struct {
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"statusMessage"`
		TargetResource struct {
			ResourceType string `json:"resourceType"`
			ResourceName string `json:"resourceName"`
		} `json:"targetResource"`
	} `json:"properties"`
}

// followDeployment prints a line per resource as its operation ends, then
// the outputs; a failed or canceled deployment is exit code 1 with its
// failures listed.
func followDeployment(g *globals, c *client, path, q string) error {
	seen := map[string]bool{}
	start := time.Now()
	for {
		var d deploymentView
		if err := c.getJSON(path+q, &d); err != nil {
			return err
		}
		var ops struct {
			Value []operationView `json:"value"`
		}
		if err := c.getJSON(path+"/operations"+q, &ops); err != nil {
			return err
		}
		// In the order the resources ended (RFC 3339 times of one format
		// sort as strings).
		sort.SliceStable(ops.Value, func(i, j int) bool { return ops.Value[i].Properties.Timestamp < ops.Value[j].Properties.Timestamp })
		for _, o := range ops.Value {
			if seen[o.OperationID] {
				continue
			}
			seen[o.OperationID] = true
			p := o.Properties
			mark := "✓"
			if p.ProvisioningState != "Succeeded" {
				mark = "✗"
			}
			line := fmt.Sprintf("  %s %-9s %s %s  %s  %s", mark, p.ProvisioningState, p.TargetResource.ResourceType, p.TargetResource.ResourceName, p.ProvisioningOperation, shortDuration(p.Duration))
			if e := p.StatusMessage.Error; e != nil {
				line += "  " + e.Code + ": " + e.Message
			}
			fmt.Fprintln(g.stdout, line)
		}
		switch st := d.Properties.ProvisioningState; st {
		case "Succeeded":
			fmt.Fprintf(g.stdout, "Deployment succeeded in %s.\n", shortDuration(d.Properties.Duration))
			if len(d.Properties.Outputs) > 0 && !bytes.Equal(bytes.TrimSpace(d.Properties.Outputs), []byte("{}")) {
				fmt.Fprintln(g.stdout, "Outputs:")
				printJSON(g.stdout, d.Properties.Outputs)
			}
			return nil
		case "Failed", "Canceled":
			fmt.Fprintf(g.stdout, "Deployment %s after %s.\n", strings.ToLower(st), shortDuration(d.Properties.Duration))
			if e := d.Properties.Error; e != nil {
				msg := e.Code + ": " + e.Message
				for _, det := range e.Details {
					msg += "\n  " + det.Code + ": " + det.Message
					if det.Target != "" {
						msg += " (" + det.Target + ")"
					}
				}
				// Not the HTTP status of the last poll (200): the deployment failed.
				return &serverError{msg: "deployment " + strings.ToLower(st) + ": " + msg}
			}
			return &exitError{code: 1}
		}
		if time.Since(start) > time.Hour {
			return fmt.Errorf("the deployment did not end within an hour")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// shortDuration turns ARM's "PT1.2345678S" into "1.23s".
func shortDuration(iso string) string {
	d, err := time.ParseDuration(strings.ToLower(strings.TrimPrefix(iso, "PT")))
	if err != nil {
		return iso
	}
	return d.Round(10 * time.Millisecond).String()
}

// printWhatIf prints a what-if result as az does: a symbol per change.
func printWhatIf(g *globals, body []byte) error {
	var w struct {
		Properties struct {
			Changes []struct {
				ResourceID string `json:"resourceId"`
				ChangeType string `json:"changeType"`
				Delta      []struct {
					Path               string `json:"path"`
					PropertyChangeType string `json:"propertyChangeType"`
					Before             any    `json:"before"`
					After              any    `json:"after"`
				} `json:"delta"`
			} `json:"changes"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		printJSON(g.stdout, body)
		return nil
	}
	symbol := map[string]string{"Create": "+", "Delete": "-", "Modify": "~", "NoChange": "=", "Ignore": "*", "Deploy": "!", "Unsupported": "x"}
	counts := map[string]int{}
	for _, c := range w.Properties.Changes {
		counts[c.ChangeType]++
		fmt.Fprintf(g.stdout, "  %s %s  (%s)\n", symbol[c.ChangeType], c.ResourceID, c.ChangeType)
		for _, d := range c.Delta {
			b, _ := json.Marshal(d.Before)
			a, _ := json.Marshal(d.After)
			fmt.Fprintf(g.stdout, "      %s: %s => %s\n", d.Path, b, a)
		}
	}
	var parts []string
	for _, t := range []string{"Create", "Modify", "Delete", "NoChange", "Ignore", "Unsupported"} {
		if counts[t] > 0 {
			parts = append(parts, fmt.Sprintf("%d to %s", counts[t], strings.ToLower(t)))
		}
	}
	if len(parts) == 0 {
		parts = []string{"no changes"}
	}
	fmt.Fprintf(g.stdout, "Resource changes: %s.\n", strings.Join(parts, ", "))
	return nil
}
