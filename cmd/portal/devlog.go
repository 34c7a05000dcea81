package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Dev mode's console is for the person running it: the banner first, then
// only what asks for their attention. Every log line still goes, as the
// JSON lines portal serve writes, to a file in the data folder.
const (
	// devLogName is the log file in the data folder.
	devLogName = "portal.log"
	// devLogKeep is how big the log file may grow before dev mode, at
	// start, moves it aside to portal.log.1 (replacing the one before):
	// a data folder kept for months must not fill the disk.
	devLogKeep = 20 << 20
	// devSlowRequest is how long a request takes before the console shows
	// it although it succeeded: locally every page takes milliseconds.
	devSlowRequest = time.Second
	// accessLogMessage is the message of web's access log lines, one per
	// request, with status and duration attributes.
	accessLogMessage = "request"
)

// openDevLog opens the data folder's log file for appending, owner-only
// (its lines name people and their sign-ins), after moving a too big one
// aside.
func openDevLog(dataDir string) (*os.File, string, error) {
	path := filepath.Join(dataDir, devLogName)
	if fi, err := os.Stat(path); err == nil && fi.Size() > devLogKeep {
		if err := os.Rename(path, path+".1"); err != nil {
			return nil, "", err
		}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	return f, path, err
}

// devLogger writes every record as JSON to file and the ones worth a look
// (all of them when verbose) to console, a line each.
func devLogger(file, console io.Writer, verbose bool) *slog.Logger {
	return slog.New(slog.NewMultiHandler(
		slog.NewJSONHandler(file, nil),
		newConsoleHandler(console, verbose),
	))
}

// worthShowing reports whether the console shows r when not verbose:
// warnings and errors, and the requests that failed or were slow. The
// rest (each page, the emulators' calls, checkpoints, sign-ins) is in the
// log file.
func worthShowing(r slog.Record) bool {
	if r.Level >= slog.LevelWarn {
		return true
	}
	if r.Message != accessLogMessage {
		return false
	}
	show := false
	r.Attrs(func(a slog.Attr) bool {
		v := a.Value.Resolve()
		switch {
		case a.Key == "status" && v.Kind() == slog.KindInt64:
			show = show || v.Int64() >= 400
		case a.Key == "duration" && v.Kind() == slog.KindDuration:
			show = show || v.Duration() >= devSlowRequest
		}
		return true
	})
	return show
}

// consoleHandler writes a record as one short line: the time of day, the
// level, the message, then the attributes as slog's text handler writes
// them ("16:45:36 WARN  request  method=GET path=/x status=404 …").
type consoleHandler struct {
	mu      *sync.Mutex   // shared by the handlers With… derives: one line at a time
	buf     *bytes.Buffer // the attributes of the record in hand, under mu
	attrs   slog.Handler  // a text handler writing to buf, without time, level and message
	w       io.Writer
	verbose bool
}

func newConsoleHandler(w io.Writer, verbose bool) *consoleHandler {
	buf := &bytes.Buffer{}
	return &consoleHandler{mu: &sync.Mutex{}, buf: buf, w: w, verbose: verbose,
		attrs: slog.NewTextHandler(buf, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
				return slog.Attr{}
			}
			return a
		}})}
}

// Enabled is true from Info up: whether an Info record is shown depends on
// its attributes, which only Handle sees.
func (h *consoleHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *consoleHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.verbose && !worthShowing(r) {
		return nil
	}
	r = requestIDLast(r)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	if err := h.attrs.Handle(ctx, r); err != nil {
		return err
	}
	line := r.Time.Format("15:04:05") + " " + padLevel(r.Level) + " " + r.Message
	if attrs := strings.TrimSpace(h.buf.String()); attrs != "" {
		line += "  " + attrs
	}
	_, err := io.WriteString(h.w, line+"\n")
	return err
}

// requestIDLast moves a request's ID behind its other attributes, so that
// a request's line reads "method=GET path=/x status=404" first.
func requestIDLast(r slog.Record) slog.Record {
	var id slog.Attr
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "request_id" {
			id = a
		} else {
			out.AddAttrs(a)
		}
		return true
	})
	if id.Key == "" {
		return r
	}
	out.AddAttrs(id)
	return out
}

func (h *consoleHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = h.attrs.WithAttrs(attrs)
	return &c
}

func (h *consoleHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.attrs = h.attrs.WithGroup(name)
	return &c
}

// padLevel lines the messages up: INFO, WARN and ERROR in five columns.
func padLevel(l slog.Level) string {
	s := l.String()
	if len(s) < 5 {
		s += strings.Repeat(" ", 5-len(s))
	}
	return s
}

// heldWriter holds what is written to it until Release, then writes it to
// w and passes everything after straight on: dev mode's console starts
// with the banner, and what was logged while it started comes below it.
type heldWriter struct {
	mu       sync.Mutex
	w        io.Writer
	held     bytes.Buffer
	released bool
}

func (h *heldWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return h.w.Write(p)
	}
	return h.held.Write(p)
}

// Release writes what was held and lets the rest through; again, it does
// nothing.
func (h *heldWriter) Release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.released {
		h.released = true
		h.w.Write(h.held.Bytes())
		h.held = bytes.Buffer{}
	}
}
