package localstack

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// markerFile marks a directory made by the local stack; only such a directory is ever purged.
const markerFile = ".ferry-dev"

// ferryUser is the identity ferry-apiserver uses: it looks exactly like its in-cluster
// ServiceAccount, so the RBAC in artifacts/ grants it what it would get in a cluster, no more.
const ferryUser = "system:serviceaccount:ferry-system:ferry-apiserver"

// TestUsers are token users with no permission until a test binds one.
var TestUsers = []string{"viewer", "editor", "nobody", "other"}

// Layout names the files of one stack. Dir holds everything: pki/, tokens.csv, the kubeconfigs,
// etcd/ and ferry-data/ (the data), logs/, pids/, bin/, and env (the resolved ports and binaries).
type Layout struct{ Dir string }

func (l Layout) PKI(file string) string      { return filepath.Join(l.Dir, "pki", file) }
func (l Layout) Log(component string) string { return filepath.Join(l.Dir, "logs", component+".log") }
func (l Layout) pidFile(component string) string {
	return filepath.Join(l.Dir, "pids", component+".pid")
}
func (l Layout) tokensFile() string { return filepath.Join(l.Dir, "tokens.csv") }
func (l Layout) envFile() string    { return filepath.Join(l.Dir, "env") }

// Kubeconfig of a user: "admin" (system:masters), a test user, "ferry-apiserver" or
// "kube-controller-manager".
func (l Layout) Kubeconfig(user string) string {
	if user == "admin" {
		return filepath.Join(l.Dir, "kubeconfig")
	}
	return filepath.Join(l.Dir, "kubeconfig-"+user)
}

func (l Layout) prepare() error {
	for _, d := range []string{l.Dir, filepath.Join(l.Dir, "logs"), filepath.Join(l.Dir, "pids")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(l.Dir, markerFile), nil, 0o644)
}

// ensureTokens writes tokens.csv (token,user,uid[,"groups"]) unless it exists.
func (l Layout) ensureTokens() (map[string]string, error) {
	if tokens, err := readTokens(l.tokensFile()); err == nil && len(tokens) > 0 {
		return tokens, nil
	}
	var b strings.Builder
	line := func(user, uid, groups string) error {
		raw := make([]byte, 20)
		if _, err := rand.Read(raw); err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s,%s,%s", hex.EncodeToString(raw), user, uid)
		if groups != "" {
			fmt.Fprintf(&b, ",%q", groups)
		}
		b.WriteString("\n")
		return nil
	}
	if err := line("admin", "admin", "system:masters"); err != nil {
		return nil, err
	}
	for _, u := range TestUsers {
		if err := line(u, u, ""); err != nil {
			return nil, err
		}
	}
	if err := line(ferryUser, "ferry-apiserver-uid", "system:serviceaccounts,system:serviceaccounts:ferry-system,system:authenticated"); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(l.tokensFile(), []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	return readTokens(l.tokensFile())
}

// readTokens reads the token file: token,user,uid[,"groups"].
func readTokens(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tokens := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if f := strings.SplitN(line, ",", 3); len(f) >= 2 {
			tokens[f[1]] = f[0]
		}
	}
	return tokens, nil
}

// writeKubeconfigs writes a kubeconfig per token user, Ferry's, and kube-controller-manager's
// (client certificate).
func (l Layout) writeKubeconfigs(kubePort int, tokens map[string]string) error {
	write := func(file, user string, auth *clientcmdapi.AuthInfo) error {
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters["ferry-dev"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:" + strconv.Itoa(kubePort), CertificateAuthority: l.PKI("ca.crt")}
		cfg.AuthInfos[user] = auth
		cfg.Contexts["ferry-dev-"+user] = &clientcmdapi.Context{Cluster: "ferry-dev", AuthInfo: user, Namespace: "default"}
		cfg.CurrentContext = "ferry-dev-" + user
		data, err := clientcmd.Write(*cfg)
		if err != nil {
			return err
		}
		return writeFileAtomic(file, data, 0o600)
	}
	users := append([]string{"admin"}, TestUsers...)
	for _, u := range users {
		if err := write(l.Kubeconfig(u), u, &clientcmdapi.AuthInfo{Token: tokens[u]}); err != nil {
			return err
		}
	}
	if err := write(l.Kubeconfig("ferry-apiserver"), "ferry-apiserver", &clientcmdapi.AuthInfo{Token: tokens[ferryUser]}); err != nil {
		return err
	}
	return write(l.Kubeconfig("kube-controller-manager"), "kube-controller-manager",
		&clientcmdapi.AuthInfo{ClientCertificate: l.PKI("admin.crt"), ClientKey: l.PKI("admin.key")})
}

// writeEnv records the resolved ports and binaries, for Attach, restarts and scripts.
func (l Layout) writeEnv(env map[string]string) error {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Written by Ferry's local stack (hack/local-up.sh); read by restarts, tests and scripts.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, env[k])
	}
	return writeFileAtomic(l.envFile(), []byte(b.String()), 0o644)
}

func (l Layout) readEnv() (map[string]string, error) {
	data, err := os.ReadFile(l.envFile())
	if err != nil {
		return nil, err
	}
	kv := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = strings.Trim(v, `"'`)
		}
	}
	if kv["KUBE_PORT"] == "" {
		return nil, fmt.Errorf("%s names no KUBE_PORT", l.envFile())
	}
	return kv, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
