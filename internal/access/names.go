package access

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// Names through Microsoft Graph. Graph is asked only on the signed-in
// person's own delegated token, so the names cached for a tenant are ones
// a person of that tenant was allowed to read; they are cached per tenant
// and never read for another. Every use here is for display: a lookup
// failing leaves pages on IDs and never blocks a change.

// Names are the use cases that name what pages show by ID, and find
// people and resource accounts to grant access to.
type Names struct {
	core
	dir   portal.Directory // nil: names are off
	store portal.NameStore
	// lists is the inventory index: Refresh names asks for all of it,
	// and tells it names changed.
	lists         *listCache
	acsResourceID string
	// graphPause holds off Graph per tenant after it throttled;
	// appsRefused, app names after Graph refused them.
	graphPause, appsRefused *graphPause
	// renewing holds the tenants whose stale names are being renewed in
	// the background.
	renewing *sync.Map
}

// NamesMaxAge is how old a cached name may be before a page showing it asks
// Graph again (in the background: the cached name is shown meanwhile).
const NamesMaxAge = 24 * time.Hour

// maxAppLookups bounds the app names one refresh asks for: Graph has no
// batch lookup of service principals by app ID, so each is a call.
const maxAppLookups = 20

// NameRequest is what a page wants named.
type NameRequest struct {
	Objects []portal.GUID // users and resource accounts
	Apps    []portal.GUID // calling-client app IDs
	// ResourceAccounts are those among Objects known to be resource
	// accounts: for an admin, the tenant's resource accounts are then
	// listed too, for their phone numbers (Graph's getByIds gives none).
	ResourceAccounts []portal.GUID
	// Cached, when set, are the cache's names of Objects and Apps as the
	// caller already read them (the inventory list carries the names of
	// its page): they are not read again. An ID absent was never named.
	// NamesFor takes the maps over (it adds what it reads to them): pass
	// maps of the caller's own, as a page's are.
	Cached *PageNames
}

// Empty reports whether there is nothing to ask.
func (r NameRequest) Empty() bool { return len(r.Objects) == 0 && len(r.Apps) == 0 }

// CachedNames returns the person's tenant's cached names of ids in space.
func (s *Names) CachedNames(ctx context.Context, who Who, space portal.NameSpace, ids []portal.GUID) (map[portal.GUID]portal.DirectoryName, error) {
	if err := mayRead(who.User); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return map[portal.GUID]portal.DirectoryName{}, nil
	}
	return s.store.Names(ctx, who.User.TenantID, space, ids)
}

// SearchNames finds cached names of the person's tenant's people and
// resource accounts containing q (for the audit log's target filter).
func (s *Names) SearchNames(ctx context.Context, who Who, q string, limit int) ([]portal.DirectoryName, error) {
	if err := mayRead(who.User); err != nil {
		return nil, err
	}
	return s.store.SearchNames(ctx, who.User.TenantID, portal.SpaceObject, q, limit)
}

// KeepSignedInName caches the name and user name of the person who just
// signed in, as their verified ID token gives them, so that the audit log
// can be filtered by the user name (email) of whoever acted (PersonByUPN):
// audit rows record a person's object ID and display name only. Nothing is
// written when the cache already holds the same.
func (s *Names) KeepSignedInName(ctx context.Context, u portal.User) error {
	if u.TenantID.IsZero() || u.ObjectID.IsZero() || u.UPN == "" {
		return nil
	}
	n := portal.DirectoryName{TenantID: u.TenantID, Space: portal.SpaceObject, ID: u.ObjectID, Found: true, Kind: portal.KindUser,
		DisplayName: u.Name, UPN: u.UPN, FetchedAt: s.now()}
	if n.DisplayName == u.UPN {
		n.DisplayName = "" // no name claim: the UPN stood in for it
	}
	cached, err := s.store.Names(ctx, u.TenantID, portal.SpaceObject, []portal.GUID{u.ObjectID})
	if c, ok := cached[u.ObjectID]; err == nil && ok && c.Found && c.Kind == portal.KindUser && c.DisplayName == n.DisplayName && c.UPN == n.UPN {
		return nil
	}
	return s.store.PutNames(ctx, u.TenantID, []portal.DirectoryName{n})
}

// PersonByUPN finds the person of who's tenant whose user name (UPN,
// usually their email) is upn, case-insensitively, among the cached names
// (people named on a page, and everyone who signed in): ENOTFOUND when
// none is.
func (s *Names) PersonByUPN(ctx context.Context, who Who, upn string) (portal.DirectoryName, error) {
	found, err := s.SearchNames(ctx, who, upn, 20)
	if err != nil {
		return portal.DirectoryName{}, err
	}
	for _, n := range found {
		if n.Found && strings.EqualFold(n.UPN, upn) {
			return n, nil
		}
	}
	return portal.DirectoryName{}, portal.Errorf(portal.ENOTFOUND, "No one with the user name %s is known to the portal.", upn)
}

// namesDue splits ids into those never fetched and those fetched longer
// than NamesMaxAge ago, given what the cache holds.
func (s *Names) namesDue(ids []portal.GUID, cached map[portal.GUID]portal.DirectoryName) (missing, stale []portal.GUID) {
	now := s.now()
	for _, id := range ids {
		n, ok := cached[id]
		switch {
		case !ok || !n.Known():
			missing = append(missing, id)
		case now.Sub(n.FetchedAt) > NamesMaxAge:
			stale = append(stale, id)
		}
	}
	return missing, stale
}

// GraphToken gets the signed-in person's delegated Microsoft Graph token.
// The use cases call it only when they ask Graph, and may call it after
// the request that made it has ended (a lookup going on in the background):
// it must not depend on the request's context being alive.
type GraphToken func(ctx context.Context) (string, error)

// PageNames are the names one page shows, and why some are missing.
type PageNames struct {
	// Objects and Apps are the cached names of the page's IDs; an ID never
	// named is absent (pages then show the ID alone).
	Objects, Apps map[portal.GUID]portal.DirectoryName
	// Note says why names are missing ("" when none is for a reason worth
	// saying): the cache unreadable, Graph refusing or throttling, or
	// names still being looked up.
	Note string
}

// namesWait bounds how long a page waits for names it has never had. A
// lookup still running then goes on in the background: the next page has
// the names.
const namesWait = 2 * time.Second

// namesBackgroundTimeout bounds a lookup nobody waits for.
const namesBackgroundTimeout = 30 * time.Second

// NamesFor returns the names a page showing req needs, from the cache.
// Names never had are asked of Graph (on token, the person's own) while
// the page waits, at most namesWait; names older than NamesMaxAge are
// renewed in the background, one renewal per tenant at a time, since many
// people reading the same list ask for the same names. For an admin,
// resource accounts named without their number (by someone who may not
// list resource accounts) count as never had. Nothing here fails the page:
// what cannot be named stays an ID, and Note says why.
func (s *Names) NamesFor(ctx context.Context, who Who, token GraphToken, req NameRequest) PageNames {
	var pn PageNames
	var err error
	read := func() {
		if pn.Objects, err = s.CachedNames(ctx, who, portal.SpaceObject, req.Objects); err == nil {
			pn.Apps, err = s.CachedNames(ctx, who, portal.SpaceApp, req.Apps)
		}
	}
	if req.Cached != nil {
		err = s.fromCached(ctx, who, req, &pn)
	} else {
		read()
	}
	if err != nil {
		s.log.WarnContext(ctx, "names unreadable", "event", "names.read", "err", err)
		return PageNames{Note: "Names are not shown: " + portal.ErrorMessage(err)}
	}
	if s.dir == nil || req.Empty() {
		return pn
	}
	missingObjects, staleObjects := s.namesDue(req.Objects, pn.Objects)
	missingApps, staleApps := s.namesDue(req.Apps, pn.Apps)
	if stale := (NameRequest{Objects: staleObjects, Apps: staleApps, ResourceAccounts: req.ResourceAccounts}); !stale.Empty() {
		s.refreshNamesLater(ctx, who, token, stale)
	}
	if who.User.Has(portal.RoleAdmin) {
		// Numbers come only from the resource-account list, which needs a
		// Teams admin: an account named by someone else has none yet.
		for _, id := range req.ResourceAccounts {
			if n := pn.Objects[id]; n.Found && n.Kind != portal.KindResourceAccount && !slices.Contains(missingObjects, id) {
				missingObjects = append(missingObjects, id)
			}
		}
	}
	missing := NameRequest{Objects: missingObjects, Apps: missingApps, ResourceAccounts: req.ResourceAccounts}
	if missing.Empty() {
		return pn
	}
	wait := time.NewTimer(namesWait)
	defer wait.Stop()
	select {
	case lookupErr := <-s.refreshNamesDetached(ctx, who, token, missing):
		if lookupErr != nil {
			pn.Note = "Some names are not shown: " + portal.ErrorMessage(lookupErr)
		}
		if read(); err != nil {
			s.log.WarnContext(ctx, "names unreadable", "event", "names.read", "err", err)
			return PageNames{Note: pn.Note}
		}
	case <-wait.C:
		pn.Note = "Some names are still being looked up in Microsoft Graph; reload the page in a moment to see them."
	}
	return pn
}

// fromCached takes the names req.Cached holds, and reads from the cache
// only those it lacks: the list's copy of the names may lag the cache by up
// to a second (namesEvery), and a name another request has just looked up
// must not be asked of Graph again.
func (s *Names) fromCached(ctx context.Context, who Who, req NameRequest, pn *PageNames) error {
	if err := mayRead(who.User); err != nil {
		return err
	}
	pn.Objects, pn.Apps = req.Cached.Objects, req.Cached.Apps
	if pn.Objects == nil {
		pn.Objects = map[portal.GUID]portal.DirectoryName{}
	}
	if pn.Apps == nil {
		pn.Apps = map[portal.GUID]portal.DirectoryName{}
	}
	for _, sp := range []struct {
		space portal.NameSpace
		ids   []portal.GUID
		into  map[portal.GUID]portal.DirectoryName
	}{{portal.SpaceObject, req.Objects, pn.Objects}, {portal.SpaceApp, req.Apps, pn.Apps}} {
		missing, _ := s.namesDue(sp.ids, sp.into)
		if len(missing) == 0 {
			continue
		}
		found, err := s.CachedNames(ctx, who, sp.space, missing)
		if err != nil {
			return err
		}
		maps.Copy(sp.into, found)
	}
	return nil
}

// refreshNamesDetached looks req up in Graph in the background and reports
// the outcome on the channel. It outlives ctx (bounded by
// namesBackgroundTimeout), so a slow Graph still fills the cache.
func (s *Names) refreshNamesDetached(ctx context.Context, who Who, token GraphToken, req NameRequest) <-chan error {
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), namesBackgroundTimeout)
	go func() {
		defer cancel()
		err := s.RefreshNames(ctx, who, token, req)
		if err != nil {
			s.log.WarnContext(ctx, "names lookup failed", "event", "names.refresh", "err", err)
		}
		done <- err
	}()
	return done
}

// refreshNamesLater renews stale names without anyone waiting, unless a
// renewal for the tenant is already running.
func (s *Names) refreshNamesLater(ctx context.Context, who Who, token GraphToken, req NameRequest) {
	tenant := who.User.TenantID
	if _, running := s.renewing.LoadOrStore(tenant, struct{}{}); running {
		return
	}
	done := s.refreshNamesDetached(ctx, who, token, req)
	go func() {
		<-done
		s.renewing.Delete(tenant)
	}()
}

// RefreshNames asks Graph, on token (the person's own), for what req
// names, and caches the answers for the person's tenant. An object Graph
// does not return is cached as not found (deleted from the directory); an
// app without a service principal, as not found too. A Graph failure
// caches nothing for what it failed on: a name is never flagged deleted
// because Graph was down. While Graph has asked the tenant to slow down,
// it is not asked again and the same ETHROTTLED error is returned.
func (s *Names) RefreshNames(ctx context.Context, who Who, token GraphToken, req NameRequest) error {
	if err := mayRead(who.User); err != nil {
		return err
	}
	dir, err := s.directory()
	if err != nil {
		return err
	}
	tenant := who.User.TenantID
	return s.askGraph(ctx, tenant, token, func(token string) error {
		objects := slices.Compact(slices.SortedFunc(slices.Values(req.Objects), portal.GUID.Compare))
		if len(objects) > 0 {
			var accounts []portal.GUID
			if who.User.Has(portal.RoleAdmin) {
				accounts = req.ResourceAccounts
			}
			if _, _, err := s.refreshObjects(ctx, dir, who, token, objects, accounts); err != nil {
				return err
			}
		}
		return s.refreshApps(ctx, dir, tenant, token, req.Apps)
	})
}

// refreshApps names calling-client apps by their service principals.
func (s *Names) refreshApps(ctx context.Context, dir portal.Directory, tenant portal.GUID, token string, ids []portal.GUID) error {
	apps := slices.Compact(slices.SortedFunc(slices.Values(ids), portal.GUID.Compare))
	if len(apps) > maxAppLookups {
		apps = apps[:maxAppLookups]
	}
	if s.appsRefused.check(tenant, s.now(), "names are back") != nil {
		return nil // said once already: app names need a permission not consented
	}
	var found []portal.DirectoryName
	var err error
	for _, app := range apps {
		var name string
		var ok bool
		if name, ok, err = dir.AppName(ctx, token, app); err != nil {
			break
		}
		found = append(found, portal.DirectoryName{TenantID: tenant, Space: portal.SpaceApp, ID: app, Found: ok, DisplayName: name, FetchedAt: s.now()})
	}
	// What was learned before a failure is kept.
	if perr := s.store.PutNames(ctx, tenant, found); perr != nil {
		return perr
	}
	if portal.ErrorCode(err) == portal.EFORBIDDEN {
		// Application.Read.All is optional: without it, apps stay IDs, and
		// asking again on every page would only fail again.
		s.appsRefused.hold(tenant, s.now(), appsRefusedPause, err)
	}
	return err
}

// NamesOn reports whether the portal reads names from Microsoft Graph
// (pages offer the people finder, the resource-account picker and Refresh
// names only then).
func (s *Names) NamesOn() bool { return s.dir != nil }

// directory is the Graph adapter, or why there is none.
func (s *Names) directory() (portal.Directory, error) {
	if s.dir == nil {
		return nil, portal.Errorf(portal.EUNAVAILABLE, "Names are off: the portal is not set up to read Microsoft Graph.")
	}
	return s.dir, nil
}

// askGraph runs call with the person's token unless Graph has asked the
// tenant to slow down, and holds the tenant off when call is throttled.
func (s *Names) askGraph(ctx context.Context, tenant portal.GUID, token GraphToken, call func(token string) error) error {
	now := s.now()
	if err := s.graphPause.check(tenant, now, "names are back"); err != nil {
		return err
	}
	tok, err := token(ctx)
	if err != nil {
		return err
	}
	err = call(tok)
	if portal.ErrorCode(err) == portal.ETHROTTLED {
		s.graphPause.hold(tenant, now, portal.RetryAfter(err), err)
	}
	return err
}

// appsRefusedPause is how long app names are not asked for after Graph
// refused them (no consent to Application.Read.All).
const appsRefusedPause = time.Hour

// refreshObjects resolves people and resource accounts and, when accounts
// (the resource accounts among objects) are named, lists the tenant's
// resource accounts for their numbers. It returns what Graph answered
// (got: the objects it has) and what the cache held before (known). An
// object Graph no longer has keeps the name the cache knew it by, marked
// not found: the portal can then tell one that was there (gone) from one
// it never saw (CheckDirectory).
func (s *Names) refreshObjects(ctx context.Context, dir portal.Directory, who Who, token string, objects, accounts []portal.GUID) (got, known map[portal.GUID]portal.DirectoryName, err error) {
	tenant := who.User.TenantID
	entries, err := dir.Resolve(ctx, token, objects)
	if err != nil {
		return nil, nil, err
	}
	known, err = s.store.Names(ctx, tenant, portal.SpaceObject, objects)
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	out := map[portal.GUID]portal.DirectoryName{}
	for _, id := range objects {
		n := portal.DirectoryName{TenantID: tenant, Space: portal.SpaceObject, ID: id, FetchedAt: now}
		k, had := known[id]
		if e, ok := entries[id]; ok {
			n.Found, n.DisplayName, n.UPN = true, e.DisplayName, e.UPN
			// getByIds cannot tell a resource account from a person, nor
			// give its number: keep what the resource-account list said.
			if had && k.Found {
				n.Kind, n.Phone = k.Kind, k.Phone
			}
		} else if had {
			n.Kind, n.DisplayName, n.UPN, n.Phone = k.Kind, k.DisplayName, k.UPN, k.Phone
		}
		out[id] = n
	}
	if len(accounts) > 0 {
		listed, err := dir.ResourceAccounts(ctx, token, "")
		switch {
		case err == nil:
			// Marked as resource accounts even when the list has no number
			// for them, so that pages do not list again for it.
			for _, id := range accounts {
				if n, ok := out[id]; ok && n.Found {
					n.Kind = portal.KindResourceAccount
					out[id] = n
				}
			}
			for _, e := range listed {
				out[e.ObjectID] = resourceAccountName(tenant, e, now)
			}
		case portal.ErrorCode(err) != portal.EFORBIDDEN:
			// Not a Teams admin: people's names are still worth keeping.
			return nil, nil, err
		}
	}
	got = make(map[portal.GUID]portal.DirectoryName, len(entries))
	for id := range entries {
		got[id] = out[id]
	}
	return got, known, s.store.PutNames(ctx, tenant, slices.Collect(maps.Values(out)))
}

func resourceAccountName(tenant portal.GUID, e portal.DirectoryEntry, now time.Time) portal.DirectoryName {
	return portal.DirectoryName{TenantID: tenant, Space: portal.SpaceObject, ID: e.ObjectID, Found: true, Kind: portal.KindResourceAccount,
		DisplayName: e.DisplayName, UPN: e.UPN, Phone: e.Phone, FetchedAt: now}
}

// SearchPeople finds people of the person's tenant by name or user name,
// on their own token, for the grant form's people finder and for look-up
// by name (any role that reads: Graph shows them only whom their token
// may see); while Graph has asked the tenant to slow down, it is not
// asked.
func (s *Names) SearchPeople(ctx context.Context, who Who, token GraphToken, q string, limit int) ([]portal.DirectoryEntry, error) {
	if err := mayRead(who.User); err != nil {
		return nil, err
	}
	dir, err := s.directory()
	if err != nil {
		return nil, err
	}
	var found []portal.DirectoryEntry
	err = s.askGraph(ctx, who.User.TenantID, token, func(token string) (err error) {
		found, err = dir.SearchUsers(ctx, token, q, limit)
		return err
	})
	return found, err
}

// ResourceAccounts lists, for an admin, the tenant's Teams resource
// accounts bound to this ACS resource (all of the tenant's when the portal
// was not told which it is), with their phone numbers, and caches their
// names and numbers for the pages that show them.
func (s *Names) ResourceAccounts(ctx context.Context, who Who, token GraphToken) ([]portal.DirectoryEntry, error) {
	if !who.User.Has(portal.RoleAdmin) {
		return nil, portal.Errorf(portal.EFORBIDDEN, "Only admins may grant resource accounts.")
	}
	dir, err := s.directory()
	if err != nil {
		return nil, err
	}
	tenant := who.User.TenantID
	var accounts []portal.DirectoryEntry
	err = s.askGraph(ctx, tenant, token, func(token string) (err error) {
		accounts, err = dir.ResourceAccounts(ctx, token, s.acsResourceID)
		return err
	})
	if err != nil {
		return nil, err
	}
	names := make([]portal.DirectoryName, 0, len(accounts))
	for _, e := range accounts {
		names = append(names, resourceAccountName(tenant, e, s.now()))
	}
	return accounts, s.store.PutNames(ctx, tenant, names)
}

// ACSResourceID is the immutable ID of the ACS resource the portal manages,
// "" when not configured.
func (s *Names) ACSResourceID() string { return s.acsResourceID }

// graphPause remembers, per tenant, that Graph asked to slow down, so that
// pages stop asking until the time it named has passed.
type graphPause struct {
	mu    sync.Mutex
	until map[portal.GUID]pauseEntry
}

type pauseEntry struct {
	until time.Time
	err   error
}

// pauseDefault is the pause when Graph named none.
const pauseDefault = 30 * time.Second

// check returns the error Graph throttled tenant with, while it lasts;
// back says what comes back when it is over ("names are back").
func (p *graphPause) check(tenant portal.GUID, now time.Time, back string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.until[tenant]; ok {
		if now.Before(e.until) {
			if portal.ErrorCode(e.err) == portal.ETHROTTLED {
				// Said afresh: the wait Graph named when it throttled is
				// shorter by now.
				return portal.Wrap(e.err, portal.ETHROTTLED, "Microsoft Graph asked the portal to slow down; "+back+" in "+e.until.Sub(now).Round(time.Second).String()+".")
			}
			return e.err
		}
		delete(p.until, tenant)
	}
	return nil
}

func (p *graphPause) hold(tenant portal.GUID, now time.Time, d time.Duration, err error) {
	if d <= 0 {
		d = pauseDefault
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.until == nil {
		p.until = map[portal.GUID]pauseEntry{}
	}
	p.until[tenant] = pauseEntry{until: now.Add(d), err: err}
}

// RefreshAllNames asks Graph again for the names of everything in the
// person's tenant's inventory, on their token: the "Refresh names" button,
// for admins and helpdesk (EFORBIDDEN for others).
// It reports how many objects were asked for and how many of them Graph
// no longer has. It gives up after namesBackgroundTimeout.
func (s *Names) RefreshAllNames(ctx context.Context, who Who, token GraphToken) (asked, gone int, err error) {
	if !who.User.HasAny(portal.RoleAdmin, portal.RoleHelpdesk) {
		return 0, 0, portal.Errorf(portal.EFORBIDDEN, "Only admins and helpdesk may refresh names; pages renew them by themselves within a day.")
	}
	ctx, cancel := context.WithTimeout(ctx, namesBackgroundTimeout)
	defer cancel()
	var req NameRequest
	err = s.lists.each(ctx, who.User.TenantID, func(it portal.InventoryItem) {
		req.Objects = append(req.Objects, it.ObjectID)
		req.Apps = append(req.Apps, it.ClientIDs...)
		if it.Kind == portal.KindResourceAccount {
			req.ResourceAccounts = append(req.ResourceAccounts, it.ObjectID)
		}
	})
	if err != nil {
		return 0, 0, err
	}
	if err := s.RefreshNames(ctx, who, token, req); err != nil {
		return len(req.Objects), 0, err
	}
	// The person waits to see the result: this instance's list shows it
	// at once, not within namesEvery.
	s.lists.namesChanged(who.User.TenantID)
	names, err := s.CachedNames(ctx, who, portal.SpaceObject, req.Objects)
	for _, n := range names {
		if !n.Found {
			gone++
		}
	}
	return len(req.Objects), gone, err
}
