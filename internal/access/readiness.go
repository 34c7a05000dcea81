package access

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// Readiness checks the chain around assignments that must hold for access
// to work (see portal.Check). The first link is the portal's own: may it
// call the ACS API at all?
type Readiness struct {
	core
	acs           portal.ACS
	dir           portal.ReadinessDirectory // nil: Graph is off
	store         portal.Store
	lists         *listCache
	knownApps     []portal.KnownApp
	acsResourceID string
	// pause is Names' too: Graph throttles a tenant's calls, whichever
	// concern makes them, so one holds off the other.
	pause *graphPause

	mu      sync.Mutex
	probes  map[portal.GUID]*probe        // by tenant
	tenants map[portal.GUID]*tenantChecks // by tenant
}

func newReadiness(c core, cfg Config, lists *listCache, pause *graphPause) *Readiness {
	return &Readiness{core: c, acs: cfg.ACS, dir: cfg.ReadinessDirectory, store: cfg.Store, lists: lists, knownApps: cfg.KnownApps,
		acsResourceID: cfg.ACSResourceID, pause: pause, probes: map[portal.GUID]*probe{}, tenants: map[portal.GUID]*tenantChecks{}}
}

// NewReadiness is the probe of the portal's access to ACS alone, for a
// command that has no database (portal config check): cfg.ACS, Now and
// Logger are used.
func NewReadiness(cfg Config) *Readiness { return newReadiness(cfg.core(), cfg, nil, &graphPause{}) }

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
	if maxAge > 0 && !p.last.CheckedAt.IsZero() && s.now().Sub(p.last.CheckedAt) <= maxAge { // 0: now, whatever the clock says
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

// TenantReadiness is every check of one tenant, as last run.
type TenantReadiness struct {
	Checks []portal.Check // in the order pages show them
	// CheckedAt is when they were run; zero when never.
	CheckedAt time.Time
	// Run tells runs apart (renderings of their results are kept by it):
	// it grows with each run in this process; 0 when never.
	Run uint64
	// Note, when set, says why these are not as fresh as asked: Microsoft
	// Graph asked the portal to wait, and these are the last results.
	Note     string
	verdicts verdicts
}

// Ready says, as of the last run, whether item's access can work: "yes",
// "no" (with why) or "unknown" (a check it depends on could not run, or
// it was granted since). For the assignments export.
func (t TenantReadiness) Ready(item portal.InventoryItem) (ready string, reasons []string) {
	v := t.verdicts
	switch {
	case t.CheckedAt.IsZero():
		return "unknown", []string{"Not checked yet."}
	case len(v.everyone) > 0:
		return "no", v.everyone
	case len(v.notReady[item.ObjectID]) > 0:
		return "no", v.notReady[item.ObjectID]
	case !v.known[item.ObjectID]:
		return "unknown", []string{cmp.Or(v.unknown[item.Kind], "Granted since the last check.")}
	}
	return "yes", nil
}

// NotReady are the objects whose access cannot work, as of the last run:
// every assignment when the whole tenant fails (everyone), else those a
// check found wanting, with people whose every app cannot act for them.
// Never nil (as a list's filter, none is an empty set, not no filter);
// made once a run and shared: callers must not change it. (A list page
// counts them each time it is drawn.)
func (t TenantReadiness) NotReady() []portal.GUID {
	if t.verdicts.notReadyList == nil {
		return []portal.GUID{} // never checked
	}
	return t.verdicts.notReadyList
}

// verdicts are a run's answers per object.
type verdicts struct {
	everyone []string                        // tenant-wide reasons: no access can work
	notReady map[portal.GUID][]string        // objects that cannot, with why
	known    map[portal.GUID]bool            // objects the run had an answer for
	unknown  map[portal.PrincipalKind]string // why a kind's check said unknown
	// notReadyList is NotReady's answer: every assignment the run saw when
	// everyone fails, else notReady's objects; never nil.
	notReadyList []portal.GUID
}

// verdictsOf reads the checks as answers per object of inv; people is what
// the directory said of each person looked up so far (see peopleCheck).
func verdictsOf(checks []portal.Check, inv chainInventory, people map[portal.GUID]personProblem) verdicts {
	v := verdicts{notReady: map[portal.GUID][]string{}, known: map[portal.GUID]bool{}, unknown: map[portal.PrincipalKind]string{}}
	appFails := map[portal.GUID]string{}
	appUnknown := map[portal.GUID]bool{}
	for _, c := range checks {
		switch {
		case c.Name == CheckACSAccess || c.Name == "acs-first-party":
			if c.State == portal.CheckFail {
				v.everyone = append(v.everyone, c.Title+": no. "+c.Reason)
			}
		case strings.HasPrefix(c.Name, "app:"):
			app, _ := portal.ParseGUID(strings.TrimPrefix(c.Name, "app:"))
			switch c.State {
			case portal.CheckFail:
				appFails[app] = c.Title + ": no. " + c.Reason
			case portal.CheckUnknown:
				appUnknown[app] = true
			}
		case c.Name == "people" && c.State == portal.CheckUnknown:
			v.unknown[portal.KindUser] = c.Reason
		case c.Name == "resource-accounts":
			if c.State == portal.CheckUnknown {
				v.unknown[portal.KindResourceAccount] = c.Reason
				continue
			}
			for _, it := range c.Items {
				v.notReady[it.ObjectID] = append(v.notReady[it.ObjectID], it.Problem)
			}
		}
	}
	if _, ok := v.unknown[portal.KindResourceAccount]; !ok {
		for id := range inv.resourceAccounts {
			v.known[id] = true
		}
	}
	for _, id := range inv.people {
		// A person is known once the directory was asked about them, in
		// this run or an earlier one (a large tenant is looked up a slice
		// a run): until then their access is unknown, not ready.
		p, looked := people[id]
		if looked && p != personOK {
			v.notReady[id] = append(v.notReady[id], p.problem())
		}
		apps := inv.userApps[id]
		var why []string
		unknownApp := false
		for _, app := range apps {
			if r, ok := appFails[app]; ok {
				why = append(why, r)
			}
			unknownApp = unknownApp || appUnknown[app]
		}
		if len(apps) > 0 && len(why) == len(apps) {
			v.notReady[id] = append(v.notReady[id], why...)
		}
		if (looked && !unknownApp) || len(v.notReady[id]) > 0 {
			v.known[id] = true
		}
	}
	if len(v.everyone) > 0 {
		v.notReadyList = append(slices.Collect(maps.Keys(inv.resourceAccounts)), inv.people...)
	} else {
		v.notReadyList = slices.Collect(maps.Keys(v.notReady))
	}
	if v.notReadyList == nil {
		v.notReadyList = []portal.GUID{}
	}
	return v
}

// Revocable are the objects the last run offers to revoke (people whose
// access cannot work), for a plan that revokes them all.
func (t TenantReadiness) Revocable() []portal.GUID {
	var out []portal.GUID
	for _, c := range t.Checks {
		for _, it := range c.Items {
			if it.Revoke {
				out = append(out, it.ObjectID)
			}
		}
	}
	return out
}

// Failing are the checks that do not pass.
func (t TenantReadiness) Failing() []portal.Check {
	var out []portal.Check
	for _, c := range t.Checks {
		if c.State != portal.CheckPass {
			out = append(out, c)
		}
	}
	return out
}

// ReadinessMaxAge is how old a tenant's checks may be before a page runs
// them again by itself; "Check again" runs them at once.
const ReadinessMaxAge = 15 * time.Minute

// maxPeopleChecked bounds the people one run looks up in Graph (15 to a
// request): a tenant with more is checked a slice at a time, oldest
// first, and the check says how many it covered. (A variable for tests.)
var maxPeopleChecked = 1500

// readinessTimeout bounds one run of a tenant's checks.
const readinessTimeout = 30 * time.Second

// TenantChecks are the person's tenant's checks, at most ReadinessMaxAge
// old unless again, run with the person's Graph token (nothing here is
// ever asked on another tenant's behalf). Admins and auditors may read it.
// While Microsoft Graph has asked the tenant to wait, the last results
// are kept, with a Note saying so, rather than turned unknown.
func (s *Readiness) TenantChecks(ctx context.Context, who Who, token GraphToken, again bool) (TenantReadiness, error) {
	if !MayReadAudit(who.User) {
		return TenantReadiness{}, portal.Errorf(portal.EFORBIDDEN, "Your role does not allow this.")
	}
	tenant := who.User.TenantID
	t := s.tenant(tenant)
	t.mu.Lock()
	defer t.mu.Unlock()
	last := t.last.Load()
	if !again && last != nil && s.now().Sub(last.CheckedAt) <= ReadinessMaxAge {
		return *last, nil
	}
	if err := s.pause.check(tenant, s.now(), checksBack); err != nil && last != nil && s.dir != nil {
		r := *last
		r.Note = portal.ErrorMessage(err) + " Until then, these are the results of the last run."
		return r, nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readinessTimeout)
	defer cancel()
	maxAge := ReadinessMaxAge
	if again {
		maxAge = 0
	}
	r := TenantReadiness{Checks: []portal.Check{s.ProbeACS(rctx, tenant, maxAge)}}
	chain, inv := s.chainChecks(rctx, who, token, t)
	r.Checks = append(r.Checks, chain...)
	r.CheckedAt, r.Run = s.now(), readinessRuns.Add(1)
	r.verdicts = verdictsOf(r.Checks, inv, t.people)
	t.last.Store(&r)
	return r, nil
}

// readinessRuns numbers the runs (TenantReadiness.Run).
var readinessRuns atomic.Uint64

// checksBack is what comes back when Graph's wait is over.
const checksBack = "the checks can run again"

// LastTenantChecks are the person's tenant's checks as last run, without
// running them (for the home page, the list and the export); false when
// they never ran here. A run under way does not hide the last one.
func (s *Readiness) LastTenantChecks(who Who) (TenantReadiness, bool) {
	if !MayReadAudit(who.User) {
		return TenantReadiness{}, false
	}
	last := s.tenant(who.User.TenantID).last.Load()
	if last == nil {
		return TenantReadiness{}, false
	}
	return *last, true
}

// RecheckIfStale starts a run of the person's tenant's checks off the
// request, on their token, when the last run is older than
// ReadinessMaxAge or there is none — unless one is under way or Graph has
// asked the tenant to wait. The home page calls it for admins and
// auditors: the checks stay fresh while the tenant's people use the
// portal (the portal holds no Graph permission of its own to run them
// with nobody there). It reports whether it started one.
func (s *Readiness) RecheckIfStale(ctx context.Context, who Who, token GraphToken) bool {
	if !MayReadAudit(who.User) || s.lists == nil {
		return false
	}
	tenant := who.User.TenantID
	t := s.tenant(tenant)
	if last := t.last.Load(); last != nil && s.now().Sub(last.CheckedAt) <= ReadinessMaxAge {
		return false
	}
	if s.dir != nil && s.pause.check(tenant, s.now(), checksBack) != nil {
		return false
	}
	if !t.background.CompareAndSwap(false, true) {
		return false
	}
	ctx = context.WithoutCancel(ctx)
	go func() {
		defer t.background.Store(false)
		if _, err := s.TenantChecks(ctx, who, token, false); err != nil {
			s.log.WarnContext(ctx, "readiness checks in the background failed", "event", "readiness.background", "tenant", tenant.String(), "err", err)
		}
	}()
	return true
}

// Rechecking says whether a run RecheckIfStale started for the person's
// tenant is under way (pages say "checking now").
func (s *Readiness) Rechecking(who Who) bool {
	return s.tenant(who.User.TenantID).background.Load()
}

// tenant is tenant's checks, made on first use.
func (s *Readiness) tenant(tenant portal.GUID) *tenantChecks {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[tenant]
	if t == nil {
		t = &tenantChecks{}
		s.tenants[tenant] = t
	}
	return t
}

// tenantChecks is one tenant's last run; mu is held while one runs (the
// fields but last and background are under it).
type tenantChecks struct {
	mu         sync.Mutex
	last       atomic.Pointer[TenantReadiness]
	background atomic.Bool // RecheckIfStale started a run that has not ended
	// peopleFrom is where the next run's slice of people starts, when a
	// tenant has more than maxPeopleChecked.
	peopleFrom int
	// people is what the directory said of each person with access, as
	// of the run that last looked them up: with more than
	// maxPeopleChecked, the runs cover the tenant a slice at a time, and
	// what earlier slices found still counts (one byte a person).
	people map[portal.GUID]personProblem
}

// personProblem is why a person's access cannot work, as the directory
// says; personOK when it can.
type personProblem uint8

const (
	personOK personProblem = iota
	personGone
	personDisabled
	personUnlicensed
)

// item is the problem as a check lists it, with its fix.
func (p personProblem) item(id portal.GUID) portal.CheckItem {
	item := portal.CheckItem{ObjectID: id, Kind: portal.KindUser, Revoke: true, Problem: p.problem()}
	switch p {
	case personDisabled:
		item.Fix = "Enable the account, or revoke the access."
	case personUnlicensed:
		item.Fix = "Assign a licence that includes Teams Phone, or revoke the access."
	}
	return item
}

func (p personProblem) problem() string {
	switch p {
	case personGone:
		return "Gone from the directory (deleted, or never there): the access is for nobody."
	case personDisabled:
		return "Disabled in the directory: cannot sign in."
	case personUnlicensed:
		return "No enabled Teams Phone service plan (MCOEV): ACS refuses the token exchange (UserLicenseNotPresentForbidden)."
	}
	return ""
}

// The checks that read Graph, as they are titled before they run.
var (
	appsCheck             = portal.Check{Name: "apps", Title: "Calling-client apps may act for their users in ACS"}
	resourceAccountsCheck = portal.Check{Name: "resource-accounts", Title: "Resource accounts send their calls to this ACS resource"}
	peopleChecks          = portal.Check{Name: "people", Title: "People with access can use it"}
)

// unknownChecks are checks that could not run, each unknown for why.
func unknownChecks(now time.Time, why string, checks ...portal.Check) []portal.Check {
	out := make([]portal.Check, 0, len(checks))
	for _, c := range checks {
		c.State, c.Reason, c.CheckedAt = portal.CheckUnknown, why, now
		out = append(out, c)
	}
	return out
}

// graphOff says why no check that reads Graph can run for who, or "" when
// they can (and then the directory for the run, and the token).
func (s *Readiness) graphOff(ctx context.Context, tenant portal.GUID, token GraphToken) (why string, dir portal.ReadinessDirectory, tok string) {
	if s.dir == nil {
		return "The portal does not read Microsoft Graph (PORTAL_GRAPH is off), so it cannot look.", nil, ""
	}
	tok, err := token(ctx)
	if err != nil {
		return "No Microsoft Graph token for you: " + portal.ErrorMessage(err) + " Sign out and in again.", nil, ""
	}
	return "", pausedDirectory{dir: s.dir, pause: s.pause, tenant: tenant, now: s.now}, tok
}

// chainChecks are the checks that read Graph: the ACS first-party app,
// each calling-client app, resource accounts, people with access.
func (s *Readiness) chainChecks(ctx context.Context, who Who, token GraphToken, t *tenantChecks) ([]portal.Check, chainInventory) {
	tenant := who.User.TenantID
	all := []portal.Check{firstPartyCheck(), appsCheck, resourceAccountsCheck, peopleChecks}
	// The inventory first: the verdicts per assignment need it even when
	// Graph cannot be asked (the ACS probe may still fail them all).
	inv, err := s.inventory(ctx, tenant)
	if err != nil {
		return unknownChecks(s.now(), "The inventory could not be read: "+portal.ErrorMessage(err), all...), chainInventory{}
	}
	why, dir, tok := s.graphOff(ctx, tenant, token)
	if why != "" {
		return unknownChecks(s.now(), why, all...), inv
	}
	first, acsSP := firstParty(ctx, dir, tok, tenant)
	out := []portal.Check{first}
	out = append(out, appChecks(ctx, dir, tok, tenant, inv, acsSP, portal.GUID{})...)
	out = append(out, s.resourceAccountCheck(ctx, dir, tok, inv))
	out = append(out, peopleCheck(ctx, dir, tok, inv, t))
	for i := range out {
		out[i].CheckedAt = s.now()
	}
	return out, inv
}

// pausedDirectory is the directory for one tenant's run: once Graph
// throttles a read, the tenant is held off for the wait it named (names
// too), and every read until then fails at once with why — its check is
// unknown — rather than asking again.
type pausedDirectory struct {
	dir    portal.ReadinessDirectory
	pause  *graphPause
	tenant portal.GUID
	now    func() time.Time
}

func (d pausedDirectory) ask(call func() error) error {
	now := d.now()
	if err := d.pause.check(d.tenant, now, checksBack); err != nil {
		return err
	}
	err := call()
	if portal.ErrorCode(err) == portal.ETHROTTLED {
		d.pause.hold(d.tenant, now, portal.RetryAfter(err), err)
	}
	return err
}

func (d pausedDirectory) ServicePrincipal(ctx context.Context, token string, appID portal.GUID) (sp portal.ServicePrincipal, found bool, err error) {
	err = d.ask(func() (err error) { sp, found, err = d.dir.ServicePrincipal(ctx, token, appID); return err })
	return sp, found, err
}

func (d pausedDirectory) PermissionGrants(ctx context.Context, token string, client, resource portal.GUID) (grants []portal.PermissionGrant, err error) {
	err = d.ask(func() (err error) { grants, err = d.dir.PermissionGrants(ctx, token, client, resource); return err })
	return grants, err
}

func (d pausedDirectory) Users(ctx context.Context, token string, ids []portal.GUID) (states map[portal.GUID]portal.UserState, err error) {
	err = d.ask(func() (err error) { states, err = d.dir.Users(ctx, token, ids); return err })
	return states, err
}

func (d pausedDirectory) TeamsResourceAccounts(ctx context.Context, token string) (accounts []portal.TeamsResourceAccount, err error) {
	err = d.ask(func() (err error) { accounts, err = d.dir.TeamsResourceAccounts(ctx, token); return err })
	return accounts, err
}

// AssignmentChecks are the links around one assignment, run now with the
// person's Graph token: the portal's access to ACS and the first-party
// app's service principal (the tenant's, from its checks at most
// ReadinessMaxAge old), then for a user: in the directory, enabled,
// licensed, each of its apps able to act for them; for a resource
// account: bound here, numbered, on a third-party app, enabled.
func (s *Readiness) AssignmentChecks(ctx context.Context, who Who, token GraphToken, item portal.InventoryItem) ([]portal.Check, error) {
	if err := mayRead(who.User); err != nil {
		return nil, err
	}
	if item.TenantID != who.User.TenantID {
		return nil, portal.Errorf(portal.ENOTFOUND, "No such assignment.")
	}
	ctx, cancel := context.WithTimeout(ctx, readinessTimeout)
	defer cancel()
	out := []portal.Check{s.ProbeACS(ctx, who.User.TenantID, ReadinessMaxAge)}
	why, dir, tok := s.graphOff(ctx, who.User.TenantID, token)
	if why != "" {
		return append(out, unknownChecks(s.now(), why, firstPartyCheck(), portal.Check{Name: "object", Title: "The " + item.Kind.Label() + " can use it"})...), nil
	}
	first, acsSP := firstParty(ctx, dir, tok, who.User.TenantID)
	out = append(out, first)
	var own []portal.Check
	if item.Kind == portal.KindResourceAccount {
		c := s.resourceAccountCheck(ctx, dir, tok, chainInventory{resourceAccounts: map[portal.GUID]bool{item.ObjectID: true}})
		c.Name, c.Title = "object", "The resource account sends its calls to this ACS resource"
		c.Items = slices.DeleteFunc(c.Items, func(it portal.CheckItem) bool { return it.ObjectID != item.ObjectID })
		if c.State == portal.CheckFail && len(c.Items) == 0 {
			c.State, c.Reason = portal.CheckPass, "Bound here, numbered, enabled and on a third-party app."
		}
		own = append(own, c)
	} else {
		c := peopleCheck(ctx, dir, tok, chainInventory{people: []portal.GUID{item.ObjectID}}, &tenantChecks{})
		c.Name, c.Title = "object", "The person is in the directory, enabled and licensed for Teams Phone"
		if c.State == portal.CheckPass {
			c.Reason = "In the directory, enabled, with an enabled Teams Phone service plan (MCOEV)."
		} else if len(c.Items) == 1 {
			c.Reason, c.Fix, c.Items = c.Items[0].Problem, c.Items[0].Fix, nil
		}
		own = append(own, c)
		names := map[portal.GUID]string{}
		for _, k := range s.knownApps {
			names[k.ID] = k.Name
		}
		s.nameApps(ctx, who.User.TenantID, item.ClientIDs, names)
		own = append(own, appChecks(ctx, dir, tok, who.User.TenantID, chainInventory{apps: item.ClientIDs, appNames: names}, acsSP, item.ObjectID)...)
	}
	out = append(out, own...)
	for i := range out[1:] {
		out[i+1].CheckedAt = s.now()
	}
	return out, nil
}

// chainInventory is what the checks need of the tenant's inventory.
type chainInventory struct {
	apps             []portal.GUID // in use, and configured
	appNames         map[portal.GUID]string
	people           []portal.GUID // users with access, by object ID
	userApps         map[portal.GUID][]portal.GUID
	resourceAccounts map[portal.GUID]bool
}

func (s *Readiness) inventory(ctx context.Context, tenant portal.GUID) (chainInventory, error) {
	idx, err := s.lists.current(ctx, tenant)
	if err != nil {
		return chainInventory{}, err
	}
	inv := chainInventory{appNames: map[portal.GUID]string{}, resourceAccounts: map[portal.GUID]bool{}, userApps: map[portal.GUID][]portal.GUID{}}
	seen := map[portal.GUID]bool{}
	for _, a := range s.knownApps {
		seen[a.ID], inv.appNames[a.ID] = true, a.Name
		inv.apps = append(inv.apps, a.ID)
	}
	idx.Each(func(it portal.InventoryItem) {
		if it.Kind == portal.KindResourceAccount {
			inv.resourceAccounts[it.ObjectID] = true
			return
		}
		inv.people = append(inv.people, it.ObjectID)
		inv.userApps[it.ObjectID] = it.ClientIDs
		for _, app := range it.ClientIDs {
			if !seen[app] {
				seen[app] = true
				inv.apps = append(inv.apps, app)
			}
		}
	})
	slices.SortFunc(inv.people, func(a, b portal.GUID) int { return bytes.Compare(a[:], b[:]) })
	s.nameApps(ctx, tenant, inv.apps, inv.appNames)
	return inv, nil
}

// nameApps adds to names the cached names of the apps it lacks.
func (s *Readiness) nameApps(ctx context.Context, tenant portal.GUID, apps []portal.GUID, names map[portal.GUID]string) {
	var missing []portal.GUID
	for _, a := range apps {
		if names[a] == "" {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 || s.store == nil {
		return
	}
	found, err := s.store.Names(ctx, tenant, portal.SpaceApp, missing)
	if err != nil {
		return // shown by ID
	}
	for id, n := range found {
		if n.Found && n.DisplayName != "" {
			names[id] = n.DisplayName
		}
	}
}

func firstPartyCheck() portal.Check {
	return portal.Check{Name: "acs-first-party", Title: "The tenant has the service principal of Azure Communication Services' first-party app"}
}

// firstParty checks the ACS first-party app's service principal, and
// returns its object ID when there is one.
func firstParty(ctx context.Context, dir portal.ReadinessDirectory, tok string, tenant portal.GUID) (portal.Check, portal.GUID) {
	c := firstPartyCheck()
	sp, found, err := dir.ServicePrincipal(ctx, tok, portal.ACSFirstPartyAppID)
	switch {
	case err != nil:
		c.State, c.Reason = portal.CheckUnknown, "Microsoft Graph did not say: "+portal.ErrorMessage(err)
		return c, portal.GUID{}
	case !found:
		c.State = portal.CheckFail
		c.Reason = "The tenant has no service principal for app " + portal.ACSFirstPartyAppID.String() +
			", so no calling-client app can be consented to TeamsExtension.ManageCalls: consent is blocked."
		c.Fix = "As a Global or Application Administrator, in Microsoft Graph PowerShell:\n" +
			"Connect-MgGraph -TenantId " + tenant.String() + " -Scopes Application.ReadWrite.All\n" +
			"New-MgServicePrincipal -AppId " + portal.ACSFirstPartyAppID.String()
		return c, portal.GUID{}
	case !sp.Enabled:
		c.State = portal.CheckFail
		c.Reason = "The service principal of app " + portal.ACSFirstPartyAppID.String() + " is disabled: no token for ACS is issued."
		c.Fix = "Enable it: Update-MgServicePrincipal -ServicePrincipalId " + sp.ObjectID.String() + " -AccountEnabled:$true"
		return c, sp.ObjectID
	}
	c.State, c.Reason = portal.CheckPass, "Present ("+sp.ObjectID.String()+")."
	return c, sp.ObjectID
}

// appChecks checks each calling-client app in use or configured: it has a
// service principal in the tenant, and admin consent to
// TeamsExtension.ManageCalls on the ACS first-party app.
// For one person (person not zero), that person's own consent is enough.
func appChecks(ctx context.Context, dir portal.ReadinessDirectory, tok string, tenant portal.GUID, inv chainInventory, acsSP, person portal.GUID) []portal.Check {
	var out []portal.Check
	for _, app := range inv.apps {
		name := inv.appNames[app]
		if name == "" {
			name = app.String()
		}
		c := portal.Check{Name: "app:" + app.String(), Title: "Calling-client app " + name + " may act for its users in ACS"}
		consentURL := fmt.Sprintf("https://login.microsoftonline.com/%s/adminconsent?client_id=%s", tenant, app)
		consent := "Open, as an administrator, " + consentURL + " and accept."
		sp, found, err := dir.ServicePrincipal(ctx, tok, app)
		switch {
		case err != nil:
			c.State, c.Reason = portal.CheckUnknown, "Microsoft Graph did not say: "+portal.ErrorMessage(err)
		case !found:
			c.State, c.Reason, c.Fix, c.Link = portal.CheckFail, "The app has no service principal in this tenant: its users cannot sign in to it, so they cannot get a token for ACS.", consent, consentURL
		case !sp.Enabled:
			c.State, c.Reason = portal.CheckFail, "The app's service principal is disabled: its users cannot sign in to it."
			c.Fix = "Enable it: Update-MgServicePrincipal -ServicePrincipalId " + sp.ObjectID.String() + " -AccountEnabled:$true"
		case acsSP.IsZero():
			c.State, c.Reason = portal.CheckUnknown, "Whether it is consented to TeamsExtension.ManageCalls cannot be known until the tenant has the ACS first-party service principal (see above)."
		default:
			grants, err := dir.PermissionGrants(ctx, tok, sp.ObjectID, acsSP)
			if err != nil {
				c.State, c.Reason = portal.CheckUnknown, "Microsoft Graph did not say: "+portal.ErrorMessage(err)
				break
			}
			admin, own, people := false, false, 0
			for _, g := range grants {
				if !slices.ContainsFunc(g.Scopes, func(sc string) bool { return strings.EqualFold(sc, portal.ManageCallsScope) }) {
					continue
				}
				switch {
				case g.AllPrincipals:
					admin = true
				case !person.IsZero() && g.PrincipalID == person:
					own = true
				default:
					people++
				}
			}
			switch {
			case admin:
				c.State, c.Reason = portal.CheckPass, "Admin consent to TeamsExtension.ManageCalls for every user of the tenant."
			case own:
				c.State, c.Reason = portal.CheckPass, "This person consented to TeamsExtension.ManageCalls for themselves (there is no admin consent for everyone)."
			case people > 0:
				c.State, c.Fix, c.Link = portal.CheckFail, consent, consentURL
				c.Reason = fmt.Sprintf("No admin consent to TeamsExtension.ManageCalls: only %d %s consented for themselves; everyone else's token exchange fails.", people, oneOrMany(people, "person has", "people have"))
			default:
				c.State, c.Fix, c.Link = portal.CheckFail, consent, consentURL
				c.Reason = "The app is not consented to TeamsExtension.ManageCalls on Azure Communication Services: its users' token exchange fails."
			}
		}
		out = append(out, c)
	}
	return out
}

// oneOrMany is one when n is 1, else many.
func oneOrMany(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// resourceAccountCheck compares Teams' resource accounts with the
// inventory: accounts bound here without server consent, and consented
// accounts that are not bound here, have no number, are disabled, or use
// Microsoft's own app (calls go to Teams, never to ACS).
func (s *Readiness) resourceAccountCheck(ctx context.Context, dir portal.ReadinessDirectory, tok string, inv chainInventory) portal.Check {
	c := resourceAccountsCheck
	accounts, err := dir.TeamsResourceAccounts(ctx, tok)
	if err != nil {
		c.State, c.Reason = portal.CheckUnknown, "Microsoft Graph did not say: "+portal.ErrorMessage(err)
		return c
	}
	here := s.acsResourceID
	byID := map[portal.GUID]portal.TeamsResourceAccount{}
	for _, a := range accounts {
		byID[a.ObjectID] = a
	}
	label := func(a portal.TeamsResourceAccount) string { return cmp.Or(a.DisplayName, a.UPN) }
	bindFix := func(a portal.TeamsResourceAccount) string {
		return "In Teams PowerShell:\nSet-CsOnlineApplicationInstance -Identity " + a.UPN + " -AcsResourceId " + cmp.Or(here, "<ACS immutable resource ID>") +
			"\nSync-CsOnlineApplicationInstance -ObjectId " + a.ObjectID.String() + " -AcsResourceId " + cmp.Or(here, "<ACS immutable resource ID>")
	}
	for _, a := range accounts {
		if here != "" && strings.EqualFold(a.ACSResourceID, here) && !inv.resourceAccounts[a.ObjectID] {
			c.Items = append(c.Items, portal.CheckItem{ObjectID: a.ObjectID, Kind: portal.KindResourceAccount, Label: label(a), Consent: true,
				Problem: "Bound to this ACS resource without server consent: calls to " + cmp.Or(a.PhoneNumber, "its number") + " go nowhere.",
				Fix:     "Give consent: grant access to this resource account in the portal."})
		}
	}
	for id := range inv.resourceAccounts {
		a, ok := byID[id]
		item := portal.CheckItem{ObjectID: id, Kind: portal.KindResourceAccount}
		switch {
		case !ok:
			item.Problem = "Consented here, but Teams lists no resource account with this object ID: deleted, not a resource account, or created moments ago (it may take 15–60 s to appear; check again)."
		case here == "":
			continue // where it is bound cannot be compared: said once below
		case !strings.EqualFold(a.ACSResourceID, here):
			item.Label = label(a)
			if a.ACSResourceID == "" {
				item.Problem = "Consented here, but not bound to any ACS resource: calls to it never reach ACS."
			} else {
				item.Problem = "Consented here, but bound to another ACS resource (" + a.ACSResourceID + "): its calls go there."
			}
			item.Fix = bindFix(a)
		case a.AppID == portal.AutoAttendantAppID || a.AppID == portal.CallQueueAppID:
			item.Label = label(a)
			item.Problem = "Uses Microsoft's own " + map[bool]string{true: "auto attendant", false: "call queue"}[a.AppID == portal.AutoAttendantAppID] +
				" app ID: calls go to Teams, never to ACS."
			item.Fix = "Create the resource account for your own app instead:\nNew-CsOnlineApplicationInstance -UserPrincipalName " + a.UPN +
				" -ApplicationId <your app's ID> -DisplayName \"" + label(a) + "\""
		case !a.Enabled:
			item.Label, item.Problem = label(a), "Disabled in the directory: it takes no calls."
			item.Fix = "Enable it: Update-MgUser -UserId " + a.ObjectID.String() + " -AccountEnabled:$true"
		case a.PhoneNumber == "":
			item.Label, item.Problem = label(a), "Has no phone number: nobody can call it."
			item.Fix = "In Teams PowerShell:\nSet-CsPhoneNumberAssignment -Identity " + a.UPN + " -PhoneNumber <+number> -PhoneNumberType <DirectRouting|CallingPlan|OperatorConnect>"
		default:
			continue
		}
		c.Items = append(c.Items, item)
	}
	slices.SortFunc(c.Items, func(a, b portal.CheckItem) int {
		return strings.Compare(a.Label+a.ObjectID.String(), b.Label+b.ObjectID.String())
	})
	switch {
	case len(c.Items) > 0:
		c.State = portal.CheckFail
		c.Reason = fmt.Sprintf("%d resource %s cannot take calls through this ACS resource.", len(c.Items), oneOrMany(len(c.Items), "account", "accounts"))
	case here == "":
		c.State = portal.CheckUnknown
		c.Reason = "The ACS resource's immutable ID is not configured (PORTAL_ACS_RESOURCE_ID), so which accounts are bound here cannot be told."
	default:
		c.State = portal.CheckPass
		c.Reason = fmt.Sprintf("Every consented resource account (%d) is bound here, enabled, numbered and on a third-party app; none bound here lacks consent.", len(inv.resourceAccounts))
	}
	return c
}

// peopleCheck looks up the people with access: those gone from the
// directory, disabled, or without an enabled Teams Phone plan cannot use
// it. A tenant with more than maxPeopleChecked is covered a slice per run;
// what earlier runs found of the others stands (t.people) until their
// turn comes again.
func peopleCheck(ctx context.Context, dir portal.ReadinessDirectory, tok string, inv chainInventory, t *tenantChecks) portal.Check {
	c := peopleChecks
	ids := inv.people
	from := 0
	if len(ids) > maxPeopleChecked {
		from = t.peopleFrom % len(ids)
		ids = append(slices.Clone(ids[from:min(len(ids), from+maxPeopleChecked)]), ids[:max(0, from+maxPeopleChecked-len(inv.people))]...)
	}
	states, err := dir.Users(ctx, tok, ids)
	if err != nil {
		c.State, c.Reason = portal.CheckUnknown, "Microsoft Graph did not say: "+portal.ErrorMessage(err)
		return c
	}
	if len(inv.people) > maxPeopleChecked {
		t.peopleFrom = from + len(ids)
	}
	if t.people == nil {
		t.people = make(map[portal.GUID]personProblem, len(ids))
	}
	for _, id := range ids {
		st, ok := states[id]
		switch {
		case !ok:
			t.people[id] = personGone
		case !st.Enabled:
			t.people[id] = personDisabled
		case !st.TeamsPhone:
			t.people[id] = personUnlicensed
		default:
			t.people[id] = personOK
		}
	}
	// Forget those who no longer have access (inv.people is sorted).
	if len(t.people) > len(ids) {
		for id := range t.people {
			if _, found := slices.BinarySearchFunc(inv.people, id, func(a, b portal.GUID) int { return bytes.Compare(a[:], b[:]) }); !found {
				delete(t.people, id)
			}
		}
	}
	for _, id := range inv.people {
		if p, ok := t.people[id]; ok && p != personOK {
			c.Items = append(c.Items, p.item(id))
		}
	}
	partly := len(t.people) < len(inv.people)
	covered := fmt.Sprintf("%d people with access", len(inv.people))
	if partly {
		covered = fmt.Sprintf("%d of %d people with access looked up so far (%d this run, the rest on the next runs)", len(t.people), len(inv.people), len(ids))
	}
	switch {
	case len(c.Items) > 0:
		c.State = portal.CheckFail
		c.Reason = fmt.Sprintf("Of %s, %d cannot use it.", covered, len(c.Items))
	case partly:
		// Not pass: the others have not been looked at.
		c.State, c.Reason = portal.CheckUnknown, "Of "+covered+", every one is in the directory, enabled and licensed for Teams Phone."
	default:
		c.State, c.Reason = portal.CheckPass, "Every one of "+covered+" is in the directory, enabled and licensed for Teams Phone."
	}
	return c
}
