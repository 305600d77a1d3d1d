package image_test

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// The sandbox runs the image's binary the way a container runtime runs the pod's container, as
// far as files go: the image's layer is the root filesystem, read-only; each of the pod's
// volumes is a directory mounted at its mountPath (read-only where the manifest says so); /proc
// and /dev are there; the process runs as the image's user with the image's working directory.
// So any write outside a volume fails as it would in the cluster. The network is the host's
// (the server binds 127.0.0.1 here), and the process is not otherwise isolated.
//
// It needs root (mount namespaces and chroot). The test binary re-executes itself in a new mount
// namespace with the spec in sandboxEnv; TestMain sees it, sets the mounts up and executes the
// binary.

const sandboxEnv = "FERRY_IMAGE_SANDBOX"

type sandboxMount struct {
	Source, Target string
	ReadOnly       bool
}

type sandboxSpec struct {
	Root     string
	Mounts   []sandboxMount
	UID, GID int
	Dir      string
	Argv     []string
	Env      []string
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(sandboxEnv); spec != "" {
		err := enterSandbox(spec) // only returns on failure
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(127)
	}
	os.Exit(m.Run())
}

// sandboxed is a process started in a sandbox; exited is closed when it has exited.
type sandboxed struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// stop sends SIGTERM and waits up to grace for the process to exit, then kills it; it reports
// whether the process exited by itself.
func (s *sandboxed) stop(grace time.Duration) bool {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return true
	case <-time.After(grace):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return false
	}
}

// startSandboxed starts spec's process in a mount namespace of its own; it dies with the test.
func startSandboxed(t *testing.T, spec sandboxSpec, log io.Writer) *sandboxed {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = []string{sandboxEnv + "=" + string(data)}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the sandbox: %v", err)
	}
	s := &sandboxed{cmd: cmd, exited: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()
	return s
}

// enterSandbox runs in the re-executed test binary, in its new mount namespace, as root.
func enterSandbox(specJSON string) error {
	var spec sandboxSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return err
	}
	// Nothing mounted here reaches the host's namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making / private: %w", err)
	}
	root := spec.Root
	if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", root, err)
	}
	bind := func(src, target string, flags uintptr, readOnly bool) error {
		at := filepath.Join(root, target)
		if err := unix.Mount(src, at, "", unix.MS_BIND|flags, ""); err != nil {
			return fmt.Errorf("mounting %s at %s: %w", src, target, err)
		}
		if readOnly {
			if err := unix.Mount("", at, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|flags, ""); err != nil {
				return fmt.Errorf("making %s read-only: %w", target, err)
			}
		}
		return nil
	}
	for _, m := range spec.Mounts {
		if err := bind(m.Source, m.Target, 0, m.ReadOnly); err != nil {
			return err
		}
	}
	if err := bind("/dev", "/dev", unix.MS_REC, false); err != nil {
		return err
	}
	if err := unix.Mount("proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	// The root filesystem last, so the volumes under it keep their own flags.
	if err := unix.Mount("", root, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("making the root filesystem read-only: %w", err)
	}
	if err := unix.Chroot(root); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := unix.Chdir(spec.Dir); err != nil {
		return fmt.Errorf("working directory %s: %w", spec.Dir, err)
	}
	if err := unix.Setgroups([]int{spec.GID}); err != nil {
		return err
	}
	if err := unix.Setgid(spec.GID); err != nil {
		return err
	}
	if err := unix.Setuid(spec.UID); err != nil {
		return err
	}
	// Changing the user cleared the parent-death signal: set it again for the server.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return err
	}
	return unix.Exec(spec.Argv[0], spec.Argv, spec.Env)
}

// extractLayers writes the image's filesystem into dir, with the layer's modes and owners.
func extractLayers(t *testing.T, img v1.Image, dir string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, layer := range layers {
		rc, err := layer.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, filepath.Clean("/"+hdr.Name))
			if !strings.HasPrefix(p, dir+string(os.PathSeparator)) {
				t.Fatalf("layer entry %q escapes the root", hdr.Name)
			}
			switch hdr.Typeflag {
			case tar.TypeDir:
				err = os.MkdirAll(p, hdr.FileInfo().Mode().Perm())
			case tar.TypeReg:
				var f *os.File
				if f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, hdr.FileInfo().Mode().Perm()); err == nil {
					_, err = io.Copy(f, tr)
					if cerr := f.Close(); err == nil {
						err = cerr
					}
				}
			case tar.TypeSymlink:
				err = os.Symlink(hdr.Linkname, p)
			default:
				t.Fatalf("layer entry %s has type %c, which this sandbox does not extract", hdr.Name, hdr.Typeflag)
			}
			if err == nil {
				err = os.Lchown(p, hdr.Uid, hdr.Gid)
			}
			if err == nil && hdr.Typeflag != tar.TypeSymlink {
				err = os.Chmod(p, hdr.FileInfo().Mode().Perm()) // MkdirAll and OpenFile apply the umask
			}
			if err != nil {
				t.Fatalf("extracting %s: %v", hdr.Name, err)
			}
		}
		rc.Close()
	}
}
