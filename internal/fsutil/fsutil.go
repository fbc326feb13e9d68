// Package fsutil writes files the way privlink's data directory needs:
// atomically, durably, and without clobbering a file another process made.
package fsutil

import (
	"errors"
	"os"
	"path/filepath"
)

// WriteFile writes data to path atomically, replacing what is there: a
// temporary file is synced and renamed into place, so that readers see
// the old file or the new one, never half of one.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	return os.Rename(tmp, path)
}

// writeTemp writes data to a synced temporary file beside path.
func writeTemp(path string, data []byte, perm os.FileMode) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	ok = true
	return tmp, nil
}

// WriteFileOnce writes data to path atomically unless path already exists
// (then it does nothing): a temporary file is synced and hard-linked into
// place, so that readers never see half a file and racing writers agree.
func WriteFileOnce(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}
