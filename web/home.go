package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/teamsphone/portal/internal/access"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// handleHome is the start page: a sign-in prompt for visitors, the no-access
// page for people without a role, a summary for everyone else. GET /
func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r.Context())
	switch {
	case u == nil:
		s.render(w, r, http.StatusOK, templates.SignedOut(s.page(w, r, "Sign in")))
	case u.PrimaryRole() == "":
		s.handleNoAccess(w, r)
	default:
		h := templates.HomeView{
			ObjectID: u.ObjectID.String(),
			MayGrant: u.HasAny(portal.RoleAdmin, portal.RoleHelpdesk),
			MayAudit: u.Has(portal.RoleAuditor),
			// The one rule of who changes what says it.
			UsersOnly: access.MayChange(*u, portal.KindUser) == nil && access.MayChange(*u, portal.KindResourceAccount) != nil,
		}
		h.Glance = s.glance(r)
		if access.MayReadAudit(*u) {
			// At most homeProbeAge old: an admin learns soon that the
			// portal cannot call ACS, without each visit calling it.
			if c, err := s.deps.Access.ACSAccess(r.Context(), s.who(r), homeProbeAge); err == nil && c.State != portal.CheckPass {
				h.Failing = append(h.Failing, s.checkView(s.who(r), c))
			}
			h.MayReadiness = true
			// Stale or never run: run them now, off this request, on this
			// person's token (the next visit shows the results).
			s.deps.Access.RecheckIfStale(r.Context(), s.who(r), s.graphToken(r))
			h.ReadinessChecking = s.deps.Access.Rechecking(s.who(r))
			if last, ok := s.deps.Access.LastTenantChecks(s.who(r)); ok {
				h.ReadinessCheckedAt = displayTime(last.CheckedAt)
				for _, c := range last.Failing() {
					h.ReadinessFailing = append(h.ReadinessFailing, c.Title+" — "+c.State.Label())
				}
			}
		}
		s.render(w, r, http.StatusOK, templates.Home(s.page(w, r, "Home"), h))
	}
}

// glance counts what needs a look, each linked to where it is listed: a
// count that cannot be had is left out (and logged), never the page.
func (s *Server) glance(r *http.Request) []templates.GlanceCount {
	ctx, who := r.Context(), s.who(r)
	readiness, checked := s.deps.Access.LastTenantChecks(who)
	g, err := s.deps.Access.Glance(ctx, who, readiness.NotReady(), checked)
	if err != nil {
		s.log.WarnContext(ctx, "home counts failed", "request_id", requestIDFrom(ctx), "err", err)
		return nil
	}
	out := []templates.GlanceCount{
		{Key: "drifted", Count: g.Drifted + g.Missing, Label: driftedLabel(g), Href: "/drift"},
		{Key: "expiring", Count: g.ExpiringSoon, Label: "ending within " + expiringSoonWords(), Href: "/expiries"},
	}
	if jobs, err := s.deps.Access.RecentJobs(ctx, who, homeJobsRead); err != nil {
		s.log.WarnContext(ctx, "home counts failed", "request_id", requestIDFrom(ctx), "err", err)
	} else {
		c := templates.GlanceCount{Key: "jobs", Label: "bulk jobs running"}
		for _, j := range jobs {
			if j.State == portal.JobQueued || j.State == portal.JobRunning {
				c.Count++
				if c.Count == 1 {
					c.Href = "/bulk/jobs/" + j.ID
				}
			}
		}
		if who.User.HasAny(portal.RoleAdmin, portal.RoleHelpdesk) && c.Count != 1 {
			c.Href = "/bulk" // lists the recent and running jobs
		} else if c.Count != 1 {
			c.Href = ""
		}
		out = append(out, c)
	}
	if g.NotReady >= 0 {
		out = append(out, templates.GlanceCount{Key: "not-ready", Count: g.NotReady, Label: "not ready to work", Href: "/assignments?ready=no"})
	}
	return out
}

// homeJobsRead is how many of the newest bulk jobs the home page looks at
// for running ones: a job runs minutes, and few are started meanwhile.
const homeJobsRead = 50

// driftedLabel words the drift report's count.
func driftedLabel(g access.Glance) string {
	if g.Missing == 0 {
		return "drifted from ACS"
	}
	return "drifted from ACS or missing in it (" + strconv.Itoa(g.Missing) + " missing)"
}

// homeProbeAge is how old a probe of the portal's access to ACS the home
// page shows.
const homeProbeAge = 5 * time.Minute

// handleNoAccess explains that the person holds no portal role. GET /no-access
func (s *Server) handleNoAccess(w http.ResponseWriter, r *http.Request) {
	status := http.StatusForbidden
	if u := userFrom(r.Context()); u != nil && u.PrimaryRole() != "" {
		status = http.StatusOK
	}
	s.render(w, r, status, templates.NoAccess(s.page(w, r, "No access")))
}

// handleHealthz says the process is up. GET /healthz
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// handleReadyz says whether the portal can serve requests, and whether it
// may call ACS. GET /readyz
//
// ACS refusing the portal does not make it unready: every instance would
// leave the load balancer at once, and nobody could read the inventory,
// the audit log, or the home page that says what to fix. The probe's state
// is the second line ("acs: fail"), for monitoring; its reason is in the
// log and on admins' pages, not here, where anyone may ask.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.deps.Ready != nil {
		if err := s.deps.Ready(r.Context()); err != nil {
			s.log.WarnContext(r.Context(), "not ready", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: " + portal.ErrorMessage(err) + "\n"))
			return
		}
	}
	w.Write([]byte("ready\n"))
	if !s.deps.ProbeTenant.IsZero() {
		c := s.deps.Access.ProbeACS(r.Context(), s.deps.ProbeTenant, readyzProbeAge)
		w.Write([]byte("acs: " + string(c.State) + "\n"))
	}
}

// readyzProbeAge is how old a probe /readyz reports: probes every few
// seconds from each load balancer would otherwise each call ACS.
const readyzProbeAge = time.Minute
