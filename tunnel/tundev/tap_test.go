//go:build linux

package tundev_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/tunnel/tundev"
)

// TestTAP: a TAP device is an Ethernet interface, configured like a TUN
// device; a frame the kernel sends (here an ARP request for a neighbour
// of its address) is read whole, Ethernet header first; Close wakes a
// blocked Read, which returns ErrClosed, and a second Close returns nil.
func TestTAP(t *testing.T) {
	ns := newNetns(t)
	var tap *tundev.TAP
	var err error
	ns.Do(t, func() {
		tap, err = tundev.OpenTAP(tundev.Config{Name: "tap0", MTU: 1462, Addrs: []netip.Prefix{self4}})
	})
	require.NoError(t, err)
	t.Cleanup(func() { tap.Close() })
	link, err := ns.NL.LinkByName("tap0")
	require.NoError(t, err)
	assert.Equal(t, "tuntap", link.Type())
	assert.Equal(t, 1462, link.Attrs().MTU)
	assert.NotZero(t, link.Attrs().Flags&net.FlagUp)
	mac, err := tap.HardwareAddr()
	require.NoError(t, err)
	assert.Len(t, mac, 6)
	assert.Equal(t, 1, tap.BatchSize())

	// A datagram to the peer makes the kernel ask for its MAC address.
	ns.Do(t, func() {
		c, err := net.Dial("udp", netip.AddrPortFrom(peer4, 9).String())
		require.NoError(t, err)
		_, _ = c.Write([]byte("x"))
		c.Close()
	})
	bufs, sizes := [][]byte{make([]byte, 2000)}, []int{0}
	for deadline := time.Now().Add(5 * time.Second); ; {
		require.True(t, time.Now().Before(deadline), "no ARP request within 5 s")
		n, err := tap.Read(bufs, sizes, 16)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		f := bufs[0][16 : 16+sizes[0]]
		if len(f) >= 42 && f[12] == 0x08 && f[13] == 0x06 { // EtherType ARP
			assert.Equal(t, []byte(mac), []byte(f[6:12]), "from the device's MAC address")
			assert.Equal(t, peer4.AsSlice(), []byte(f[38:42]), "asking for the peer")
			break
		}
	}
	done := make(chan error, 1)
	go func() { // frames (IPv6 neighbour discovery) may come first
		for {
			if _, err := tap.Read(bufs, sizes, 16); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, tap.Close())
	select {
	case err := <-done:
		assert.ErrorIs(t, err, tundev.ErrClosed)
	case <-time.After(2 * time.Second):
		t.Fatal("Read still blocked after Close")
	}
	assert.NoError(t, tap.Close(), "a second Close does nothing")
	_, err = tap.Write(bufs, 16)
	assert.ErrorIs(t, err, tundev.ErrClosed)
	// The netlink calls too: a closed handle would act on the calling
	// thread's namespace.
	_, err = tap.MTU()
	assert.ErrorIs(t, err, tundev.ErrClosed)
	assert.ErrorIs(t, tap.SetMTU(1400), tundev.ErrClosed)
	_, err = tap.HardwareAddr()
	assert.ErrorIs(t, err, tundev.ErrClosed)
}

// TestOpenBadConfig: Open and OpenTAP refuse a bad MTU or prefix with an
// *Error naming it, before anything is created.
func TestOpenBadConfig(t *testing.T) {
	ns := newNetns(t)
	for _, tc := range []struct {
		name string
		cfg  tundev.Config
		op   string
	}{
		{"mtu", tundev.Config{Name: "bad0", MTU: 67}, "mtu 67"},
		{"mapped address", tundev.Config{Name: "bad0", Addrs: []netip.Prefix{netip.MustParsePrefix("::ffff:192.0.2.1/128")}}, "prefix ::ffff:192.0.2.1/128"},
		{"invalid route", tundev.Config{Name: "bad0", Routes: []netip.Prefix{{}}}, "prefix invalid Prefix"},
	} {
		for _, kind := range []string{"tun", "tap"} {
			var err error
			ns.Do(t, func() {
				if kind == "tun" {
					_, err = tundev.Open(tc.cfg)
				} else {
					_, err = tundev.OpenTAP(tc.cfg)
				}
			})
			var e *tundev.Error
			if assert.ErrorAs(t, err, &e, "%s %s", kind, tc.name) {
				assert.Equal(t, tc.op, e.Op, "%s %s", kind, tc.name)
			}
			_, lerr := ns.NL.LinkByName("bad0")
			assert.Error(t, lerr, "%s %s: nothing created", kind, tc.name)
		}
	}
}
