package access

// SetMaxPeopleChecked makes runs of the readiness checks look up at most n
// people, until restore.
func SetMaxPeopleChecked(n int) (restore func()) {
	was := maxPeopleChecked
	maxPeopleChecked = n
	return func() { maxPeopleChecked = was }
}
