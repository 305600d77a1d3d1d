package source

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Keys of the credentials Secret named by spec.source.credentialsRef.
const (
	KeyUsername      = "username"
	KeyPassword      = "password"
	KeyBearerToken   = "bearerToken"
	KeySSHPrivateKey = "sshPrivateKey"
	KeyKnownHosts    = "knownHosts"
)

// Credentials authenticate to a repository. Exactly one kind is used: a bearer token, a
// username and password, or an SSH private key, which always comes with the known host keys.
type Credentials struct {
	Username      string
	Password      string
	BearerToken   string
	SSHPrivateKey []byte
	KnownHosts    []byte
}

// CredentialsFromSecretData reads credentials from a Secret's data.
func CredentialsFromSecretData(data map[string][]byte) (*Credentials, error) {
	c := &Credentials{
		Username:      string(data[KeyUsername]),
		Password:      string(data[KeyPassword]),
		BearerToken:   string(data[KeyBearerToken]),
		SSHPrivateKey: data[KeySSHPrivateKey],
		KnownHosts:    data[KeyKnownHosts],
	}
	if c.BearerToken == "" && c.Password == "" && len(c.SSHPrivateKey) == 0 {
		return nil, fmt.Errorf("the Secret has none of the keys %s, %s or %s", KeyPassword, KeyBearerToken, KeySSHPrivateKey)
	}
	if len(c.SSHPrivateKey) > 0 && len(c.KnownHosts) == 0 {
		return nil, fmt.Errorf("the Secret has %s but no %s: Ferry verifies SSH host keys and never skips the check", KeySSHPrivateKey, KeyKnownHosts)
	}
	return c, nil
}

// ErrCredentialsRequired is a repository that cannot be read without a Secret of the user's.
var ErrCredentialsRequired = errors.New("credentials required")

func isSSHURL(repoURL string) bool {
	if strings.HasPrefix(repoURL, "ssh://") {
		return true
	}
	// scp-like user@host:path
	return !strings.Contains(repoURL, "://") && strings.Contains(repoURL, ":")
}

// authMethod turns the credentials into go-git's form for repoURL's transport.
func (c *Credentials) authMethod(repoURL string) (transport.AuthMethod, error) {
	if c == nil {
		// go-git falls back to the process's SSH agent and ~/.ssh/known_hosts when an ssh
		// transport has no auth: Ferry's own keys must never open a tenant's repository.
		if isSSHURL(repoURL) {
			return nil, fmt.Errorf("%w: an ssh repository needs spec.source.credentialsRef naming a Secret with %s and %s; "+
				"Ferry never uses its own SSH agent, keys or known_hosts", ErrCredentialsRequired, KeySSHPrivateKey, KeyKnownHosts)
		}
		return nil, nil
	}
	if isSSHURL(repoURL) {
		if len(c.SSHPrivateKey) == 0 {
			return nil, errors.New("an ssh repository needs the Secret keys sshPrivateKey and knownHosts")
		}
		user := c.Username
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeys(user, c.SSHPrivateKey, c.Password)
		if err != nil {
			return nil, fmt.Errorf("reading sshPrivateKey: %w", err)
		}
		callback, err := hostKeyCallback(c.KnownHosts)
		if err != nil {
			return nil, err
		}
		keys.HostKeyCallback = callback
		return keys, nil
	}
	switch {
	case c.BearerToken != "":
		return &githttp.TokenAuth{Token: c.BearerToken}, nil
	case c.Password != "":
		user := c.Username
		if user == "" {
			// Git hosts ignore the name with a token as password, but it must not be empty.
			user = "git"
		}
		return &githttp.BasicAuth{Username: user, Password: c.Password}, nil
	}
	return nil, nil
}

// hostKeyCallback verifies host keys against known_hosts lines. The knownhosts package reads
// only files, so the lines go through a private temporary file.
func hostKeyCallback(knownHosts []byte) (ssh.HostKeyCallback, error) {
	if len(knownHosts) == 0 {
		return nil, errors.New("knownHosts is empty: Ferry verifies SSH host keys and never skips the check")
	}
	f, err := os.CreateTemp("", "ferry-known-hosts-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(knownHosts); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	cb, err := knownhosts.New(f.Name())
	if err != nil {
		return nil, fmt.Errorf("parsing knownHosts: %w", err)
	}
	return cb, nil
}
