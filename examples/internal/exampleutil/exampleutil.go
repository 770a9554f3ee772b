// Package exampleutil holds the scaffolding that the example daemons
// (examples/gretun and examples/hub) share: their logger, their flag and
// listen-address checks, and the HTTP server of their Prometheus metrics.
// The metrics themselves, the signal loops and the device-name checks
// differ between the daemons and stay in each of them.
package exampleutil

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// NewLogger returns a logger of slog text or JSON records (format "json")
// on w, from level on.
func NewLogger(format string, w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// CheckListenAddr checks a listen address, host:port (the host may be
// empty: every address).
func CheckListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port")
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return errors.New("port out of range")
	}
	return nil
}

// PrefixList is a repeatable flag.Value of prefixes with their host bits
// (192.0.2.1/30): each Set appends to *List.
type PrefixList struct{ List *[]netip.Prefix }

// String implements flag.Value: the prefixes, comma separated.
func (l PrefixList) String() string {
	if l.List == nil {
		return ""
	}
	s := make([]string, len(*l.List))
	for i, p := range *l.List {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// Set implements flag.Value: it parses s and appends it to *List.
func (l PrefixList) Set(s string) error {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return err
	}
	*l.List = append(*l.List, p)
	return nil
}

// MetricsServer is an HTTP server of a daemon's metrics, started by
// ServeMetrics and stopped by Close.
type MetricsServer struct {
	srv  *http.Server
	done chan struct{}
}

// ServeMetrics listens on addr and serves h there (a mux with /metrics),
// logging "serving metrics" with the address at level Info, and the
// server's errors at levels Warn and Error on log.
func ServeMetrics(addr string, h http.Handler, log *slog.Logger) (*MetricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	m := &MetricsServer{
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
		done: make(chan struct{}),
	}
	log.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	return m, nil
}

// Close stops the server, giving scrapes in progress a second.
func (m *MetricsServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if m.srv.Shutdown(ctx) != nil {
		m.srv.Close()
	}
	<-m.done
}
