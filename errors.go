package ipencap

// Error is a per-packet sentinel error of the codecs: a fixed message that
// matches, with errors.Is, one error kind of this package and any further
// causes (io.ErrUnexpectedEOF, io.ErrShortBuffer).
type Error struct {
	msg    string
	causes []error
}

// NewError returns an error whose Error method returns msg and which
// matches each of causes with errors.Is. Call it once, at package level:
// returning the result on a per-packet path never allocates.
func NewError(msg string, causes ...error) error {
	return &Error{msg: msg, causes: causes}
}

// Error returns the message.
func (e *Error) Error() string { return e.msg }

// Unwrap returns the causes, for errors.Is and errors.As.
func (e *Error) Unwrap() []error { return e.causes }
