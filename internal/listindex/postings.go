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
		p.bytes -= len(l.data)
		l.add(id)
		p.bytes += len(l.data)
	}
}

// plist is a posting list: ascending row numbers, each stored as its
// distance from the previous one plus one, in varints (mostly one byte).
type plist struct {
	data []byte
	next uint32 // the last row posted + 1 (0: none)
	n    int32
}

// add posts id, which is at least the last one posted (the same row posted
// again, for a trigram its text holds twice, is skipped).
func (l *plist) add(id uint32) {
	if l.n > 0 && id+1 == l.next {
		return
	}
	l.data = binary.AppendUvarint(l.data, uint64(id-l.next))
	l.next = id + 1
	l.n++
}

// each calls fn for each row posted, in order, until fn returns false.
func (l *plist) each(fn func(uint32) bool) {
	next := uint32(0)
	for b := l.data; len(b) > 0; {
		v, n := binary.Uvarint(b)
		b = b[n:]
		id := next + uint32(v)
		next = id + 1
		if !fn(id) {
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

// intersect keeps the rows of sorted ids that l holds.
func (l *plist) intersect(ids []uint32) []uint32 {
	out, i := ids[:0], 0
	l.each(func(id uint32) bool {
		for i < len(ids) && ids[i] < id {
			i++
		}
		if i == len(ids) {
			return false
		}
		if ids[i] == id {
			out = append(out, id)
			i++
		}
		return true
	})
	return out
}

// bitset is a set of row numbers.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(id uint32)      { b[id/64] |= 1 << (id % 64) }
func (b bitset) has(id uint32) bool { return b[id/64]&(1<<(id%64)) != 0 }

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
