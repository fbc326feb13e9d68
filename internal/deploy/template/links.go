package template

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/privlink/privlink/internal/deploy/plan"
)

// DirLinks returns a plan.Links that reads linked templates and parameter
// files from the directory root, so that templates which link to
// https://raw.githubusercontent.com/... or a storage account deploy offline:
// a URI's host and path name a file under root ("https://example.com/t/a.json"
// is root/example.com/t/a.json), or, when no directory is named after the
// host, its path alone (root/t/a.json), then the path's tails
// (root/a.json). The query (a SAS token) is ignored.
// Nothing outside root is ever read.
func DirLinks(root string) plan.Links {
	return func(uri string) ([]byte, error) {
		u, err := url.Parse(uri)
		if err != nil {
			return nil, fmt.Errorf("the template link '%s' is not a valid URI", uri)
		}
		p := u.Path
		if u.Opaque != "" {
			p = u.Opaque
		}
		// path.Clean on a rooted path removes every "..", so the joined
		// name stays under root.
		clean := path.Clean("/" + p)
		var tries []string
		if u.Host != "" {
			tries = append(tries, filepath.Join(root, filepath.FromSlash(path.Clean("/"+u.Host)), filepath.FromSlash(clean)))
		}
		tries = append(tries, filepath.Join(root, filepath.FromSlash(clean)))
		// Then ever shorter tails of the path (root/b/c.json, root/c.json for
		// .../a/b/c.json), so that a root holding the template tree from any
		// depth works.
		segs := strings.Split(strings.TrimPrefix(clean, "/"), "/")
		for i := 1; i < len(segs); i++ {
			tries = append(tries, filepath.Join(root, filepath.Join(segs[i:]...)))
		}
		for _, name := range tries {
			data, err := os.ReadFile(name)
			if err == nil {
				return data, nil
			}
			if !os.IsNotExist(err) {
				return nil, err
			}
		}
		return nil, fmt.Errorf("no file for '%s' under the template root", uri)
	}
}
