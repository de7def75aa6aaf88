package localenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// FreePort asks the kernel for a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitTCP waits until addr accepts TCP connections.
func waitTCP(ctx context.Context, addr string, exited <-chan struct{}) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", addr, ctx.Err())
		case <-exited:
			return fmt.Errorf("server exited before listening on %s", addr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// serviceUser is the unprivileged account servers run as when we are root.
type serviceUser struct {
	uid, gid uint32
}

// unprivileged returns the postgres OS user when running as root, nil otherwise.
func unprivileged(name string) (*serviceUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root needs the unprivileged %q OS user (install the postgresql package): %w", name, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &serviceUser{uid: uint32(uid), gid: uint32(gid)}, nil
}

// command builds a child process that dies with its parent and, when su is
// set, runs as that user.
func command(su *serviceUser, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if su != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: su.uid, Gid: su.gid}
	}
	return cmd
}

// chownTree gives a directory tree to su (no-op when su is nil).
func chownTree(dir string, su *serviceUser) error {
	if su == nil {
		return nil
	}
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(su.uid), int(su.gid))
	})
}

// canTraverse reports whether su can reach dir (every parent needs +x for it).
func canTraverse(dir string, su *serviceUser) bool {
	if su == nil {
		return true
	}
	cmd := command(su, "test", "-x", dir, "-a", "-w", dir)
	return cmd.Run() == nil
}

// findBinary locates a PostgreSQL server binary: $PG_BIN, the highest
// /usr/lib/postgresql/*/bin, then PATH.
func findBinary(name string) (string, error) {
	if dir := os.Getenv("PG_BIN"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found: install PostgreSQL 15+ (apt-get install postgresql) or set DATABASE_URL to an existing server", name)
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// stopProcess sends sig, then kills the process group if it has not exited
// within grace.
func stopProcess(cmd *exec.Cmd, done <-chan struct{}, sig syscall.Signal, grace time.Duration) error {
	if cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-done:
		return nil
	case <-time.After(grace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return errors.New("server did not stop in time; killed")
	}
}
