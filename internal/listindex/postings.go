package listindex

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// postings map each trigram (three bytes of folded text) to the rows whose
// text holds it. Each text is padded with two separators, so every byte of
// it starts a trigram: a query of one or two bytes is the union of the
// lists of the trigrams it starts, and a longer one is in the intersection
// of its trigrams' lists (exactly, for three bytes).
type postings struct {
	lists map[uint32]*plist
	// keys are the trigrams in order, for the prefix ranges of short
	// queries; new ones are rare after the first build.
	keys  []uint32
	bytes int
}

const sep = 0 // the padding byte: no folded text holds it (labels refuse control characters, names have them replaced)

func gram(a, b, c byte) uint32 { return uint32(a)<<16 | uint32(b)<<8 | uint32(c) }

// addText posts row id under every trigram of text.
func (p *postings) addText(id uint32, text []byte) {
	if len(text) == 0 {
		return
	}
	at := func(i int) byte {
		if i < len(text) {
			return text[i]
		}
		return sep
	}
	for i := range text {
		g := gram(text[i], at(i+1), at(i+2))
		l := p.lists[g]
		if l == nil {
			l = &plist{}
			p.lists[g] = l
			k, _ := slices.BinarySearch(p.keys, g)
			p.keys = slices.Insert(p.keys, k, g)
		}
		p.bytes -= l.size()
		l.add(id)
		p.bytes += l.size()
	}
}

// plist is a posting list: ascending row numbers, each stored as its
// distance from the previous one plus one, in varints (mostly one byte).
// Every skipEvery-th posting is also noted in skips, so that an
// intersection with a few rows jumps to them instead of reading the whole
// list (a name's trigrams are posted for tens of thousands of rows).
type plist struct {
	data  []byte
	skips []skip
	next  uint32 // the last row posted + 1 (0: none)
	n     int32
}

// skip is where a block of postings starts: its byte offset in data, and
// the row number the decoding adds to from there (the previous row + 1).
type skip struct{ off, next uint32 }

const skipEvery = 64

// size is the bytes the list holds.
func (l *plist) size() int { return len(l.data) + 8*len(l.skips) }

// add posts id, which is at least the last one posted (the same row posted
// again, for a trigram its text holds twice, is skipped).
func (l *plist) add(id uint32) {
	if l.n > 0 && id+1 == l.next {
		return
	}
	if l.n%skipEvery == 0 && l.n > 0 {
		l.skips = append(l.skips, skip{off: uint32(len(l.data)), next: l.next})
	}
	l.data = binary.AppendUvarint(l.data, uint64(id-l.next))
	l.next = id + 1
	l.n++
}

// each calls fn for each row posted, in order, until fn returns false.
func (l *plist) each(fn func(uint32) bool) {
	next := uint32(0)
	for p := 0; p < len(l.data); {
		v := uint32(l.data[p])
		if v < 0x80 {
			p++
		} else {
			x, n := binary.Uvarint(l.data[p:])
			v, p = uint32(x), p+n
		}
		next += v + 1
		if !fn(next - 1) {
			return
		}
	}
}

// appendTo appends the rows posted to out.
func (l *plist) appendTo(out []uint32) []uint32 {
	out = slices.Grow(out, int(l.n))
	l.each(func(id uint32) bool { out = append(out, id); return true })
	return out
}

// intersect keeps the rows of sorted ids that l holds: for each, it jumps
// to the block of postings that could hold it, then reads on from there.
// (It decodes postings as each does, written out again: most of a
// search's time is here, and a shared helper for the varint is over the
// inliner's budget, a call per posting.)
func (l *plist) intersect(ids []uint32) []uint32 {
	out := ids[:0]
	data, p, next := l.data, 0, uint32(0)
	id, have := uint32(0), false // the last row read, at data[:p]
	block := -1                  // the last block jumped to
	for _, want := range ids {
		// The last block starting at or before want, if it is ahead. (A
		// row read before it is below its start, so below want.)
		k := block
		for k+1 < len(l.skips) && l.skips[k+1].next <= want {
			k++
		}
		if k > block {
			block = k
			if off := int(l.skips[k].off); off >= p {
				p, next, have = off, l.skips[k].next, false
			}
		}
		for !have || id < want {
			if p >= len(data) {
				return out
			}
			v := uint32(data[p])
			if v < 0x80 {
				p++
			} else {
				x, n := binary.Uvarint(data[p:])
				v, p = uint32(x), p+n
			}
			id, next, have = next+v, next+v+1, true
		}
		if id == want {
			out = append(out, want)
		}
	}
	return out
}

// bitset is a set of row numbers.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(id uint32)      { b[id/64] |= 1 << (id % 64) }
func (b bitset) has(id uint32) bool { return b[id/64]&(1<<(id%64)) != 0 }

// count is how many members b has.
func (b bitset) count() int {
	n := 0
	for _, word := range b {
		n += bits.OnesCount64(word)
	}
	return n
}

// each calls fn for each member, ascending.
func (b bitset) each(fn func(uint32)) {
	for w, word := range b {
		for word != 0 {
			t := bits.TrailingZeros64(word)
			fn(uint32(w*64 + t))
			word &= word - 1
		}
	}
}
