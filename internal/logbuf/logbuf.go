// Package logbuf makes logging cheap enough for an access log on every
// request: a Writer gathers log lines in memory and writes them out in
// batches (when 64 KiB are waiting, every 100 ms, and at once for a
// warning or worse), so that a request costs a copy instead of a write
// system call. It depends on nothing of privlink's.
//
// What a crash can lose: the lines of the last flush interval (100 ms by
// default) at Info and below. Warnings and errors are written before the
// call that logs them returns.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// DefaultInterval is how long a line may wait in memory.
const DefaultInterval = 100 * time.Millisecond

// bufferSize is the batch written at once when it fills.
const bufferSize = 64 << 10

// Writer buffers what is written to it and writes it to its destination in
// batches. It is safe for concurrent use, and a Write never waits for the
// destination: a batch is taken out of the buffer under the lock and
// written outside it, while new lines go to a fresh buffer. Write never
// fails: an error of the destination is kept and returned by the next
// Flush or Close (a log that cannot be written must not fail the request
// that logged).
type Writer struct {
	mu    sync.Mutex // guards buf, spare, err
	buf   []byte
	spare []byte
	err   error
	// out serializes the writes to dst, so batches keep their order.
	out  sync.Mutex
	dst  io.Writer
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// New starts a Writer that writes to dst at least every interval
// (DefaultInterval when interval is 0). Close stops it.
func New(dst io.Writer, interval time.Duration) *Writer {
	if interval <= 0 {
		interval = DefaultInterval
	}
	w := &Writer{dst: dst, buf: make([]byte, 0, bufferSize), spare: make([]byte, 0, bufferSize),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop(interval)
	return w
}

func (w *Writer) loop(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-w.kick:
		case <-w.stop:
			return
		}
		_ = w.Flush()
	}
}

// Write appends p to the buffer. When the buffer is full it asks the
// writer's goroutine to write it out, and grows it meanwhile rather than
// wait (a burst costs memory for one interval, never a stall). It always
// reports len(p), nil.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= bufferSize
	w.mu.Unlock()
	if full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Flush writes what is buffered, and returns the first error the
// destination gave since the last Flush.
func (w *Writer) Flush() error {
	w.out.Lock()
	defer w.out.Unlock()
	w.mu.Lock()
	batch := w.buf
	w.buf, w.spare = w.spare[:0], nil
	w.mu.Unlock()
	var werr error
	if len(batch) > 0 {
		_, werr = w.dst.Write(batch)
	}
	// A batch grown by a burst is not kept: the buffers return to their
	// usual size.
	if cap(batch) > 4*bufferSize {
		batch = make([]byte, 0, bufferSize)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.spare = batch[:0]
	if werr != nil && w.err == nil {
		w.err = werr
	}
	err := w.err
	w.err = nil
	return err
}

// Close flushes and stops the periodic writes. Writes after Close are
// still buffered and written by Flush.
func (w *Writer) Close() error {
	select {
	case <-w.stop:
	default:
		close(w.stop)
		<-w.done
	}
	return w.Flush()
}

// Handler wraps a slog.Handler that writes to w so that a record at
// urgent or above (slog.LevelWarn, say) is written out before Handle
// returns.
func Handler(h slog.Handler, w *Writer, urgent slog.Level) slog.Handler {
	return &handler{Handler: h, w: w, urgent: urgent}
}

type handler struct {
	slog.Handler
	w      *Writer
	urgent slog.Level
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= h.urgent {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{Handler: h.Handler.WithAttrs(as), w: h.w, urgent: h.urgent}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{Handler: h.Handler.WithGroup(name), w: h.w, urgent: h.urgent}
}
