package logbuf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the writer's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	n  int // writes
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func TestBatchesAndKeepsOrder(t *testing.T) {
	dst := &syncBuffer{}
	w := New(dst, time.Hour) // no periodic flush during the test
	var want strings.Builder
	for i := 0; i < 1000; i++ {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if dst.writes() != 0 {
		t.Errorf("%d writes reached the destination before a flush; want 0 (the lines fit the buffer)", dst.writes())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if dst.String() != want.String() {
		t.Error("the lines came out changed or out of order")
	}
	if dst.writes() != 1 {
		t.Errorf("%d writes for 1000 short lines, want 1", dst.writes())
	}
}

func TestFullBufferIsWrittenWithoutWaitingForTheInterval(t *testing.T) {
	dst := &syncBuffer{}
	w := New(dst, time.Hour)
	chunk := bytes.Repeat([]byte("x"), 40<<10)
	w.Write(chunk)
	w.Write(chunk) // the buffer is full: the writer's goroutine writes it
	deadline := time.Now().Add(5 * time.Second)
	for dst.writes() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a full buffer waited for the interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	big := bytes.Repeat([]byte("y"), 200<<10)
	w.Write(big)
	w.Close()
	got := dst.String()
	if len(got) != 2*len(chunk)+len(big) || !strings.HasSuffix(got, string(big)) {
		t.Errorf("got %d bytes in the wrong order", len(got))
	}
}

func TestConcurrentWritersLoseNothing(t *testing.T) {
	dst := &syncBuffer{}
	w := New(dst, time.Millisecond)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				fmt.Fprintf(w, "g%d i%d\n", g, i)
			}
		}(g)
	}
	wg.Wait()
	w.Close()
	lines := strings.Split(strings.TrimSuffix(dst.String(), "\n"), "\n")
	if len(lines) != 8*5000 {
		t.Fatalf("%d lines, want %d", len(lines), 8*5000)
	}
	// Each writer's lines keep their order.
	next := map[string]int{}
	for _, l := range lines {
		var g, i int
		if _, err := fmt.Sscanf(l, "g%d i%d", &g, &i); err != nil {
			t.Fatalf("a torn line: %q", l)
		}
		k := fmt.Sprint(g)
		if i != next[k] {
			t.Fatalf("writer %d: line %d after %d", g, i, next[k]-1)
		}
		next[k] = i + 1
	}
}

func TestPeriodicFlush(t *testing.T) {
	dst := &syncBuffer{}
	w := New(dst, 10*time.Millisecond)
	defer w.Close()
	w.Write([]byte("soon\n"))
	deadline := time.Now().Add(5 * time.Second)
	for dst.String() != "soon\n" {
		if time.Now().After(deadline) {
			t.Fatal("the line was not written by the periodic flush")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestDestinationErrorGoesToFlush(t *testing.T) {
	w := New(failing{}, time.Hour)
	if n, err := w.Write([]byte("a\n")); n != 2 || err != nil {
		t.Fatalf("Write = %d, %v; want 2, nil", n, err)
	}
	if err := w.Flush(); err == nil || err.Error() != "disk full" {
		t.Errorf("Flush = %v, want the destination's error", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close after the error was reported = %v, want nil (nothing buffered)", err)
	}
}

func TestHandlerWritesWarningsAtOnce(t *testing.T) {
	dst := &syncBuffer{}
	w := New(dst, time.Hour)
	defer w.Close()
	log := slog.New(Handler(slog.NewTextHandler(w, nil), w, slog.LevelWarn)).With("app", "privlink")
	log.Info("request", "status", 200)
	if dst.String() != "" {
		t.Errorf("an info line was written at once: %q", dst.String())
	}
	log.Warn("trouble")
	got := dst.String()
	if !strings.Contains(got, "msg=request") || !strings.Contains(got, "msg=trouble") || !strings.Contains(got, "app=privlink") {
		t.Errorf("after a warning the destination holds %q, want both lines with the handler's attributes", got)
	}
}

// BenchmarkLog compares an access-log line through the buffer with the same
// line written straight to the destination (one write per line), as
// privlink logged before. The destination is a pipe, like a terminal or a
// service manager's journal.
func BenchmarkLog(b *testing.B) {
	run := func(b *testing.B, out io.Writer) {
		log := slog.New(slog.NewTextHandler(out, nil))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				log.LogAttrs(context.Background(), slog.LevelInfo, "request", slog.String("method", "GET"),
					slog.String("path", "/subscriptions/00000000-0000-4000-8000-000000000002/resourceGroups/adx/providers/Microsoft.Kusto/clusters/mycluster"),
					slog.Int("status", 200), slog.Duration("duration", 42*time.Microsecond), slog.String("request_id", "6f1c1b8e-3f0e-4d4b-9a51-0f6a7e0f3c11"))
			}
		})
	}
	drain := func(b *testing.B) io.Writer {
		r, w, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		go io.Copy(io.Discard, r)
		b.Cleanup(func() { w.Close(); r.Close() })
		return w
	}
	b.Run("direct", func(b *testing.B) { run(b, drain(b)) })
	b.Run("buffered", func(b *testing.B) {
		w := New(drain(b), 0)
		defer w.Close()
		run(b, w)
	})
}
