package access

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// Readiness checks the chain around assignments that must hold for access
// to work (see portal.Check). The first link is the portal's own: may it
// call the ACS API at all?
type Readiness struct {
	core
	acs portal.ACS

	mu     sync.Mutex
	probes map[portal.GUID]*probe // by tenant
}

func newReadiness(c core, acs portal.ACS) *Readiness {
	return &Readiness{core: c, acs: acs, probes: map[portal.GUID]*probe{}}
}

// NewReadiness is the readiness checks alone, for a command that has no
// database (portal config check): cfg.ACS, Now and Logger are used.
func NewReadiness(cfg Config) *Readiness { return newReadiness(cfg.core(), cfg.ACS) }

// probe is one tenant's last ACS access check; mu is held while one runs,
// so that many asking at once (every instance's /readyz, a page) cause one
// call.
type probe struct {
	mu   sync.Mutex
	last portal.Check
}

// ProbeTimeout bounds one probe: /readyz and pages wait for it.
const ProbeTimeout = 5 * time.Second

// CheckACSAccess is the name of the check that the portal may call ACS.
const CheckACSAccess = "acs-access"

// ACSAccess is the check that the portal may call the ACS API, for the
// signed-in person's tenant, at most maxAge old: what admins and auditors
// see (with the fix when it fails).
func (s *Readiness) ACSAccess(ctx context.Context, who Who, maxAge time.Duration) (portal.Check, error) {
	if !MayReadAudit(who.User) {
		return portal.Check{}, portal.Errorf(portal.EFORBIDDEN, "Your role does not allow this.")
	}
	return s.ProbeACS(ctx, who.User.TenantID, maxAge), nil
}

// ProbeACS checks that the portal may call the ACS API for tenant, unless a
// check at most maxAge old is at hand: it GETs the assignment of a random
// object ID, which no one has. 404 proves the portal is authorised; 401 or
// 403 that it is not (with ACS's code and message, and the fix); anything
// else (ACS down, throttling, no network) proves nothing: unknown. For the
// system's own questions (start, /readyz, config check), not people's.
func (s *Readiness) ProbeACS(ctx context.Context, tenant portal.GUID, maxAge time.Duration) portal.Check {
	s.mu.Lock()
	p := s.probes[tenant]
	if p == nil {
		p = &probe{}
		s.probes[tenant] = p
	}
	s.mu.Unlock()

	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.last.CheckedAt.IsZero() && s.now().Sub(p.last.CheckedAt) <= maxAge {
		return p.last
	}
	// Not cut short by the request that asked: its answer serves the next.
	pctx, cancel := context.WithTimeout(portal.Background(context.WithoutCancel(ctx)), ProbeTimeout)
	defer cancel()
	p.last = s.probeACS(pctx, tenant)
	if p.last.State != portal.CheckPass {
		s.log.WarnContext(ctx, "the portal's access to ACS: "+string(p.last.State), "event", "readiness.acs",
			"tenant", tenant.String(), "reason", p.last.Reason)
	}
	return p.last
}

func (s *Readiness) probeACS(ctx context.Context, tenant portal.GUID) portal.Check {
	c := portal.Check{Name: CheckACSAccess, Title: "The portal can call the ACS API", State: portal.CheckUnknown}
	var object portal.GUID
	rand.Read(object[:])
	_, call, err := s.acs.GetAssignment(ctx, tenant, object)
	c.CheckedAt = s.now()
	ref := ""
	if call.RequestID != "" {
		ref = fmt.Sprintf(" (x-ms-client-request-id %s)", call.RequestID)
	}
	refused, remedy := portal.ACSRefused(err)
	switch {
	case err == nil || portal.ErrorCode(err) == portal.ENOTFOUND:
		// A random object has no assignment; had it one, the portal would
		// still have been let in.
		c.State = portal.CheckPass
		c.Reason = "ACS answered a read of a random object ID as an authorised caller" + ref + "."
	case refused:
		c.State, c.Fix = portal.CheckFail, remedy
		c.Reason = refusal(err) + ref + " Until this is fixed, every grant, edit, revoke and verification fails the same way."
	default:
		c.Reason = "ACS did not answer a read of a random object ID, so whether the portal may call it is not known: " +
			portal.ErrorMessage(err) + ref
	}
	return c
}

// refusal is what ACS said when it refused the portal, without the remedy
// the message ends with (the check shows it as its fix).
func refusal(err error) string {
	_, remedy := portal.ACSRefused(err)
	return strings.TrimSpace(strings.TrimSuffix(portal.ErrorMessage(err), remedy))
}
