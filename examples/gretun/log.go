//go:build linux

package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/ipencap/ipencap/tunnel"
)

// newLogger returns the daemon's logger: slog text or JSON records on w,
// level Info and above.
func newLogger(format string, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func lineState(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

// logLine is the tunnel's OnLineChange: "line protocol down" at level Warn,
// "line protocol up" at Info, with the remote and the keepalive counters.
// It runs on the engine's keepalive timer or receive goroutine, and only
// reads the counters.
func logLine(log *slog.Logger, t *tunnel.Tunnel, up bool) {
	s, c := t.Stats(), t.Config()
	level := slog.LevelWarn
	if up {
		level = slog.LevelInfo
	}
	log.LogAttrs(context.Background(), level, "line protocol "+lineState(up),
		slog.String("tunnel", c.Name),
		slog.String("remote", c.Remote.String()),
		slog.Uint64("keepalives_sent", s.KeepalivesSent),
		slog.Uint64("keepalive_replies", s.KeepaliveReplies),
		slog.Uint64("line_changes", s.LineChanges))
}

// dropLineMsgs is the tunnel's slog.Handler: the daemon's, without the
// engine's own "line protocol up/down" records, which logLine reports
// with more detail.
type dropLineMsgs struct{ slog.Handler }

func (h dropLineMsgs) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "line protocol up" || r.Message == "line protocol down" {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h dropLineMsgs) WithAttrs(as []slog.Attr) slog.Handler {
	return dropLineMsgs{h.Handler.WithAttrs(as)}
}

func (h dropLineMsgs) WithGroup(name string) slog.Handler {
	return dropLineMsgs{h.Handler.WithGroup(name)}
}
