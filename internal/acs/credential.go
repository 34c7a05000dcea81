package acs

import (
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/teamsphone/portal/internal/portal"
)

// CredentialOptions choose the Entra identity the portal uses toward ACS.
type CredentialOptions struct {
	// ManagedIdentityClientID selects a user-assigned managed identity by its
	// client ID; "" uses the system-assigned one.
	ManagedIdentityClientID string
	// DeveloperChain uses azidentity's DefaultAzureCredential (environment,
	// workload identity, managed identity, Azure CLI, …) instead of a managed
	// identity alone: for running the portal from a developer's laptop.
	DeveloperChain bool
}

// NewCredential returns the azidentity credential the options name. In
// production that is a managed identity, which needs a role on the ACS
// resource; tokens are requested for Scope.
func NewCredential(o CredentialOptions) (azcore.TokenCredential, error) {
	if o.DeveloperChain {
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, portal.Wrap(err, portal.EINVALID, "No Azure credential is available on this machine (DefaultAzureCredential).")
		}
		return cred, nil
	}
	opts := &azidentity.ManagedIdentityCredentialOptions{}
	if o.ManagedIdentityClientID != "" {
		id, err := portal.ParseGUID(o.ManagedIdentityClientID)
		if err != nil {
			return nil, portal.Errorf(portal.EINVALID, "The managed identity's client ID is not a GUID.")
		}
		opts.ID = azidentity.ClientID(id.String())
	}
	cred, err := azidentity.NewManagedIdentityCredential(opts)
	if err != nil {
		return nil, portal.Wrap(err, portal.EINVALID, "The managed identity credential could not be set up.")
	}
	return cred, nil
}
