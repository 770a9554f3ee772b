package testpkt

import "github.com/ipencap/ipencap/outer"

// ECNCase is one cell of the RFC 6040 decapsulation table: the inner and
// outer ECN codepoints as they arrive, the inner codepoint sent on, and the
// verdict.
type ECNCase struct {
	Inner, Outer, Want outer.ECN
	Verdict            outer.ECNVerdict
}

// RFC6040 is the RFC 6040 decapsulation table (SPEC §2.2), one row per
// combination, written out cell by cell rather than computed, for the
// tests of every package that decapsulates.
var RFC6040 = []ECNCase{
	{outer.NotECT, outer.NotECT, outer.NotECT, outer.ECNForward},
	{outer.NotECT, outer.ECT0, outer.NotECT, outer.ECNAlarm},
	{outer.NotECT, outer.ECT1, outer.NotECT, outer.ECNAlarm},
	{outer.NotECT, outer.CE, 0, outer.ECNDrop},
	{outer.ECT0, outer.NotECT, outer.ECT0, outer.ECNForward},
	{outer.ECT0, outer.ECT0, outer.ECT0, outer.ECNForward},
	{outer.ECT0, outer.ECT1, outer.ECT1, outer.ECNForward},
	{outer.ECT0, outer.CE, outer.CE, outer.ECNForward},
	{outer.ECT1, outer.NotECT, outer.ECT1, outer.ECNForward},
	{outer.ECT1, outer.ECT0, outer.ECT1, outer.ECNForward},
	{outer.ECT1, outer.ECT1, outer.ECT1, outer.ECNForward},
	{outer.ECT1, outer.CE, outer.CE, outer.ECNForward},
	{outer.CE, outer.NotECT, outer.CE, outer.ECNForward},
	{outer.CE, outer.ECT0, outer.CE, outer.ECNForward},
	{outer.CE, outer.ECT1, outer.CE, outer.ECNAlarm},
	{outer.CE, outer.CE, outer.CE, outer.ECNForward},
}
