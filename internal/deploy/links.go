package deploy

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/privlink/privlink/internal/deploy/plan"
)

// FileLinks maps templateLink and parametersLink URIs to files below root,
// so that templates written for Azure, which link to templates in storage
// accounts or on GitHub, deploy from a local checkout unmodified. A URI
// https://host/a/b/c.json is looked up as root/a/b/c.json, then
// root/host/a/b/c.json, then by ever shorter suffixes of its path
// (root/b/c.json, root/c.json), so that a root holding the template tree at
// any depth works; the query string (a SAS token) is ignored. file:// URIs
// are read when they lie below root. Nothing outside root is read.
func FileLinks(root string) plan.Links {
	return func(uri string) ([]byte, error) {
		if root == "" {
			return nil, errors.New("no --template-root is set, so linked templates cannot be read")
		}
		u, err := url.Parse(uri)
		if err != nil {
			return nil, fmt.Errorf("the URI is not valid: %v", err)
		}
		abs, err := filepath.Abs(root)
		if err != nil {
			return nil, err
		}
		p := path.Clean("/" + u.Path)
		var candidates []string
		if u.Scheme == "file" {
			candidates = append(candidates, filepath.FromSlash(p))
		} else {
			segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
			candidates = append(candidates, filepath.Join(abs, filepath.FromSlash(p)), filepath.Join(abs, u.Host, filepath.FromSlash(p)))
			for i := 1; i < len(segs); i++ {
				candidates = append(candidates, filepath.Join(abs, filepath.Join(segs[i:]...)))
			}
		}
		for _, c := range candidates {
			rel, err := filepath.Rel(abs, c)
			if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				continue
			}
			if b, err := os.ReadFile(c); err == nil {
				return b, nil
			}
		}
		return nil, fmt.Errorf("no file for it below the template root %s", abs)
	}
}
