package source

import (
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
)

// maxDiscardedBody is how much of a refused response is read (and thrown away) so that its
// connection can be reused; the rest is left unread.
const maxDiscardedBody = 64 << 10

// quietErrors hands go-git an empty body for every response that is not a success. go-git puts
// the body of an unexpected status into its error text, read without a limit, and that text
// reaches conditions, Events, logs and API responses: a repoURL pointing at an internal service
// would echo its pages. Ferry says what failed in its own words (wrapRemoteError).
type quietErrors struct{ next http.RoundTripper }

func (q quietErrors) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := q.next.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	if resp.StatusCode < 300 {
		if r.Method == http.MethodGet {
			// The ref advertisement, which go-git reads whole into memory. A pack (POST) is
			// written to disk as it comes and bounded there (budgetFS) and by --git-timeout.
			resp.Body = &boundedBody{ReadCloser: resp.Body, left: maxAdvertisementBytes}
		}
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDiscardedBody))
	_ = resp.Body.Close()
	resp.Body = http.NoBody
	resp.ContentLength = 0
	return resp, nil
}

var installQuietClient sync.Once

// useQuietHTTPClient makes go-git's http and https transports use quietErrors, and connect
// under the egress policy of each request's context: go-git's clients are the process's, and
// the Cache that makes a request puts its policy in the request's context (egress.WithPolicy).
func useQuietHTTPClient() {
	installQuietClient.Do(func() {
		c := githttp.NewClient(&http.Client{Transport: quietErrors{next: egress.ContextTransport()}})
		client.InstallProtocol("http", c)
		client.InstallProtocol("https", c)
	})
}

// maxAdvertisementBytes bounds a ref advertisement: a repository with a million refs advertises
// about 60 MiB.
const maxAdvertisementBytes = 64 << 20

// errResponseTooLarge stops reading an answer past its bound.
var errResponseTooLarge = errors.New("the Git server's answer is larger than Ferry reads")

// boundedBody fails a read past its bound instead of reading on.
type boundedBody struct {
	io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errResponseTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}
