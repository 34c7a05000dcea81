package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// writeResult is what a steady writer achieved.
type writeResult struct {
	due, done, failed, skipped int
	rate                       float64 // changes done per second
	p50, p99                   time.Duration
	statuses                   map[int]int // of the failed ones
}

// writeSteadily makes rate changes a second for d through the portal's
// forms, as the people behind admins (signed-in clients that do not follow
// redirects): grants of new users (40 %), and edits (40 %) and revocations
// (20 %) of what it granted, each after opening the assignment's page for
// its version. One change starts every 1/rate s whatever the others are
// doing (open loop); at most rate are under way at once, and a change
// due while that many are is skipped and counted. Latencies are of the
// changes' POSTs. Each assignment is changed by one change at a time, so
// none conflicts with another.
func writeSteadily(base string, admins []*http.Client, rate int, d time.Duration) writeResult {
	var (
		mu        sync.Mutex
		res       = writeResult{statuses: map[int]int{}}
		latencies []time.Duration
		wg        sync.WaitGroup
		seq       atomic.Int64
	)
	granted := make(chan string, rate*int(d/time.Second+1)+1) // what may be edited or revoked now
	slots := make(chan struct{}, rate)
	change := func(c *http.Client) {
		n := seq.Add(1)
		var status int
		var took time.Duration
		var err error
		obj, mine := "", false
		select {
		case obj, mine = <-granted:
		default:
		}
		r := rand.IntN(100)
		switch {
		case !mine || r < 40:
			if mine {
				granted <- obj
			}
			obj = fmt.Sprintf("%08x-5ca1-4e00-8000-%012x", rand.Uint32(), n)
			// Made up: confirmed as not in the directory.
			form := url.Values{"objectId": {obj}, "kind": {"user"}, "clientId": {appDesktop.String()}, "label": {fmt.Sprintf("Scale writer %d", n)}, "confirmAbsent": {obj}}
			status, took, err = postForm(c, base+"/assignments", form)
			if status == http.StatusSeeOther {
				granted <- obj
			}
		default:
			var page string
			if page, err = getPage(c, base+"/assignments/"+obj); err != nil {
				break
			}
			form := url.Values{"version": {hiddenField(page, "version")}, "seen": {hiddenField(page, "seen")}}
			path := "/assignments/" + obj
			if r < 80 {
				form["clientId"] = []string{appDesktop.String()}
				if n%2 == 0 {
					form["clientId"] = append(form["clientId"], appMobile.String())
				}
				form.Set("label", fmt.Sprintf("Scale writer %d, edited", n))
			} else {
				path += "/delete"
			}
			status, took, err = postForm(c, base+path, form)
			if status == http.StatusSeeOther && r < 80 {
				granted <- obj
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if err == nil && status == http.StatusSeeOther {
			res.done++
			latencies = append(latencies, took)
		} else {
			res.failed++
			res.statuses[status]++
		}
	}

	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := 0; time.Since(start) < d; i++ {
		res.due++
		select {
		case slots <- struct{}{}:
			wg.Go(func() {
				defer func() { <-slots }()
				change(admins[i%len(admins)])
			})
		default:
			res.skipped++
		}
		<-tick.C
	}
	wg.Wait()
	res.rate = float64(res.done) / time.Since(start).Seconds()
	slices.Sort(latencies)
	if len(latencies) > 0 {
		res.p50, res.p99 = latencies[len(latencies)/2], latencies[len(latencies)*99/100]
	}
	return res
}

// postForm posts form to addr and returns the status and how long the
// answer took; the client must not follow redirects.
func postForm(c *http.Client, addr string, form url.Values) (int, time.Duration, error) {
	began := time.Now()
	resp, err := c.Post(addr, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(began), nil
}

// getPage reads a page that must be there (200).
func getPage(c *http.Client, addr string) (string, error) {
	resp, err := c.Get(addr)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %d", addr, resp.StatusCode)
	}
	return string(b), err
}
