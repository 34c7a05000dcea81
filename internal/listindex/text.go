package listindex

import (
	"bytes"
	"slices"
	"unsafe"

	"github.com/teamsphone/portal/internal/pagebuf"
	"github.com/teamsphone/portal/internal/portal"
)

// arena holds the index's strings end to end in one byte slice, so that
// 200,000 rows' labels and names are one allocation the garbage collector
// never scans, instead of 600,000 strings it must.
type arena struct{ b []byte }

// sref is a string in the arena: its offset (high 40 bits) and length (low
// 24 bits; longer strings are cut, which no label or name reaches).
type sref uint64

const maxStr = 1<<24 - 1

func (a *arena) add(s string) sref {
	if s == "" {
		return 0
	}
	if len(s) > maxStr {
		s = s[:maxStr]
	}
	off := len(a.b)
	a.b = append(a.b, s...)
	return sref(off)<<24 | sref(len(s))
}

// addFold adds f, the folded form of the string at r, unless it is the
// same (a UPN is usually in lower case already).
func (a *arena) addFold(r sref, f string) sref {
	if a.equal(r, f) {
		return r
	}
	return a.add(f)
}

func (a *arena) bytes(r sref) []byte {
	off, n := int(r>>24), int(r&maxStr)
	return a.b[off : off+n : off+n]
}

// str copies r out of the arena: callers keep strings past the next change.
func (a *arena) str(r sref) string { return string(a.bytes(r)) }

// pageText holds copies of the strings and client IDs one page shows, in
// buffers of the page's own (see pagebuf): a page outlives the index's
// lock (it is rendered, and its view may be kept), so its strings cannot
// point into the arena, but fifty rows of five strings each need not be
// 250 allocations.
type pageText struct {
	text pagebuf.Text
	sets pagebuf.Slots[portal.GUID]
}

// str is the string at r: copied into t, or on its own when t is nil.
func (t *pageText) str(a *arena, r sref) string {
	if t == nil {
		return a.str(r)
	}
	return t.text.Copy(a.bytes(r))
}

// set is a copy of a row's client IDs, in t when t is not nil.
func (t *pageText) set(ids []portal.GUID) []portal.GUID {
	if t == nil || len(ids) == 0 {
		return slices.Clone(ids)
	}
	return t.sets.Copy(ids)
}

func (a *arena) equal(r sref, s string) bool { return string(a.bytes(r)) == s }

func (a *arena) compare(r, s sref) int { return bytes.Compare(a.bytes(r), a.bytes(s)) }

// guidText writes g's canonical text into buf.
func guidText(buf *[36]byte, g portal.GUID) []byte { return g.AppendString(buf[:0]) }

const (
	rowSize   = int(unsafe.Sizeof(row{}))
	nameSize  = int(unsafe.Sizeof(nameRec{}))
	plistSize = int(unsafe.Sizeof(plist{}))
)
