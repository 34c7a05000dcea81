package templates

// RevokeView is the confirmation before a revoke.
type RevokeView struct {
	Row           AssignmentRow
	Seen          string
	Justification string
	Required      bool
	Errors        FieldErrors
	Problem       string
	// Fresh, when set, asks for a fresh sign-in first: the form goes to
	// /auth/fresh instead of revoking.
	Fresh *FreshSignInView
}
