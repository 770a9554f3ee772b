package outer

import (
	"encoding/binary"

	"github.com/ipencap/ipencap/checksum"
	"github.com/ipencap/ipencap/iphdr"
)

// ECN is an explicit congestion notification codepoint (RFC 3168 §5): the
// two low-order bits of the IPv4 TOS byte and of the IPv6 traffic class.
type ECN uint8

// The four ECN codepoints.
const (
	// NotECT marks a packet of a transport that does not support ECN.
	NotECT ECN = 0b00
	// ECT1 is ECN-capable transport codepoint 1, "ECT(1)".
	ECT1 ECN = 0b01
	// ECT0 is ECN-capable transport codepoint 0, "ECT(0)".
	ECT0 ECN = 0b10
	// CE is "congestion experienced", set by a congested router.
	CE ECN = 0b11
)

// ECNOf returns the ECN codepoint of a TOS or traffic class byte.
func ECNOf(tos uint8) ECN { return ECN(tos & 0b11) }

// String returns the name RFC 3168 and RFC 6040 use: "Not-ECT", "ECT(1)",
// "ECT(0)" or "CE".
func (e ECN) String() string {
	switch e {
	case NotECT:
		return "Not-ECT"
	case ECT1:
		return "ECT(1)"
	case ECT0:
		return "ECT(0)"
	case CE:
		return "CE"
	}
	return "ECN(invalid)"
}

// ECNMode chooses how the outer ECN field is set on encapsulation
// (RFC 6040 §4.1).
type ECNMode uint8

const (
	// ECNNormal is RFC 6040's normal mode, the default: the outer ECN is
	// a copy of the inner one, except that CE becomes ECT(0), so that
	// congestion marked before the tunnel is not counted twice and the
	// outer header cannot be used to smuggle a CE past the egress.
	ECNNormal ECNMode = iota
	// ECNCompat is RFC 6040's compatibility mode: the outer ECN is always
	// Not-ECT, for egresses that do not implement RFC 6040 (or RFC 4301)
	// decapsulation. Decapsulation follows the same table in both modes.
	ECNCompat
)

// String returns "normal" or "compat".
func (m ECNMode) String() string {
	switch m {
	case ECNNormal:
		return "normal"
	case ECNCompat:
		return "compat"
	}
	return "ECNMode(invalid)"
}

// EncapECN returns the outer ECN for an inner one under RFC 6040's normal
// mode: a copy, with CE turned into ECT(0).
func EncapECN(inner ECN) ECN {
	inner &= 0b11
	if inner == CE {
		return ECT0
	}
	return inner
}

// ECNVerdict is what RFC 6040 decapsulation makes of an inner/outer ECN
// combination.
type ECNVerdict uint8

const (
	// ECNForward means the combination is an expected one: forward the
	// inner packet with the ECN that DecapECN returns.
	ECNForward ECNVerdict = iota
	// ECNAlarm means a combination RFC 6040 marks "(!!!)", one that
	// should not occur and is worth counting or logging, but the packet
	// is still forwarded.
	ECNAlarm
	// ECNDrop means outer CE over a Not-ECT inner packet: drop it (also
	// a "(!!!)" combination).
	ECNDrop
)

// String returns "forward", "alarm" or "drop".
func (v ECNVerdict) String() string {
	switch v {
	case ECNForward:
		return "forward"
	case ECNAlarm:
		return "alarm"
	case ECNDrop:
		return "drop"
	}
	return "ECNVerdict(invalid)"
}

// decapTable is the RFC 6040 §4.2 decapsulation table, indexed
// [inner][outer]; each cell holds the ECN to forward in its low two bits and
// the verdict above them. Rows are the arriving inner ECN, columns the
// arriving outer ECN, cells the inner ECN sent on; "(!!!)" marks a
// combination that should not occur and is worth counting:
//
//	inner \ outer | Not-ECT | ECT(0)        | ECT(1)        | CE
//	Not-ECT       | Not-ECT | Not-ECT (!!!) | Not-ECT (!!!) | drop (!!!)
//	ECT(0)        | ECT(0)  | ECT(0)        | ECT(1)        | CE
//	ECT(1)        | ECT(1)  | ECT(1)        | ECT(1)        | CE
//	CE            | CE      | CE            | CE (!!!)      | CE
//
// The array is indexed by codepoint value (Not-ECT 0, ECT(1) 1, ECT(0) 2,
// CE 3), not in the table's column order.
var decapTable = [4][4]uint8{
	NotECT: {NotECT: cell(NotECT, ECNForward), ECT1: cell(NotECT, ECNAlarm), ECT0: cell(NotECT, ECNAlarm), CE: cell(NotECT, ECNDrop)},
	ECT1:   {NotECT: cell(ECT1, ECNForward), ECT1: cell(ECT1, ECNForward), ECT0: cell(ECT1, ECNForward), CE: cell(CE, ECNForward)},
	ECT0:   {NotECT: cell(ECT0, ECNForward), ECT1: cell(ECT1, ECNForward), ECT0: cell(ECT0, ECNForward), CE: cell(CE, ECNForward)},
	CE:     {NotECT: cell(CE, ECNForward), ECT1: cell(CE, ECNAlarm), ECT0: cell(CE, ECNForward), CE: cell(CE, ECNForward)},
}

func cell(e ECN, v ECNVerdict) uint8 { return uint8(e) | uint8(v)<<2 }

// DecapECN applies the RFC 6040 decapsulation table to the ECN of an
// arriving inner packet and of its outer header, and returns the ECN to
// forward the inner packet with and the verdict. On ECNDrop the returned
// ECN is meaningless.
func DecapECN(inner, outer ECN) (ECN, ECNVerdict) {
	c := decapTable[inner&0b11][outer&0b11]
	return ECN(c & 0b11), ECNVerdict(c >> 2)
}

// ApplyECN applies RFC 6040 decapsulation to an inner IPv4 or IPv6 packet
// in place: it rewrites the inner ECN field as [DecapECN] decides (for
// IPv4, fixing the header checksum incrementally by RFC 1624) and reports
// whether the combination was one RFC 6040 marks "(!!!)". It returns
// [ErrECNDrop] (with alarm true) for outer CE over a Not-ECT inner packet,
// leaving the packet untouched. Only the version nibble and the length of
// the fixed header are checked ([ErrInnerVersion], [ErrInnerTruncated]).
// GRE receivers call it on the packet the GRE header carries; Decap calls
// it for IPIP. ApplyECN never allocates.
func ApplyECN(inner []byte, outer ECN) (alarm bool, err error) {
	if len(inner) == 0 {
		return false, ErrInnerTruncated
	}
	var tos uint8
	switch inner[0] >> 4 {
	case 4:
		if len(inner) < iphdr.IPv4MinLen {
			return false, ErrInnerTruncated
		}
		tos = iphdr.IPv4(inner).TOS()
	case 6:
		if len(inner) < iphdr.IPv6Len {
			return false, ErrInnerTruncated
		}
		tos = iphdr.IPv6(inner).TrafficClass()
	default:
		return false, ErrInnerVersion
	}
	in := ECNOf(tos)
	e, v := DecapECN(in, outer)
	if v == ECNDrop {
		return true, ErrECNDrop
	}
	if e != in {
		setECN(inner, e)
	}
	return v == ECNAlarm, nil
}

// setECN writes e into the ECN bits of the IP packet p, whose version and
// fixed-header length the caller has checked.
func setECN(p []byte, e ECN) {
	if p[0]>>4 == 6 {
		h := iphdr.IPv6(p)
		h.SetTrafficClass(h.TrafficClass()&^0b11 | uint8(e))
		return
	}
	h := iphdr.IPv4(p)
	old := binary.BigEndian.Uint16(p[0:2]) // version/IHL and TOS: one checksummed word
	h.SetTOS(h.TOS()&^0b11 | uint8(e))
	h.SetChecksum(checksum.Update16(h.Checksum(), old, binary.BigEndian.Uint16(p[0:2])))
}
