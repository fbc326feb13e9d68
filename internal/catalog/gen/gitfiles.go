package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

// gitFiles streams the files at HEAD of the repository at dir (a work tree,
// or a bare or shallow clone: nothing is checked out) that lie below the
// folder under ("" for all) and that keep accepts, in path order, through
// one "git cat-file --batch", and returns how many it read. Files the
// repository lacks (a partial clone) are skipped.
func gitFiles(dir, under string, keep func(path string) bool, add func(name string, r io.Reader) error) (int, error) {
	args := []string{"-C", dir, "ls-tree", "-r", "-z", "--name-only", "HEAD"}
	if under != "" {
		args = append(args, "--", under)
	}
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		return 0, fmt.Errorf("git ls-tree in %s: %w", dir, err)
	}
	var paths []string
	for _, p := range strings.Split(string(out), "\x00") {
		if p != "" && keep(p) {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return 0, nil
	}
	sort.Strings(paths)
	cmd := exec.Command("git", "-C", dir, "cat-file", "--batch")
	var stdin bytes.Buffer
	for _, p := range paths {
		stdin.WriteString("HEAD:" + p + "\n")
	}
	cmd.Stdin = &stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	fail := func(err error) (int, error) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, err
	}
	br := bufio.NewReaderSize(stdout, 1<<20)
	n := 0
	for _, p := range paths {
		hdr, err := br.ReadString('\n')
		if err != nil {
			return fail(fmt.Errorf("git cat-file: %w", err))
		}
		// "<object> blob <size>", or "<object> missing" for what the
		// repository lacks (a partial clone): such files are skipped.
		f := strings.Fields(hdr)
		if len(f) != 3 {
			fmt.Fprintf(os.Stderr, "gen: skipping %s: %s", p, hdr)
			continue
		}
		size, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return fail(fmt.Errorf("git cat-file: bad header %q", hdr))
		}
		body := io.LimitReader(br, size)
		if err := add(p, body); err != nil {
			return fail(err)
		}
		n++
		// Drain what the reader left, and the newline after the object.
		if _, err := io.Copy(io.Discard, body); err != nil {
			return fail(err)
		}
		if _, err := br.ReadByte(); err != nil {
			return fail(err)
		}
	}
	return n, cmd.Wait()
}
