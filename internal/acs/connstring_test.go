package acs_test

import (
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/portal"
)

func TestParseConnectionString(t *testing.T) {
	for _, in := range []string{
		"endpoint=https://my-resource.communication.azure.com/;accesskey=c2VjcmV0",
		"Endpoint=https://MY-resource.communication.azure.com;AccessKey=c2VjcmV0;",
		"  ENDPOINT=https://my-resource.communication.azure.com/ ; ACCESSKEY=c2VjcmV0  ",
	} {
		cs, err := acs.ParseConnectionString(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if cs.Endpoint != "https://my-resource.communication.azure.com" || string(cs.AccessKey) != "secret" {
			t.Errorf("%q: got %q, %q", in, cs.Endpoint, cs.AccessKey)
		}
	}
	cs, err := acs.ParseConnectionString("endpoint=http://127.0.0.1:8090/;accesskey=c2VjcmV0")
	if err != nil || cs.Endpoint != "http://127.0.0.1:8090" {
		t.Errorf("loopback http: %q, %v", cs.Endpoint, err)
	}

	for _, in := range []string{
		"",
		"endpoint=https://x.communication.azure.com/",
		"accesskey=c2VjcmV0",
		"endpoint=http://x.communication.azure.com/;accesskey=c2VjcmV0", // http off loopback
		"endpoint=https://x.communication.azure.com/path;accesskey=c2VjcmV0",
		"endpoint=https://user@x.communication.azure.com/;accesskey=c2VjcmV0",
		"endpoint=ftp://x/;accesskey=c2VjcmV0",
		"endpoint=https://x.communication.azure.com/;accesskey=not base64!",
		"endpoint=https://x.communication.azure.com/;accesskey=c2VjcmV0;extra=1",
		"garbage",
	} {
		_, err := acs.ParseConnectionString(in)
		if portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("%q: err %v, want EINVALID", in, err)
		}
		if err != nil && strings.Contains(err.Error(), "c2VjcmV0") {
			t.Errorf("%q: the error quotes the access key: %v", in, err)
		}
	}
}
