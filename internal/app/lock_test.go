package app

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestLockDirNamesItsHolder: a second server on a data directory is refused
// with the process and address of the one that holds it, and the directory
// is free again once that one lets go.
func TestLockDirNamesItsHolder(t *testing.T) {
	dir := t.TempDir()
	first, err := lockDir(dir, "127.0.0.1:18443")
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockDir(dir, "127.0.0.1:28443")
	want := fmt.Sprintf("data directory %s is in use by another privlink server (process %d, https://127.0.0.1:18443): stop it, or give this one another --data", dir, os.Getpid())
	if err == nil || err.Error() != want {
		t.Fatalf("second lock: %v, want %q", err, want)
	}
	first.Close()
	second, err := lockDir(dir, "127.0.0.1:28443")
	if err != nil {
		t.Fatalf("after the first let go: %v", err)
	}
	defer second.Close()
	b, _ := os.ReadFile(dir + "/privlink.lock")
	if !strings.Contains(string(b), "https://127.0.0.1:28443") || strings.Contains(string(b), "18443") {
		t.Fatalf("the lock file names %q, want only the second holder", b)
	}
}
