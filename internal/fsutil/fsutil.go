// Package fsutil writes files the way privlink's data directory needs:
// atomically, durably, and without clobbering a file another process made.
package fsutil

import (
	"errors"
	"os"
	"path/filepath"
)

// WriteFileOnce writes data to path atomically unless path already exists
// (then it does nothing): a temporary file is synced and hard-linked into
// place, so that readers never see half a file and racing writers agree.
func WriteFileOnce(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}
