package testpkt

// ECNCase is one cell of the RFC 6040 decapsulation table: the inner and
// outer ECN codepoints (0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE) as they
// arrive, the inner codepoint sent on, and the verdict (0 forward, 1
// forward but worth logging, "(!!!)", 2 drop).
type ECNCase struct {
	Inner, Outer, Want, Verdict uint8
}

// RFC6040 is the RFC 6040 decapsulation table (SPEC §2.2), one row per
// combination, written out cell by cell rather than computed, for the
// tests of every package that decapsulates.
var RFC6040 = []ECNCase{
	{0, 0, 0, 0}, {0, 2, 0, 1}, {0, 1, 0, 1}, {0, 3, 0, 2},
	{2, 0, 2, 0}, {2, 2, 2, 0}, {2, 1, 1, 0}, {2, 3, 3, 0},
	{1, 0, 1, 0}, {1, 2, 1, 0}, {1, 1, 1, 0}, {1, 3, 3, 0},
	{3, 0, 3, 0}, {3, 2, 3, 0}, {3, 1, 3, 1}, {3, 3, 3, 0},
}
