package acs

import (
	"encoding/base64"
	"net"
	"net/url"
	"strings"

	"github.com/teamsphone/portal/internal/portal"
)

// ConnectionString is a parsed ACS connection string,
// "endpoint=https://<resource>.communication.azure.com/;accesskey=<base64>".
type ConnectionString struct {
	Endpoint  string // normalised: scheme://host[:port], no trailing slash
	AccessKey []byte // decoded
}

// ParseConnectionString parses an ACS connection string. Keys are
// case-insensitive and the endpoint's trailing slash is optional, as in the
// Azure SDKs. Errors have code EINVALID and never quote the access key.
func ParseConnectionString(s string) (ConnectionString, error) {
	var cs ConnectionString
	var endpoint, key string
	for _, part := range strings.Split(strings.TrimSpace(s), ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return cs, portal.Errorf(portal.EINVALID, "The ACS connection string has a part without '=': expected endpoint=…;accesskey=….")
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "endpoint":
			endpoint = strings.TrimSpace(value)
		case "accesskey":
			key = strings.TrimSpace(value)
		default:
			return cs, portal.Errorf(portal.EINVALID, "The ACS connection string has an unknown key %q: expected endpoint and accesskey.", strings.TrimSpace(name))
		}
	}
	if endpoint == "" || key == "" {
		return cs, portal.Errorf(portal.EINVALID, "The ACS connection string needs both endpoint=… and accesskey=….")
	}
	ep, err := NormalizeEndpoint(endpoint)
	if err != nil {
		return cs, err
	}
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(k) == 0 {
		return cs, portal.Errorf(portal.EINVALID, "The ACS connection string's accesskey is not base64.")
	}
	return ConnectionString{Endpoint: ep, AccessKey: k}, nil
}

// NormalizeEndpoint checks an ACS endpoint URL and returns it as
// scheme://host[:port]. It must be https, except on a loopback address (an
// emulator), where http is allowed because nothing leaves the machine.
func NormalizeEndpoint(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "", portal.Errorf(portal.EINVALID, "The ACS endpoint must look like https://<resource>.communication.azure.com.")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", portal.Errorf(portal.EINVALID, "The ACS endpoint must use https (plain http is only for an emulator on a loopback address).")
		}
	default:
		return "", portal.Errorf(portal.EINVALID, "The ACS endpoint must use https.")
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
