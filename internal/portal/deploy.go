package portal

// Deploy a custom template (/deploy): a template and its parameters,
// pasted or uploaded, checked by the API on Review + create (the
// Deployments API's validate, which runs the same preflight as a
// deployment) and deployed on Create (PUT), after which the deployment's
// page follows it. Plain HTML forms: uploads are multipart form data, read
// on the server, so the page works without script; htmx only refreshes the
// resource groups when the subscription changes.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/privlink/privlink/internal/arm"
)

const (
	// deployMaxTemplate is ARM's limit on a template (and on a parameters
	// file): 4 MB.
	deployMaxTemplate = 4 << 20
	// deployMaxBody bounds a form: a template, parameters and small fields.
	deployMaxBody = 2*deployMaxTemplate + 64<<10
)

func init() {
	extraRoutes = append(extraRoutes, func(p *Portal, m *http.ServeMux) {
		m.HandleFunc("GET /deploy", p.signedIn(p.deployStart))
		m.HandleFunc("POST /deploy", deployLimit(p.signedIn(p.deploySubmit)))
		m.HandleFunc("GET /deploy/groups", p.signedIn(p.deployGroups))
	})
}

// deployLimit refuses forms larger than a template and its parameters may
// be, before anything reads them.
func deployLimit(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > deployMaxBody {
			http.Error(w, "The template and parameters are too large: ARM takes templates and parameters files of up to 4 MB each.", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, deployMaxBody)
		h(w, r)
	}
}

// deployFieldError is a problem with one field, said next to it.
type deployFieldError struct {
	// ID is the element's id, which the field names in aria-describedby.
	ID string
	// Text says what is wrong; Items list each fault.
	Text  string
	Items []string
	// Note explains the line and column numbers, when they were moved.
	Note string
	// JSON is the API's answer, one click away.
	JSON string
}

// deployPlanned is a resource the template deploys, as validate names it.
type deployPlanned struct{ ID, Type, Name string }

// deployParam is a parameter as validate bound it.
type deployParam struct{ Name, Type, Value string }

// deployForm is the Deploy a custom template page: its fields, their
// problems and, on Review + create, what the API found in the template.
type deployForm struct {
	Subscriptions []subscriptionRow
	Subscription  string // a subscription id
	Groups        []string
	// GroupsProblem says why the groups could not be listed.
	GroupsProblem string
	Group         string
	Name          string
	Template      string
	Parameters    string

	SubscriptionErr, GroupErr, NameErr, TemplateErr, ParametersErr *deployFieldError
	// Problem and ProblemJSON are a refusal that no field caused.
	Problem, ProblemJSON string

	// Review is the Review + create step.
	Review           bool
	SubscriptionName string
	Resources        []deployPlanned
	Params           []deployParam

	// read is Template as JSON: the text itself, or JSON.NET's reading of
	// it (deployRead), whose lines are the text's (its columns may not be:
	// see where). compact is the template
	// as sent to the API; offsets map its bytes to those of read (see
	// deployCompact).
	read    string
	compact []byte
	offsets []int
}

// deployDefaultName is the deployment name the Azure portal proposes.
func deployDefaultName(now time.Time) string {
	return "Microsoft.Template-" + now.UTC().Format("20060102150405")
}

// deployStart opens the page, for the subscription and group in the query
// (the Deployments blade's link) or the first subscription.
func (p *Portal) deployStart(c *reqCtx) (*view, error) {
	q := c.r.URL.Query()
	f := &deployForm{Subscription: q.Get("subscription"), Group: q.Get("resourceGroup"), Name: deployDefaultName(time.Now())}
	return c.deployEdit(f)
}

// deployGroups answers the resource group field for the subscription chosen
// (htmx, when the subscription changes).
func (p *Portal) deployGroups(c *reqCtx) (*view, error) {
	q := c.r.URL.Query()
	f := &deployForm{Subscription: q.Get("subscription"), Group: q.Get("resourceGroup")}
	c.deployLoadGroups(f)
	return &view{Page: "deploy", Fragment: "deploy-group-field", Data: f}, nil
}

// deployEdit shows the form with f's values and problems.
func (c *reqCtx) deployEdit(f *deployForm) (*view, error) {
	f.Review = false
	subs, err := c.subscriptionsOf()
	if err != nil {
		return nil, err
	}
	f.Subscriptions = subs
	if f.Subscription == "" && len(subs) > 0 {
		f.Subscription = subs[0].SubscriptionID
	}
	c.deployLoadGroups(f)
	return c.deployView(f), nil
}

func (c *reqCtx) deployView(f *deployForm) *view {
	v := &view{Page: "deploy", Title: "Custom deployment", Subtitle: "Deploy from a custom template", Crumbs: []crumb{{"Home", "/"}}, Data: f,
		Problem: f.Problem, ProblemJSON: f.ProblemJSON}
	if f.anyFieldError() {
		v.Status = http.StatusBadRequest
	}
	return v
}

func (f *deployForm) anyFieldError() bool {
	return f.SubscriptionErr != nil || f.GroupErr != nil || f.NameErr != nil || f.TemplateErr != nil || f.ParametersErr != nil || f.Problem != ""
}

// deployLoadGroups lists the chosen subscription's resource groups, and
// spells the chosen group as its subscription does.
func (c *reqCtx) deployLoadGroups(f *deployForm) {
	f.Groups = nil
	if f.Subscription == "" {
		return
	}
	items, err := c.api.list(withVersion("/subscriptions/"+url.PathEscape(f.Subscription)+"/resourcegroups", groupsVersion))
	if err != nil {
		f.GroupsProblem = "The subscription's resource groups could not be listed. " + plain(err)
		return
	}
	for _, it := range items {
		if n, _ := it["name"].(string); n != "" {
			f.Groups = append(f.Groups, n)
			if strings.EqualFold(n, f.Group) {
				f.Group = n
			}
		}
	}
	sort.Slice(f.Groups, func(i, j int) bool { return strings.ToLower(f.Groups[i]) < strings.ToLower(f.Groups[j]) })
}

// deploySubmit serves the form's buttons: Review + create (action=review)
// validates, Create (action=create) deploys and opens the deployment's
// page, Previous (action=edit) goes back to the fields.
func (p *Portal) deploySubmit(c *reqCtx) (*view, error) {
	r := c.r
	f := &deployForm{
		Subscription: strings.TrimSpace(r.PostFormValue("subscription")),
		Group:        strings.TrimSpace(r.PostFormValue("resourceGroup")),
		Name:         strings.TrimSpace(r.PostFormValue("name")),
		Template:     r.PostFormValue("template"),
		Parameters:   r.PostFormValue("parameters"),
	}
	// A file is read when its box is empty: with script off (no file
	// reader in the page), that is how a file gets in.
	if strings.TrimSpace(f.Template) == "" {
		text, problem := deployUpload(r, "templateFile")
		if problem != "" {
			f.TemplateErr = &deployFieldError{ID: "template-error", Text: problem}
		}
		f.Template = text
	}
	if strings.TrimSpace(f.Parameters) == "" {
		text, problem := deployUpload(r, "parametersFile")
		if problem != "" {
			f.ParametersErr = &deployFieldError{ID: "parameters-error", Text: problem}
		}
		f.Parameters = text
	}
	action := r.PostFormValue("action")
	if action == "edit" {
		f.TemplateErr, f.ParametersErr = nil, nil
		return c.deployEdit(f)
	}
	body := f.check()
	if f.anyFieldError() {
		return c.deployEdit(f)
	}
	dep := "/subscriptions/" + url.PathEscape(f.Subscription) + "/resourceGroups/" + url.PathEscape(f.Group) +
		"/providers/" + deployType + "/" + url.PathEscape(f.Name)
	if action == "create" {
		if _, err := c.api.do(http.MethodPut, withVersion(dep, deployAPIVersion), body); err != nil {
			f.fault(err)
			return c.deployEdit(f)
		}
		return c.redirect(resourceURL(dep))
	}
	rec, err := c.api.do(http.MethodPost, withVersion(dep+"/validate", deployAPIVersion), body)
	if err != nil {
		f.fault(err)
		return c.deployEdit(f)
	}
	if _, err := c.deployEdit(f); err != nil {
		return nil, err
	}
	f.review(rec.body.Bytes())
	return c.deployView(f), nil
}

// deployUpload reads an uploaded file ("" when none was chosen): UTF-8, or
// UTF-16 with a byte order mark as Windows PowerShell writes files. The
// second result says what is wrong with it.
func deployUpload(r *http.Request, field string) (string, string) {
	file, _, err := r.FormFile(field)
	if err != nil {
		return "", "" // none chosen
	}
	defer file.Close()
	b, err := io.ReadAll(io.LimitReader(file, deployMaxTemplate+1))
	if err != nil {
		return "", "The file could not be read: " + err.Error()
	}
	if len(b) > deployMaxTemplate {
		return "", "The file is larger than 4 MB, the most ARM takes."
	}
	return deployText(b)
}

// deployText decodes a file's bytes, or says why it cannot.
func deployText(b []byte) (string, string) {
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		big := b[0] == 0xFE
		b = b[2:]
		u := make([]uint16, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			if big {
				u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
			} else {
				u = append(u, uint16(b[i+1])<<8|uint16(b[i]))
			}
		}
		return string(utf16.Decode(u)), ""
	case !utf8.Valid(b):
		return "", "The file is not text (UTF-8 or UTF-16): choose a JSON file."
	}
	return string(bytes.TrimPrefix(b, []byte("\uFEFF"))), ""
}

// check checks the fields before asking the API, and returns the
// deployment request's body.
func (f *deployForm) check() []byte {
	if f.Subscription == "" {
		f.SubscriptionErr = &deployFieldError{ID: "subscription-error", Text: "Choose a subscription."}
	}
	if f.Group == "" {
		f.GroupErr = &deployFieldError{ID: "resourceGroup-error", Text: "Choose a resource group."}
	}
	if f.Name == "" {
		f.NameErr = &deployFieldError{ID: "name-error", Text: "Enter a name for the deployment."}
	}
	f.Template = strings.TrimPrefix(f.Template, "\uFEFF")
	f.Parameters = strings.TrimPrefix(f.Parameters, "\uFEFF")
	if f.TemplateErr != nil || f.ParametersErr != nil {
		return nil
	}
	switch {
	case strings.TrimSpace(f.Template) == "":
		f.TemplateErr = &deployFieldError{ID: "template-error", Text: "Paste a template, or choose a template file to upload."}
	case len(f.Template) > deployMaxTemplate:
		f.TemplateErr = &deployFieldError{ID: "template-error", Text: "The template is larger than 4 MB, the most ARM takes."}
	default:
		var msg string
		if f.read, msg = deployRead(f.Template, "template"); msg != "" {
			f.TemplateErr = &deployFieldError{ID: "template-error", Text: msg}
		} else if f.compact, f.offsets = deployCompact(f.read); f.compact == nil {
			f.TemplateErr = &deployFieldError{ID: "template-error", Text: "The template could not be read."}
		}
	}
	var params []byte
	if strings.TrimSpace(f.Parameters) != "" {
		if read, msg := deployRead(f.Parameters, "parameters"); msg != "" {
			f.ParametersErr = &deployFieldError{ID: "parameters-error", Text: msg}
		} else {
			var problem string
			if params, problem = deployParameters([]byte(read)); problem != "" {
				f.ParametersErr = &deployFieldError{ID: "parameters-error", Text: problem}
			}
		}
	}
	if f.TemplateErr != nil || f.ParametersErr != nil {
		return nil
	}
	// Written by hand, not with json.Marshal, so that the template reaches
	// the API as compacted here, whose offsets map the API's line and
	// column numbers back to the text.
	var b bytes.Buffer
	b.WriteString(deployLead)
	b.Write(f.compact)
	if params != nil {
		b.WriteString(`,"parameters":`)
		b.Write(params)
	}
	b.WriteString(`}}`)
	return b.Bytes()
}

// deployLead is the request body before the template: the API counts a
// template's line and column numbers in the request as it received it, so
// the template's first character is at column len(deployLead)+1 of line 1.
const deployLead = `{"properties":{"mode":"Incremental","template":`

// deployRead reads text (a template or parameters) as the API reads
// content, with JSON.NET's rules (comments, single quotes, names without
// quotes, trailing commas: arm.ReadJSONNET), and returns it as JSON, whose
// lines are those of text; or it says, in JSON.NET's words and with its
// line and position (as the API and the CLI say it), what is wrong.
func deployRead(text, what string) (read, problem string) {
	read = text
	if !json.Valid([]byte(text)) {
		b, err := arm.ReadJSONNET([]byte(text))
		var je *arm.JSONReaderError
		switch {
		case errors.As(err, &je):
			msg := fmt.Sprintf("The %s is not valid JSON: %s", what, je.Error())
			if je.Hint != "" {
				msg += " (" + je.Hint + ")"
			}
			return "", msg
		case err != nil:
			return "", fmt.Sprintf("The %s is not valid JSON: %v.", what, err)
		}
		read = string(b)
	}
	if arm.Kind([]byte(read)) != "object" {
		return "", fmt.Sprintf("The %s must be a JSON object ({ ... }).", what)
	}
	return read, ""
}

// deployLineCol is the 1-based line and column (in characters) of byte
// offset off in text.
func deployLineCol(text string, off int) (int, int) {
	if off > len(text) {
		off = len(text)
	}
	if off < 0 {
		off = 0
	}
	before := text[:off]
	line := strings.Count(before, "\n") + 1
	start := strings.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCountInString(before[start:]) + 1
}

// deployCompact is text (valid JSON) as privlink's API keeps a request's
// JSON: without insignificant whitespace, and with encoding/json's HTML
// escapes (\u003c, \u003e, \u0026) read as the characters. The API counts
// a template's line and column numbers in that form, all on line 1;
// offsets[i] is where byte i of it came from in text, so that they can be
// moved back to the text a person sees. It returns nil when its result
// is not the API's (it then cannot say where things are).
func deployCompact(text string) ([]byte, []int) {
	out := make([]byte, 0, len(text))
	offsets := make([]int, 0, len(text))
	in := false
	for i := 0; i < len(text); i++ {
		ch := text[i]
		switch {
		case !in && (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'):
			continue
		case !in:
			if ch == '"' {
				in = true
			}
		case ch == '"':
			in = false
		case ch == '\\':
			if i+5 < len(text) && text[i+1] == 'u' && text[i+2] == '0' && text[i+3] == '0' {
				if c := arm.HTMLChar(text[i+4], text[i+5]); c != 0 {
					out, offsets = append(out, c), append(offsets, i)
					i += 5
					continue
				}
			}
			out, offsets = append(out, ch), append(offsets, i)
			i++
			ch = text[i]
		}
		out, offsets = append(out, ch), append(offsets, i)
	}
	var want bytes.Buffer
	if json.Compact(&want, []byte(text)) != nil || !bytes.Equal(arm.UnescapeHTML(want.Bytes()), out) {
		return nil, nil
	}
	return out, offsets
}

// deployParameters reads a parameters file ({"$schema", "contentVersion",
// "parameters": {...}}) or the parameters object alone, as az does, and
// returns the parameters object, or says what is wrong.
func deployParameters(b []byte) ([]byte, string) {
	o, err := arm.ParseObject(b)
	if err != nil {
		return nil, "The parameters are not a JSON object: " + err.Error()
	}
	if p, ok := o.Get("parameters"); ok && (o.Has("$schema") || o.Has("contentVersion")) {
		if arm.Kind(p) != "object" {
			return nil, "The parameters file's 'parameters' is not an object."
		}
		return p, ""
	}
	out, err := o.MarshalJSON()
	if err != nil {
		return nil, err.Error()
	}
	return out, ""
}

// Positions in the API's messages: ARM's ("at line '4' and column '27'")
// and Json.NET's ("line 4, position 27").
var (
	deployAtLine   = regexp.MustCompile(`line '(\d+)' and column '(\d+)'`)
	deployLinePos  = regexp.MustCompile(`line (\d+), position (\d+)`)
	deployDenied   = regexp.MustCompile(`Authorization failed for template resource '([^']*)' of type '([^']*)'\. The client '[^']*' with object id '[^']*' does not have permission to perform action '([^']*)' at scope '([^']*)'`)
	deployParamErr = regexp.MustCompile(`(?i)template parameter`)
	// deployUndeclared is ARM's message for parameters('x') where the
	// template declares no x: the template is at fault, not the values.
	deployUndeclared = regexp.MustCompile(`(?i)template parameter '[^']*' is not found`)
)

// fault puts an API refusal next to the field that caused it, in words,
// with the API's answer one click away.
func (f *deployForm) fault(err error) {
	ae, ok := err.(*APIError)
	if !ok {
		f.Problem = err.Error()
		return
	}
	var env struct {
		Error deployError `json:"error"`
	}
	_ = json.Unmarshal([]byte(ae.Raw), &env)
	e := env.Error
	if e.Code == "" {
		e.Code, e.Message = ae.Code, ae.Message
	}
	raw := deployIndentJSON(json.RawMessage(ae.Raw))
	field := func(id string) *deployFieldError { return &deployFieldError{ID: id, JSON: raw} }
	switch e.Code {
	case "InvalidDeploymentName", "DeploymentNameLengthLimitExceeded":
		f.NameErr = field("name-error")
		f.NameErr.Text = "This name cannot be used: " + e.Message
	case "DeploymentActive":
		f.NameErr = field("name-error")
		f.NameErr.Text = "A deployment of this name is still running in the group: wait for it to end, or choose another name. " + e.Message
	case "ResourceGroupNotFound":
		f.GroupErr = field("resourceGroup-error")
		f.GroupErr.Text = "This resource group is not there (any more). " + e.Message
	case "SubscriptionNotFound", "InvalidSubscriptionId":
		f.SubscriptionErr = field("subscription-error")
		f.SubscriptionErr.Text = "This subscription is not there. " + e.Message
	case "AuthorizationFailed", "LinkedAuthorizationFailed":
		f.GroupErr = field("resourceGroup-error")
		f.GroupErr.Text = "You do not have permission to deploy templates to this resource group. " + e.Message
	case "InvalidTemplate":
		fe := field("template-error")
		fe.Text = "The template is not valid."
		fe.Items = []string{f.where(deployInner(e.Message), fe)}
		for _, d := range e.Details {
			fe.Items = append(fe.Items, f.where(deployInner(d.Message), fe))
		}
		if deployUndeclared.MatchString(e.Message) {
			fe.Text = "The template uses a parameter that its parameters section does not declare."
			f.TemplateErr = fe
		} else if deployParamErr.MatchString(e.Message) {
			fe.ID, fe.Text = "parameters-error", "A parameter's value is missing or not valid."
			f.ParametersErr = fe
		} else {
			f.TemplateErr = fe
		}
	case "InvalidTemplateDeployment", "InvalidRequestContent", "InvalidResourceType", "NoRegisteredProviderFound", "MissingSubscriptionRegistration":
		fe := field("template-error")
		f.TemplateErr = fe
		if m := deployDenied.FindAllStringSubmatch(e.Message, -1); len(m) > 0 {
			fe.Text = "You do not have permission to deploy this template: it holds resources that you may not create or change. Nothing was deployed."
			for _, d := range m {
				fe.Items = append(fe.Items, fmt.Sprintf("%s '%s' (%s): you may not perform %s at %s.", typeName(d[2]), d[1], d[2], d[3], d[4]))
			}
			return
		}
		fe.Text = "The template cannot be deployed here: the checks before deploying it failed. Nothing was deployed."
		fe.Items = deployErrorLines(&e)
		for i := range fe.Items {
			fe.Items[i] = f.where(fe.Items[i], fe)
		}
	default:
		f.Problem, f.ProblemJSON = plain(ae), ae.Raw
	}
}

// deployInner is the inner message of ARM's "Deployment template
// validation failed: '...'." (what the person needs to read).
func deployInner(msg string) string {
	for _, lead := range []string{"Deployment template validation failed: '", "Deployment template parse failed: '"} {
		if rest, ok := strings.CutPrefix(msg, lead); ok {
			return strings.TrimSuffix(strings.TrimSuffix(rest, "."), "'") + "."
		}
	}
	return msg
}

// where moves the line and column numbers of msg, which the API counts in
// the request it received (deployLead, then the compacted template, all on
// line 1), to the template as the person wrote it, and notes that fe's
// numbers were moved.
func (f *deployForm) where(msg string, fe *deployFieldError) string {
	if f.compact == nil {
		return msg
	}
	move := func(re *regexp.Regexp, format string) {
		msg = re.ReplaceAllStringFunc(msg, func(m string) string {
			sub := re.FindStringSubmatch(m)
			line, _ := strconv.Atoi(sub[1])
			col, _ := strconv.Atoi(sub[2])
			col -= utf8.RuneCountInString(deployLead)
			if line != 1 || col < 1 {
				return m
			}
			off, ok := deployRuneOffset(f.compact, col-1)
			if !ok || off >= len(f.offsets) {
				return m
			}
			l, c := deployLineCol(f.read, f.offsets[off])
			if l != line || c != col {
				fe.Note = "Line and column numbers are those of the template as you gave it; the API's answer counts them in the request as it received it, the template without spaces and line breaks, all on line 1."
				if f.read != f.Template {
					// JSON.NET's reading keeps lines, not columns: a name
					// without quotes gains two, a comment or an escape may
					// change length.
					fe.Note = "Line numbers are those of the template as you gave it. Columns are counted in the template as the API reads it, which differs from your text on lines with comments, names without quotes or escapes in single quotes; the API's answer counts both in the request as it received it, the template without spaces and line breaks, all on line 1."
				}
			}
			return fmt.Sprintf(format, l, c)
		})
	}
	move(deployAtLine, "line '%d' and column '%d'")
	move(deployLinePos, "line %d, position %d")
	return msg
}

// deployRuneOffset is the byte offset of the n-th character of b.
func deployRuneOffset(b []byte, n int) (int, bool) {
	off := 0
	for i := 0; i < n; i++ {
		if off >= len(b) {
			return 0, false
		}
		_, size := utf8.DecodeRune(b[off:])
		off += size
	}
	return off, off < len(b)
}

// review reads what validate answered: the resources the template deploys
// and the parameters as bound.
func (f *deployForm) review(body []byte) {
	f.Review = true
	for _, s := range f.Subscriptions {
		if s.SubscriptionID == f.Subscription {
			f.SubscriptionName = s.Name
		}
	}
	var doc struct {
		Properties struct {
			Parameters         json.RawMessage `json:"parameters"`
			ValidatedResources []struct {
				ID string `json:"id"`
			} `json:"validatedResources"`
		} `json:"properties"`
	}
	_ = json.Unmarshal(body, &doc)
	for _, r := range doc.Properties.ValidatedResources {
		pr := deployPlanned{ID: r.ID, Name: r.ID}
		if rid, aerr := arm.ParseResourceID(r.ID); aerr == nil {
			pr.Type, pr.Name = rid.Type(), strings.Join(rid.Names, "/")
		}
		f.Resources = append(f.Resources, pr)
	}
	if o, err := arm.ParseObject(doc.Properties.Parameters); err == nil {
		for _, k := range o.Keys() {
			raw, _ := o.Get(k)
			var p struct {
				Type  string          `json:"type"`
				Value json.RawMessage `json:"value"`
			}
			_ = json.Unmarshal(raw, &p)
			v := deployValueText(p.Value)
			if len(p.Value) == 0 && strings.HasPrefix(strings.ToLower(p.Type), "secure") {
				v = "(hidden)"
			}
			f.Params = append(f.Params, deployParam{Name: k, Type: p.Type, Value: v})
		}
	}
}
