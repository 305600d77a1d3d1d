package source

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"k8s.io/klog/v2"
)

// A ref listing (git ls-remote) returns every ref of a repository, so one listing answers every
// Application on that repository. The cache keeps, per repository URL and credentials, the
// newest successful listing with the time it started, and at most one listing in flight.
//
// A caller takes a listing that started at or after its bound, "not before": the bound in its
// context (WithNotBefore), or else Options.RefsMaxAge ago. A bound later than the call itself is
// taken as the time of the call, since no listing can be fresher than one that starts then.
//
// listRefs works in rounds. In each it takes the cached listing if it is fresh enough; otherwise
// it joins the listing in flight, or starts one when none is, and waits for it. A listing that
// started at or after the bound answers the caller, with its refs or its error. One that started
// earlier is of no use to it: once it has ended, the next round starts (or joins) a newer one.
// That one started after the stale listing ended, which was after this call began, so it always
// satisfies the bound: a second round ends the loop. The loop is still bounded, and its last
// round takes whatever the listing it waited for gives, which started during this call.

// maxListingRounds bounds the rounds of listRefs.
const maxListingRounds = 3

type notBeforeKey struct{}

// WithNotBefore returns a context under which Resolve looks branches and tags up only in a
// listing of the remote's refs that started at or after t, listing them again if needed. A sync
// operation or a user's request passes the time it started (an in-memory time.Now(), not one
// rounded to seconds by an API object) to see a commit pushed just before. Without it, Resolve
// accepts a listing up to Options.RefsMaxAge old.
func WithNotBefore(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, notBeforeKey{}, t)
}

// notBeforeFrom returns the bound WithNotBefore put in ctx.
func notBeforeFrom(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(notBeforeKey{}).(time.Time)
	return t, ok
}

// refsKey names the listings that one repository URL with one set of credentials may share:
// callers with other credentials must not see refs they could not list themselves.
type refsKey struct {
	repoURL string
	// creds is a keyed hash of the credentials (see credsHash), empty without credentials.
	creds string
}

// refListing is a successful listing of a remote's refs.
type refListing struct {
	// started is when the listing started: the refs are at least as new as the remote then.
	started time.Time
	refs    map[plumbing.ReferenceName]*plumbing.Reference
}

// refsFlight is a listing in progress. listing or err is set before done is closed.
type refsFlight struct {
	started time.Time
	done    chan struct{}
	listing *refListing
	err     error
	// waiters are the callers waiting for it (under refsMu); the last to leave before it ends
	// cancels it.
	waiters int
	cancel  context.CancelFunc
}

// listRefs returns the refs of repoURL from a listing fresh enough for ctx.
func (c *Cache) listRefs(ctx context.Context, repoURL string, entry *repoEntry, creds *Credentials, auth transport.AuthMethod) (map[plumbing.ReferenceName]*plumbing.Reference, error) {
	if err := ctx.Err(); err != nil {
		return nil, wrapRemoteError(repoURL, "listing refs of", err)
	}
	now := time.Now()
	bound, ok := notBeforeFrom(ctx)
	if !ok {
		bound = now.Add(-c.opts.RefsMaxAge)
	}
	if bound.After(now) {
		bound = now
	}
	key := refsKey{repoURL: repoURL, creds: c.credsHash(creds)}
	for round := 1; ; round++ {
		c.refsMu.Lock()
		if l := c.refs[key]; l != nil && !l.started.Before(bound) {
			c.refsMu.Unlock()
			return l.refs, nil
		}
		f := c.refsFlights[key]
		if f == nil {
			f = c.startListing(ctx, key, entry, auth)
		}
		f.waiters++
		c.refsMu.Unlock()

		select {
		case <-f.done:
		case <-ctx.Done():
			c.leaveListing(key, f)
			return nil, wrapRemoteError(repoURL, "listing refs of", ctx.Err())
		}
		if round < maxListingRounds && f.started.Before(bound) {
			continue
		}
		if f.err != nil {
			return nil, f.err
		}
		return f.listing.refs, nil
	}
}

// startListing starts a listing of key's refs and records it as in flight. The caller holds
// refsMu. The listing is bounded by Options.Timeout, and by its callers: the ones that joined it
// must not fail because the one that started it went away, so it is cancelled only when the
// last of them has left (leaveListing), never running on for nobody.
func (c *Cache) startListing(ctx context.Context, key refsKey, entry *repoEntry, auth transport.AuthMethod) *refsFlight {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &refsFlight{started: time.Now(), done: make(chan struct{}), cancel: cancel}
	c.refsFlights[key] = f
	go func() {
		defer cancel()
		refs, err := c.listRemote(ctx, key.repoURL, entry, auth)
		c.refsMu.Lock()
		if c.refsFlights[key] == f {
			delete(c.refsFlights, key)
		}
		if err != nil {
			f.err = err
		} else {
			f.listing = &refListing{started: f.started, refs: refs}
			if old := c.refs[key]; old == nil || old.started.Before(f.started) {
				c.refs[key] = f.listing
			}
			c.pruneRefsLocked(key)
		}
		c.refsMu.Unlock()
		close(f.done)
	}()
	return f
}

// leaveListing is a caller of f going away before it ended: the last one cancels it, and a
// caller coming after starts a listing of its own rather than joining one being cancelled.
func (c *Cache) leaveListing(key refsKey, f *refsFlight) {
	c.refsMu.Lock()
	defer c.refsMu.Unlock()
	f.waiters--
	if f.waiters > 0 {
		return
	}
	f.cancel()
	if c.refsFlights[key] == f {
		delete(c.refsFlights, key)
	}
}

// pruneRefsLocked forgets listings too old for a caller without a bound of its own, other than
// keep's, so that listings of repositories or credentials no longer used do not stay in memory.
func (c *Cache) pruneRefsLocked(keep refsKey) {
	oldest := time.Now().Add(-c.opts.RefsMaxAge)
	for k, l := range c.refs {
		if k != keep && l.started.Before(oldest) {
			delete(c.refs, k)
		}
	}
}

// listRemote lists the remote's refs, by name.
func (c *Cache) listRemote(ctx context.Context, repoURL string, entry *repoEntry, auth transport.AuthMethod) (map[plumbing.ReferenceName]*plumbing.Reference, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	remote, err := entry.repo.Remote("origin")
	if err != nil {
		return nil, fmt.Errorf("repository cache for %s is damaged: %w", redactURL(repoURL), err)
	}
	ctx, target, proxyOpts, err := c.remote(ctx, repoURL)
	if err != nil {
		return nil, wrapRemoteError(repoURL, "listing refs of", err)
	}
	if target != repoURL {
		// go-git lists the remote's first URL: a remote of its own for the address checked.
		remote = git.NewRemote(entry.repo.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{target}})
	}
	start := time.Now()
	c.count(func(s *Stats) { s.Listings++ })
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth, Timeout: int(c.opts.Timeout.Seconds()), ProxyOptions: proxyOpts})
	if err != nil {
		return nil, wrapRemoteError(repoURL, "listing refs of", err)
	}
	klog.FromContext(ctx).V(4).Info("Listed refs", "repo", redactURL(repoURL), "refs", len(refs), "duration", time.Since(start))
	byName := make(map[plumbing.ReferenceName]*plumbing.Reference, len(refs))
	for _, r := range refs {
		byName[r.Name()] = r
	}
	return byName, nil
}

// credsHash identifies credentials without keeping them in clear: an HMAC, under a key drawn
// when the cache was made, of every field, each prefixed by its length.
func (c *Cache) credsHash(creds *Credentials) string {
	if creds == nil {
		return ""
	}
	mac := hmac.New(sha256.New, c.credsKey)
	var n [8]byte
	for _, field := range [][]byte{
		[]byte(creds.Username), []byte(creds.Password), []byte(creds.BearerToken), creds.SSHPrivateKey, creds.KnownHosts,
	} {
		binary.BigEndian.PutUint64(n[:], uint64(len(field)))
		mac.Write(n[:])
		mac.Write(field)
	}
	return string(mac.Sum(nil))
}

// NotBefore returns the bound WithNotBefore put in ctx, for other caches of remote listings (the
// Helm repository indexes) that honour it the same way.
func NotBefore(ctx context.Context) (time.Time, bool) { return notBeforeFrom(ctx) }
