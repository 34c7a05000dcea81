// Package pagebuf holds the many short strings and small slices one page
// shows in a few buffers of the page's own, instead of an allocation each:
// a list page of fifty rows made some 440 small allocations of its IDs,
// times, names and app lists (issue 13).
//
// What makes it safe: a buffer is only ever appended to. A string or slice
// handed out covers bytes (or elements) that nothing writes again; when an
// append outgrows the buffer, the new array takes the rest, and what was
// handed out keeps the old one alive. Slices are capped at their length,
// so that appending to one reallocates it instead of writing over the
// next. A page's buffers are its own: made for one page, kept as long as
// anything of the page is.
package pagebuf

import "unsafe"

// Text is a page's strings, end to end. The zero value is ready to use.
type Text struct{ b []byte }

// NewText is a Text with room for n bytes.
func NewText(n int) Text { return Text{b: make([]byte, 0, n)} }

// Write appends what write appends and returns it as a string.
func (t *Text) Write(write func([]byte) []byte) string {
	start := len(t.b)
	t.b = write(t.b)
	if len(t.b) == start {
		return ""
	}
	return unsafe.String(&t.b[start], len(t.b)-start)
}

// Copy returns a copy of src as a string.
func (t *Text) Copy(src []byte) string {
	if len(src) == 0 {
		return ""
	}
	start := len(t.b)
	t.b = append(t.b, src...)
	return unsafe.String(&t.b[start], len(src))
}

// Slots is a page's small slices of T, end to end. The zero value is ready
// to use.
type Slots[T any] struct{ s []T }

// NewSlots is a Slots with room for n elements.
func NewSlots[T any](n int) Slots[T] { return Slots[T]{s: make([]T, 0, n)} }

// Take returns n zero elements to fill in, capped at n.
func (p *Slots[T]) Take(n int) []T {
	if cap(p.s)-len(p.s) < n {
		p.s = make([]T, 0, max(2*cap(p.s), n)) // what was taken keeps the old array
	}
	start := len(p.s)
	p.s = p.s[:start+n]
	return p.s[start : start+n : start+n]
}

// Copy returns a copy of src, capped at its length (nil for none).
func (p *Slots[T]) Copy(src []T) []T {
	if len(src) == 0 {
		return nil
	}
	out := p.Take(len(src))
	copy(out, src)
	return out
}
