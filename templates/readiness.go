package templates

// ReadinessView is the readiness page: whether access will work in the
// person's tenant, check by check.
type ReadinessView struct {
	Checks    []CheckView
	Passing   int
	CheckedAt string // "" when never
	// Note says why the checks are older than asked (Graph asked to wait).
	Note string
	// MayConsent and MayRevoke offer the fixes the portal itself can make.
	MayConsent, MayRevoke bool
}

// CheckItemView is one object a check found wanting.
type CheckItemView struct {
	ObjectID, Label, Problem, Fix string
	ConsentHref, RevokeHref       string // "" when not offered
}
