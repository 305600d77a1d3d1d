package source

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// TestRemoteWordsOfEveryTransportAreDropped: the ways go-git hands on what a server said — an ssh
// server's first stderr line, an ERR line, a sideband error, a disconnect message — become
// Ferry's words, while the kind of failure stays visible to errors.Is.
func TestRemoteWordsOfEveryTransportAreDropped(t *testing.T) {
	const marker = "MARKER-server-words"
	cases := map[string]error{
		"ssh stderr":         fmt.Errorf("unknown error: remote: %s", marker),
		"ERR line":           &pktline.ErrorLine{Text: marker},
		"sideband error":     fmt.Errorf("unexpected error: %s", marker),
		"ssh disconnect":     fmt.Errorf("ssh: disconnect, reason 11: %s", marker),
		"not found, wrapped": fmt.Errorf("%w: %s", transport.ErrRepositoryNotFound, marker),
	}
	for name, cause := range cases {
		err := wrapRemoteError("ssh://git@git.example.com/org/repo.git", "fetching from", cause)
		if strings.Contains(err.Error(), marker) {
			t.Errorf("%s: the server's words are in %q", name, err)
		}
		if !errors.Is(err, cause) {
			t.Errorf("%s: the cause is lost to errors.Is", name)
		}
	}
	err := wrapRemoteError("https://git.example.com/org/repo.git", "listing refs of", fmt.Errorf("%w: %s", transport.ErrRepositoryNotFound, marker))
	if !strings.Contains(err.Error(), "repository not found") {
		t.Errorf("a missing repository is no longer said to be: %q", err)
	}
}
