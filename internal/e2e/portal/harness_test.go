// Package portal tests the web UI end to end in headless Chromium, driven
// by chromedp, as a person clicks it: controls are found by their
// accessible names (labels, button texts), which is what a person reads.
package portal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

// chromiumPath is Debian's Chromium, which .ci/run installs.
func chromiumPath() string {
	if p := os.Getenv("PRIVLINK_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, _ := exec.LookPath("chromium")
	return p
}

// browser starts a headless Chromium for the test (a fresh profile), at
// 1280x800, and returns its context. Browser tests are slow: they run with
// PRIVLINK_SLOW_TESTS=1.
func browser(t *testing.T) context.Context {
	t.Helper()
	testkit.SkipUnlessSlow(t, "browser tests (headless Chromium)")
	path := chromiumPath()
	testkit.Need(t, path != "", "Chromium", "apt-get install chromium (what .ci/run does)")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 800),
		// The server's certificate is signed by the data directory's CA,
		// which this fresh profile does not trust.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// xq quotes s for an XPath string literal.
func xq(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	return "concat('" + strings.ReplaceAll(s, "'", `', "'", '`) + "')"
}

// byLabel is the XPath of the control whose label reads label.
func byLabel(label string) string {
	return fmt.Sprintf(`//*[@id=//label[normalize-space()=%s]/@for]`, xq(label))
}

// byButton is the XPath of a button (or a link styled as one) reading name.
func byButton(name string) string {
	return fmt.Sprintf(`//button[normalize-space()=%[1]s or @aria-label=%[1]s] | //a[contains(@class,'button')][normalize-space()=%[1]s]`, xq(name))
}

// byLink is the XPath of a link reading name.
func byLink(name string) string {
	return fmt.Sprintf(`//a[normalize-space()=%s]`, xq(name))
}

// step is one step of a walk through the UI.
type step = chromedp.Action[chromedp.Void]

// run runs steps, failing the test with what was being done and the text
// of the page at that moment.
func run(t *testing.T, ctx context.Context, what string, steps ...step) {
	t.Helper()
	// Each walk gets 30 s (a page waits a few seconds at most), so a step
	// that never comes fails with the page as it was, while the browser's
	// own context still has time to read it.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("%s: %v\npage text:\n%s", what, err, body)
	}
}

// text is the text of the first element matching css.
func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	// htmx may swap the element between the query for it and the read of
	// its text ("No node with given id found"): query it again then.
	for tries := 0; ; tries++ {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
		if err != nil && tries < 5 && strings.Contains(err.Error(), "No node with given id") {
			continue
		}
		if err != nil {
			t.Fatalf("reading %s: %v", css, err)
		}
		return s
	}
}

// location is the page's URL.
func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fill types value into the control labelled label, after emptying it
// (by script: chromedp.Clear fails on an empty textarea, and SetValue
// cannot set an empty value).
func fill(label, value string) step {
	return chromedp.Steps(
		chromedp.WaitVisible(byLabel(label)),
		evaluate(fmt.Sprintf(`document.evaluate(%q, document, null, 9, null).singleNodeValue.value = ''`, byLabel(label))),
		chromedp.SendKeys(byLabel(label), value),
	)
}

// paste puts value into the control labelled label at once, as pasting
// does (SetValue fires one input and one change event), for texts too
// long to type key by key.
func paste(label, value string) step {
	return chromedp.Steps(
		chromedp.WaitVisible(byLabel(label)),
		chromedp.SetValue(byLabel(label), value),
	)
}

// click clicks the button reading name.
func click(name string) step {
	return chromedp.Steps(chromedp.WaitEnabled(byButton(name)), chromedp.Click(byButton(name)))
}

// follow clicks the link reading name.
func follow(name string) step {
	return chromedp.Steps(chromedp.WaitVisible(byLink(name)), chromedp.Click(byLink(name)))
}

// choose selects the option reading option in the select labelled label,
// firing the change event a person's choice fires (htmx listens to it).
func choose(label, option string) step {
	opt := byLabel(label) + fmt.Sprintf(`/option[normalize-space()=%s]`, xq(option))
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if err := chromedp.Do(ctx, chromedp.WaitReady(opt)); err != nil {
			return fmt.Errorf("option %q of %q: %w", option, label, err)
		}
		// The option's value property: its text when it has no value
		// attribute, as a form submits it.
		v, err := chromedp.Run(ctx, chromedp.JavascriptAttribute[string](opt, "value"))
		if err != nil {
			return err
		}
		// SetValue fires input and change; then wait, as a person does,
		// for the choices that depend on this one to load.
		return chromedp.Do(ctx, chromedp.SetValue(byLabel(label), v), settled())
	})
}

// settled waits until the page has no htmx request in flight (htmx marks
// the element that sent one with the class htmx-request until its answer
// is swapped in), seen twice 50 ms apart.
func settled() step {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		quiet := 0
		for quiet < 2 {
			busy, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling') !== null`))
			if err != nil {
				return err
			}
			if busy {
				quiet = 0
			} else {
				quiet++
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for the page's requests to end: %w", ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
		return nil
	})
}

// evaluate runs a script for its effect.
func evaluate(js string) step {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
		if err == chromedp.ErrJSUndefined || err == chromedp.ErrJSNull {
			return nil
		}
		return err
	})
}

// waitText waits until the main content shows text.
func waitText(text string) step {
	return chromedp.WaitVisible(fmt.Sprintf(`//main//*[contains(normalize-space(), %s)]`, xq(text)))
}

// signIn signs in on the sign-in page as user with password.
func signIn(env *testkit.Env, user, password string) step {
	return chromedp.Steps(
		chromedp.Navigate(env.URL+"/signin"),
		fill("User name", user),
		fill("Password", password),
		click("Sign in"),
		chromedp.WaitVisible(byButton("Sign out")),
	)
}

// signInDefault signs in as the default service principal.
func signInDefault(env *testkit.Env) step {
	return signIn(env, identity.DefaultClientID, identity.DefaultClientSecret)
}

// checkNarrow reloads the page in a 420-pixel-wide window and fails the
// test if anything makes the page wider than the window (tables scroll in
// their own boxes), naming the widest offenders; then restores 1280x800.
func checkNarrow(t *testing.T, ctx context.Context, ready string) {
	t.Helper()
	run(t, ctx, "a narrow window", chromedp.EmulateViewport(420, 800), chromedp.Reload(), chromedp.WaitVisible(ready))
	defer run(t, ctx, "back to 1280x800", chromedp.EmulateViewport(1280, 800))
	over, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
		if (document.documentElement.scrollWidth <= window.innerWidth + 1) return [];
		const out = [];
		for (const e of document.querySelectorAll('body *')) {
			const r = e.getBoundingClientRect();
			if (r.right > window.innerWidth + 1 && !e.closest('.scroll')) {
				out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + String(e.className).replace(/ /g, '.') : '') + ' right=' + Math.round(r.right));
			}
		}
		return out.length ? out.slice(0, 8) : ['(the document, by ' + (document.documentElement.scrollWidth - window.innerWidth) + ' px)'];
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if len(over) > 0 {
		t.Errorf("at 420 pixels the page is wider than the window: %s", strings.Join(over, ", "))
	}
	checkNames(t, ctx)
}

// checkNames fails the test for each control of the page without an
// accessible name (a label, aria-label, aria-labelledby, its text or a
// title): the names are what a screen reader says and what tests use.
func checkNames(t *testing.T, ctx context.Context) {
	t.Helper()
	nameless, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
		const out = [];
		for (const e of document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href], summary')) {
			let name = e.getAttribute('aria-label') || '';
			if (!name && e.getAttribute('aria-labelledby')) {
				name = e.getAttribute('aria-labelledby').split(/\s+/).map(id => (document.getElementById(id) || {}).textContent || '').join(' ');
			}
			if (!name && e.labels && e.labels.length) name = e.labels[0].textContent;
			if (!name && !['INPUT', 'SELECT', 'TEXTAREA'].includes(e.tagName)) name = e.textContent;
			if (!name) name = e.getAttribute('title') || '';
			if (!name.trim()) out.push(e.outerHTML.slice(0, 120));
		}
		return out;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nameless {
		t.Errorf("a control without an accessible name: %s", n)
	}
}

// focused is the text of the focused element, waiting up to two seconds
// for it to read want (htmx moves the focus to an autofocus element once
// its swap has settled, a moment after the new content shows).
func focused(t *testing.T, ctx context.Context, want string) string {
	t.Helper()
	var got string
	for deadline := time.Now().Add(2 * time.Second); ; {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.textContent.trim() : ""`))
		if err != nil {
			t.Fatal(err)
		}
		if got = s; got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}
