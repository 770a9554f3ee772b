// Package errs builds the per-packet sentinel errors of the codecs: an error
// with a fixed message that matches, with errors.Is, one error kind of the
// root package ipencap and any further causes (io.ErrUnexpectedEOF,
// io.ErrShortBuffer).
package errs

// Error is a sentinel error: a message and the errors it matches.
type Error struct {
	msg    string
	causes []error
}

// New returns an error whose Error method returns msg and which matches each
// of causes with errors.Is. Call it once, at package level: returning the
// result on a per-packet path never allocates.
func New(msg string, causes ...error) error {
	return &Error{msg: msg, causes: causes}
}

// Error returns the message.
func (e *Error) Error() string { return e.msg }

// Unwrap returns the causes, for errors.Is and errors.As.
func (e *Error) Unwrap() []error { return e.causes }
