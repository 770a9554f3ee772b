//go:build linux

package main

import (
	"io"
	"log/slog"
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

// lineState is "up" or "down".
func lineState(up bool) string {
	if up {
		return "up"
	}
	return "down"
}
