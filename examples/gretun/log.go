//go:build linux

package main

// lineState is "up" or "down".
func lineState(up bool) string {
	if up {
		return "up"
	}
	return "down"
}
