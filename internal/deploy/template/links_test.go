package template

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirLinks(t *testing.T) {
	root := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("example.com/t/a.json", "host")
	write("t/b.json", "path")
	links := DirLinks(filepath.Join(root))
	for uri, want := range map[string]string{
		"https://example.com/t/a.json?sv=2020&sig=x": "host",
		"https://other.net/t/b.json":                 "path",
		"https://example.com/../../t/b.json":         "path",
	} {
		got, err := links(uri)
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", uri, got, err, want)
		}
	}
	if _, err := links("https://example.com/../../../etc/passwd"); err == nil {
		t.Errorf("read outside the root")
	}
}
