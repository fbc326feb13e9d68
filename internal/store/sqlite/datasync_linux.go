package sqlite

import (
	"os"
	"syscall"
)

// datasync flushes f's data, and of its metadata only what reading the data
// needs (its size): fdatasync(2), as SQLite itself syncs. Overwriting a
// segment's blocks then journals nothing, where fsync(2) would write the
// new modification time too.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
