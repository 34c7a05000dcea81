package web

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/portal"
)

// upload sends a file of changes to plan, as the bulk form does.
func (e *portalEnv) upload(c *http.Client, name string, content []byte) page {
	e.t.Helper()
	return e.uploadAs(c, "", name, content)
}

// uploadAs sends a file with the form's mode field ("changes", "adopt";
// "" sends none, as an old form would).
func (e *portalEnv) uploadAs(c *http.Client, mode, name string, content []byte) page {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if mode != "" {
		mw.WriteField("mode", mode)
	}
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(content)
	mw.Close()
	return e.do(c, "POST", "/bulk", &body, http.Header{"Content-Type": {mw.FormDataContentType()}})
}

func TestBulkPlanThroughTheBrowserForms(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	admin := noFollow(e.as("admin@contoso.test"))
	file := "objectId,kind,clientIds,label,action\n" +
		alice.String() + ",user," + appMobile.String() + ",,\n" +
		bob.String() + ",user," + appDesktop.String() + ",Bob,\n" +
		"not-a-guid,user,,,\n"
	writes, head := e.writes(), e.auditRows()
	p := e.upload(admin, "changes.csv", []byte(file))
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/bulk/") {
		t.Fatalf("upload: %d %s", p.status, p.body)
	}
	planURL := p.header.Get("Location")
	p = e.get(admin, planURL)
	totals, _ := p.testid("plan-totals")
	for _, want := range []string{"Grant: 1", "Change: 1", "Invalid: 1", "All rows: 3"} {
		if !strings.Contains(totals, want) {
			t.Errorf("totals %q lack %q", totals, want)
		}
	}
	if rows, _ := e.get(admin, planURL+"?class=invalid").testid("plan-rows"); !strings.Contains(rows, "objectId: ") {
		t.Errorf("invalid rows: %q", rows)
	}
	if e.writes() != writes || e.auditRows() != head || len(e.inventory(devidp.ContosoTenant)) != 1 {
		t.Error("planning changed something")
	}
	// Another tenant's admin cannot open it; an auditor cannot upload.
	if p := e.get(noFollow(e.as("admin@fabrikam.test")), planURL); p.status != http.StatusNotFound {
		t.Errorf("Fabrikam opens Contoso's plan: %d", p.status)
	}
	if p := e.upload(noFollow(e.as("auditor@contoso.test")), "x.csv", []byte(file)); p.status != http.StatusForbidden {
		t.Errorf("auditor uploads: %d", p.status)
	}
	// Bad files: a clear message, no plan.
	for name, content := range map[string][]byte{
		"utf16.csv":   []byte("\xff\xfeo\x00"),
		"tenant.csv":  []byte("tenantId,objectId\n"),
		"garbage.csv": []byte("objectId,kind\n\"unterminated\n"),
	} {
		p := e.upload(admin, name, content)
		if p.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d", name, p.status)
		}
		if msg, _ := p.testid("form-problem"); msg == "" {
			t.Errorf("%s: no message", name)
		}
	}
	if p := e.upload(admin, "big.csv", bytes.Repeat([]byte("x"), 11<<20)); p.status != http.StatusRequestEntityTooLarge && p.status != http.StatusUnprocessableEntity {
		t.Errorf("11 MB: %d", p.status)
	}
	if p := e.post(admin, "/bulk", nil); p.status != http.StatusUnsupportedMediaType {
		t.Errorf("not multipart: %d", p.status)
	}
	if p := e.get(admin, "/bulk/template.csv"); p.status != 200 || !strings.HasPrefix(p.body, "objectId,kind") {
		t.Errorf("template: %d", p.status)
	} else {
		// Placeholders, never a seeded person: uploaded unchanged, the
		// template grants nobody real and revokes nothing.
		for _, real := range []portal.GUID{alice, bob, room, appDesktop, appMobile} {
			if strings.Contains(p.body, real.String()) {
				t.Errorf("the template names %s", real)
			}
		}
		if !strings.Contains(p.body, "00000000-0000-0000-0000-000000000001,user,") {
			t.Errorf("the template lacks its placeholder person: %q", p.body)
		}
	}
	assertNoncedHX(t, "bulk form", e.get(admin, "/bulk"))
}

func (e *portalEnv) auditRows() int {
	n := 0
	for _, a := range portal.AuditActions {
		n += e.auditCount(a)
	}
	return n
}

// A multipart field sent twice is refused, as form fields are: two modes,
// or two files (which was meant is unclear).
func TestBulkUploadFieldsOnce(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	admin := noFollow(e.as("admin@contoso.test"))
	file := []byte("objectId,kind,clientIds\n" + bob.String() + ",user," + appDesktop.String() + "\n")
	send := func(fields ...[2]string) page {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for _, f := range fields {
			if f[0] == "file" {
				fw, _ := mw.CreateFormFile("file", "changes.csv")
				fw.Write([]byte(f[1]))
			} else {
				mw.WriteField(f[0], f[1])
			}
		}
		mw.Close()
		return e.do(admin, "POST", "/bulk", &body, http.Header{"Content-Type": {mw.FormDataContentType()}})
	}
	if p := send([2]string{"mode", "changes"}, [2]string{"mode", "adopt"}, [2]string{"file", string(file)}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "twice") {
		t.Errorf("two modes: %d", p.status)
	}
	if p := send([2]string{"mode", "changes"}, [2]string{"file", string(file)}, [2]string{"file", string(file)}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "more than one file") {
		t.Errorf("two files: %d", p.status)
	}
	if p := send([2]string{"mode", "changes"}, [2]string{"file", string(file)}, [2]string{"note", "x"}); p.status != http.StatusSeeOther {
		t.Errorf("one of each, and another field: %d %s", p.status, p.body)
	}
}
