package templates

// FreshSignInView is a confirmation's request for a fresh sign-in before
// one of the most destructive acts: why, and where the sign-in comes back.
type FreshSignInView struct {
	// Explanation says what the act does and what it asks ("Revoking the
	// resource account … Confirm it is you: sign in again. …").
	Explanation string
	// ReturnTo is the confirmation's own address.
	ReturnTo string
}
