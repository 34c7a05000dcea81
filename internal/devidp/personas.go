package devidp

import (
	"slices"
	"strings"

	"github.com/teamsphone/portal/internal/portal"
)

// ClientID is the application (client) ID of the dev portal app: the one
// client the IdP knows unless Config.ClientID says otherwise.
const ClientID = "b40eb512-a78a-485a-a591-76f8fcfa070a"

// The two dev tenants the personas live in.
var (
	ContosoTenant  = portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")
	FabrikamTenant = portal.MustParseGUID("97cd3c2e-7c4c-44e0-8c3e-22865289e758")
)

// Persona is a person the dev IdP can sign in. LoginHint is both the
// login_hint that selects the persona and its UPN (preferred_username); the
// ID token identifies the persona by (TenantID, ObjectID).
type Persona struct {
	LoginHint  string
	Name       string
	TenantID   portal.GUID
	TenantName string
	ObjectID   portal.GUID
	Roles      []string // app roles in the ID token's roles claim; none → claim omitted
}

// personaTable is the fixed table of dev personas, fixed so that tests and
// demos can name them (the README lists their login hints). It is never
// handed out: Personas returns copies, so no caller can change it.
var personaTable = []Persona{
	{"admin@contoso.test", "Adele Admin", ContosoTenant, "Contoso", portal.MustParseGUID("369f18b8-e505-4795-b1cf-e40cfc95f82e"), []string{"Portal.Admin"}},
	{"helpdesk@contoso.test", "Hugo Helpdesk", ContosoTenant, "Contoso", portal.MustParseGUID("dc5bfeeb-3feb-4969-9ae9-92f428410341"), []string{"Portal.Helpdesk"}},
	{"auditor@contoso.test", "Aude Auditor", ContosoTenant, "Contoso", portal.MustParseGUID("a5d9498c-c90d-4479-8c8d-09c17d95dd93"), []string{"Portal.Auditor"}},
	{"norole@contoso.test", "Nora Norole", ContosoTenant, "Contoso", portal.MustParseGUID("947e5c67-9d49-4a9f-818d-2e42a0bd3592"), nil},
	{"admin@fabrikam.test", "Fabian Admin", FabrikamTenant, "Fabrikam", portal.MustParseGUID("9a3015b5-0b72-4d77-9484-32af62927fdf"), []string{"Portal.Admin"}},
}

// Personas returns a fresh copy of the fixed dev personas, in table order
// (Contoso's admin, helpdesk, auditor and no-role persona, then Fabrikam's
// admin). Changing the result changes nothing else.
func Personas() []Persona { return clonePersonas(personaTable) }

// PersonaByHint returns the fixed persona whose LoginHint equals hint, ignoring
// case, and false when there is none.
func PersonaByHint(hint string) (Persona, bool) {
	return findPersona(personaTable, hint)
}

func findPersona(ps []Persona, hint string) (Persona, bool) {
	for _, p := range ps {
		if strings.EqualFold(p.LoginHint, hint) {
			return clonePersona(p), true
		}
	}
	return Persona{}, false
}

func clonePersona(p Persona) Persona {
	p.Roles = slices.Clone(p.Roles)
	return p
}

func clonePersonas(ps []Persona) []Persona {
	out := make([]Persona, len(ps))
	for i, p := range ps {
		out[i] = clonePersona(p)
	}
	return out
}
