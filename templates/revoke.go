package templates

// RevokeView is the confirmation before a revoke.
type RevokeView struct {
	Row           AssignmentRow
	Seen          string
	Justification string
	Required      bool
	Errors        FieldErrors
	Problem       string
}
