package worker

import (
	"fmt"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// confinedSyscalls are what a render worker may no longer do once it is confined, whatever
// kustomize, Helm, a JSON schema or a plugin config asks of it: make any socket (so no
// connection, no DNS, nothing over HTTP or Git), open any file (so no file:// $ref, no reading
// the server's disk or its ServiceAccount token, no writing anywhere), start a program, or reach
// another process. Everything a render needs arrived on standard input before; everything it
// makes leaves on standard output, both open already.
//
// The list is of capabilities, not of fields: a new kustomize or Helm feature that fetches a
// URL or runs a binary meets the same refusal, because the process has no way out.
var confinedSyscalls = []string{
	// The network.
	"socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
	// Files: opening one, by any path or handle, and changing the tree.
	"open", "openat", "openat2", "creat", "open_by_handle_at", "name_to_handle_at",
	"mkdir", "mkdirat", "unlink", "unlinkat", "rmdir", "rename", "renameat", "renameat2",
	"link", "linkat", "symlink", "symlinkat", "truncate", "chmod", "fchmodat", "chown", "lchown", "fchownat",
	// Processes: new programs, new processes, other processes' memory.
	"execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev",
	// Ways around the rules above: io_uring opens files and sockets without these system calls;
	// namespaces, mounts and BPF change what the rules mean.
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"unshare", "setns", "mount", "umount2", "chroot", "pivot_root", "bpf", "userfaultfd", "keyctl", "add_key", "request_key",
}

// confine installs a seccomp filter on every thread of this process that refuses
// confinedSyscalls with EPERM, and sets no_new_privs (which an unprivileged process needs to
// install one). It cannot be undone. A clone that starts a process rather than a thread is
// refused too: Go starts threads with CLONE_THREAD, a fork has no reason to run here.
func confine() error {
	info, err := arch.GetInfo("")
	if err != nil {
		return fmt.Errorf("confining the render worker: %w", err)
	}
	// Architectures differ: arm64 has openat but no open, no fork. A name this one lacks is a
	// system call nobody can make here.
	var names []string
	for _, name := range confinedSyscalls {
		if _, ok := info.SyscallNames[name]; ok {
			names = append(names, name)
		}
	}
	filter := seccomp.Filter{
		NoNewPrivs: true,
		Flag:       seccomp.FilterFlagTSync,
		Policy: seccomp.Policy{
			DefaultAction: seccomp.ActionAllow,
			Syscalls: []seccomp.SyscallGroup{
				{Action: seccomp.ActionErrno, Names: names},
				// clone3 passes its flags in memory a filter cannot read. ENOSYS, not EPERM,
				// makes glibc's pthread_create (cgo's threads) fall back to clone, whose flags
				// the next rule reads.
				{Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS), Names: []string{"clone3"}},
				{Action: seccomp.ActionErrno, NamesWithCondtions: []seccomp.NameWithConditions{{
					Name:       "clone",
					Conditions: []seccomp.Condition{{Argument: 0, Operation: seccomp.BitsNotSet, Value: unix.CLONE_THREAD}},
				}}},
			},
		},
	}
	if err := seccomp.LoadFilter(filter); err != nil {
		return fmt.Errorf("confining the render worker (seccomp, which Ferry needs to render with no network, files or programs): %w", err)
	}
	return nil
}
