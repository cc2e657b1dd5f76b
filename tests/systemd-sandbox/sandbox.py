#!/usr/bin/env python3
"""sandbox: a real systemd booted as PID 1 of private namespaces, for forkd's tests.

    sb = Sandbox().boot()                # about half a second: systemd and journald are up
    sb.make_install(REPO, BUILD)         # `make install PREFIX=/usr` of the checkout, inside
    sb.run(["systemctl", "start", "forkd"])
    sb.down()                            # no process, mount, cgroup or file is left

How it boots: unshare(1) makes new mount, pid, cgroup, uts and ipc namespaces, started in a
cgroup of their own under the host's cgroup2 mount (the cgroup namespace's root, which the
sandbox's systemd manages). init() below runs as their PID 1: an overlay over / whose upper
layer is a tmpfs (nothing inside ever writes the host's files; the checkout and /tmp look the
same inside as outside), a /proc of the new pid namespace with /proc/sys read-only, /sys
read-only, a cgroup2 mount, a minimal /dev with /dev/console going to DIR/console.log; units
that would reach the kernel (sysctl, modules, binfmt, the clock) or start the host's periodic
jobs are masked; then pivot_root and exec systemd without CAP_SYS_MODULE, CAP_SYS_TIME and
CAP_SYS_RAWIO. The network namespace stays the host's: services inside are reached over
loopback from outside, so they must listen on ports nobody else uses.

Commands run inside with nsenter(1) as the sandbox's root (run()). down() SIGKILLs the
sandbox's PID 1: the kernel kills every process of its pid namespace, its mounts go with
its mount namespace, then the cgroups and the directory are removed. A sandbox booted by a
test also dies with the thread that booted it (PR_SET_PDEATHSIG on unshare, whose
--kill-child takes PID 1 along), so a killed test run leaves no running sandbox.

From a shell (root):
    python3 tests/systemd-sandbox/sandbox.py boot [--install]   # prints the sandbox's DIR
    python3 tests/systemd-sandbox/sandbox.py in DIR systemctl status forkd
    python3 tests/systemd-sandbox/sandbox.py down DIR
    python3 tests/systemd-sandbox/sandbox.py sweep     # what killed runs left behind
"""

import glob
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from harness import shell_make, wait_until  # noqa: E402

SYSTEMD = "/lib/systemd/systemd"
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
# The environment of every command run inside: nothing of the caller's (MAKEFLAGS, SANITIZE...).
INSIDE_ENV = {"PATH": PATH, "LANG": "C.UTF-8", "TERM": "dumb", "SYSTEMD_PAGER": "",
              "SYSTEMD_COLORS": "0"}
BOOT_TIMEOUT = 30.0
COMMAND_TIMEOUT = 60.0
DOWN_TIMEOUT = 15.0
PREFIX = "forkd-sandbox-"
CAP_SYS_ADMIN = 21

# Masked inside: they would write the host's kernel settings (sysctl, modules, binfmt, the
# clock, pstore), mount kernel file systems the sandbox has no business with, or run the
# host's periodic jobs (every timer hangs off timers.target).
MASKED = ("timers.target", "systemd-sysctl.service", "systemd-modules-load.service",
          "kmod-static-nodes.service", "systemd-binfmt.service",
          "proc-sys-fs-binfmt_misc.automount", "proc-sys-fs-binfmt_misc.mount",
          "systemd-timesyncd.service", "systemd-pstore.service", "sys-kernel-config.mount",
          "sys-kernel-debug.mount", "sys-kernel-tracing.mount",
          "sys-fs-fuse-connections.mount", "dev-hugepages.mount")
DROPPED_CAPS = "-sys_module,-sys_time,-sys_rawio"
DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
           ("urandom", 1, 9), ("tty", 5, 0))


class SandboxError(Exception):
    """The sandbox did not boot, a command could not run, or down() left something behind."""


def cgroup2_root():
    """Where a cgroup2 file system is mounted ($CGROUP2 wins), or None."""
    if os.environ.get("CGROUP2"):
        return os.environ["CGROUP2"]
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            if fstype == "cgroup2":
                return fields[4].replace("\\040", " ")
    return None


def unavailable():
    """Why no sandbox can boot on this machine (one sentence), or None when one can."""
    if os.geteuid() != 0:
        return "not root (euid %d): new mount and pid namespaces need it" % os.geteuid()
    with open("/proc/self/status") as f:
        cap_eff = int([ln.split()[1] for ln in f if ln.startswith("CapEff:")][0], 16)
    if not cap_eff & (1 << CAP_SYS_ADMIN):
        return "no CAP_SYS_ADMIN in the effective set (CapEff %016x)" % cap_eff
    if not os.access(SYSTEMD, os.X_OK):
        return "no systemd binary at %s (Debian package systemd)" % SYSTEMD
    for tool in ("unshare", "nsenter", "setpriv", "mount", "pivot_root"):
        if shutil.which(tool) is None:
            return "%s is not installed (Debian package util-linux or mount)" % tool
    root = cgroup2_root()
    if root is None:
        return "no cgroup2 file system is mounted (set CGROUP2= to a writable one)"
    probe = os.path.join(root, "%sprobe-%d" % (PREFIX, os.getpid()))
    try:
        os.mkdir(probe)
        os.rmdir(probe)
    except OSError as e:
        return "cannot create a cgroup under %s: %s" % (root, e.strerror)
    out = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--cgroup", "--uts", "--ipc",
                          "true"], capture_output=True, text=True)
    if out.returncode != 0:
        return "unshare(1) cannot make new namespaces: %s" % out.stderr.strip()
    return None


def build_release(repo, build):
    """`make BUILD=build` on the host, as a user runs it: the release binary build/forkd,
    so that `make install` inside only copies files. Raises SandboxError with make's output."""
    out = shell_make("-s", "BUILD=" + build, cwd=repo, timeout=600)
    if out.returncode != 0:
        raise SandboxError("make BUILD=%s failed (%d):\n%s%s" % (build, out.returncode,
                                                                 out.stdout, out.stderr))


class Sandbox:
    """One booted systemd. bound: it dies with the thread that boots it (tests); a sandbox
    booted from the command line is not bound. binds: paths on other file systems than /
    that must look the same inside (the overlay's lower layer is / alone)."""

    def __init__(self, bound=True, binds=()):
        self.bound = bound
        self.binds = [os.path.abspath(p) for p in binds]
        self.dir = None
        self.cgroup = None
        self.proc = None
        self.unshare_pid = None
        self.pid = None  # the sandbox's systemd, as the host sees it
        self.state = None  # systemctl is-system-running once booted

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.down()

    # -- boot

    def boot(self, timeout=BOOT_TIMEOUT):
        """Start systemd and wait until it has reached basic.target (running or degraded).
        Returns self; raises SandboxError (and leaves nothing behind) if it does not boot."""
        try:
            self._start()
            self._wait_booted(timeout)
        except BaseException:
            self.down(check=False)
            raise
        return self

    def _start(self):
        root = cgroup2_root()
        self.dir = tempfile.mkdtemp(prefix=PREFIX)
        self.cgroup = os.path.join(root, os.path.basename(self.dir))
        os.mkdir(self.cgroup)
        self._note("cgroup", self.cgroup)
        # unshare enters the new cgroup before it makes the namespaces: that cgroup is
        # the root of the new cgroup namespace, and the one down() empties and removes
        argv = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', self.cgroup]
        if self.bound:
            argv += ["setpriv", "--pdeathsig", "KILL"]
        argv += ["unshare", "--mount", "--pid", "--fork", "--cgroup", "--uts", "--ipc",
                 "--propagation", "private", "--kill-child",
                 sys.executable, os.path.abspath(__file__), "init", self.dir] + self.binds
        with open(os.path.join(self.dir, "init.log"), "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env={"PATH": PATH},
                                         start_new_session=not self.bound)
        self.unshare_pid = self.proc.pid
        self._note("unshare.pid", self.unshare_pid)

    def _wait_booted(self, timeout):
        deadline = time.monotonic() + timeout
        systemd = os.path.realpath(SYSTEMD)

        def pid1():
            if self.proc.poll() is not None:
                return "exited"
            for child in children(self.unshare_pid):
                try:
                    # the path from the mount namespace's root: in a chroot (tests/fresh)
                    # the chroot's directory comes first
                    if os.readlink("/proc/%d/exe" % child).endswith(systemd):
                        return child
                except OSError:
                    pass
            return None

        got = wait_until(pid1, timeout, 0.01)
        if not isinstance(got, int):
            raise SandboxError("systemd did not start (%s); init.log:\n%s"
                               % ("init exited" if got else "timeout", self.text("init.log")))
        self.pid = got
        self._note("pid", self.pid)

        def booted():
            out = self.run(["systemctl", "is-system-running"], timeout=10)
            self.state = out.stdout.strip()
            return self.state in ("running", "degraded")

        if not wait_until(booted, max(1.0, deadline - time.monotonic()), 0.05):
            raise SandboxError("systemd did not finish booting within %.0fs (state %r); "
                               "console:\n%s" % (timeout, self.state, self.text("console.log")))

    def _note(self, name, value):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write("%s\n" % value)

    def text(self, name):
        """A file of the sandbox's directory (init.log, console.log), for messages."""
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()[-4000:]
        except OSError as e:
            return "(%s)" % e

    # -- inside

    def run(self, argv, timeout=COMMAND_TIMEOUT, input=None):
        """Run argv inside as root, in INSIDE_ENV; a CompletedProcess (text). A command that
        outlives timeout raises SandboxError (down() kills what is left of it)."""
        cmd = ["nsenter", "-t", str(self.pid), "-m", "-u", "-i", "-p", "-C", "-r", "-w"]
        try:
            return subprocess.run(cmd + list(argv), input=input, capture_output=True,
                                  text=True, timeout=timeout, env=INSIDE_ENV)
        except subprocess.TimeoutExpired as e:
            raise SandboxError("%r did not finish within %ss; output so far: %r %r"
                               % (list(argv), timeout, e.stdout, e.stderr)) from None

    def check(self, argv, timeout=COMMAND_TIMEOUT, input=None):
        """run() that raises SandboxError unless argv exits 0; returns its stdout."""
        out = self.run(argv, timeout, input)
        if out.returncode != 0:
            raise SandboxError("%r exited with %d:\n%s%s" % (list(argv), out.returncode,
                                                            out.stdout, out.stderr))
        return out.stdout

    def read(self, path):
        """The text of a file inside, or None if it cannot be read."""
        out = self.run(["cat", "--", path])
        return out.stdout if out.returncode == 0 else None

    def write(self, path, text):
        self.check(["sh", "-c", 'cat > "$0"', path], input=text)

    def make_install(self, repo, build):
        """`make install PREFIX=/usr BUILD=build` of the checkout at repo, inside, then
        `systemctl daemon-reload` so systemd sees the units. build must hold an up-to-date
        release build (build_release()): the install then only copies."""
        self.check(["make", "-s", "-C", repo, "install", "PREFIX=/usr", "BUILD=" + build],
                   timeout=600)
        self.check(["systemctl", "daemon-reload"])

    # -- down

    def down(self, check=True):
        """Kill everything inside, remove the cgroups and the directory. Idempotent.
        Raises SandboxError (if check) naming what could not be removed."""
        left = []
        if self.proc is not None:
            self.proc.kill()  # unshare, our child: --kill-child takes its PID 1 along
        elif self.pid is not None and self._is_pid1():
            os.kill(self.pid, signal.SIGKILL)
        if self.unshare_pid is not None:
            if not self._wait_unshare():
                left.append("unshare (pid %d) still running" % self.unshare_pid)
        if self.cgroup is not None and os.path.isdir(self.cgroup):
            if not wait_until(lambda: remove_cgroup(self.cgroup), DOWN_TIMEOUT, 0.05):
                left.append("cgroup %s: %s" % (self.cgroup, cgroup_tasks(self.cgroup)))
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.pid = self.unshare_pid = self.proc = None
        if left and check:
            raise SandboxError("sandbox %s left behind: %s" % (self.dir, "; ".join(left)))

    def _is_pid1(self):
        """Whether self.pid still is the sandbox's systemd (a child of its unshare): a pid
        read from a file may have been reused."""
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            return (ppid == self.unshare_pid
                    and os.readlink("/proc/%d/exe" % self.pid) == os.path.realpath(SYSTEMD))
        except (OSError, ValueError, IndexError):
            return False

    def _unshare_gone(self):
        if self.proc is not None:
            return self.proc.poll() is not None
        try:  # not our child: a zombie waits for someone else to reap it
            with open("/proc/%d/stat" % self.unshare_pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True

    def _wait_unshare(self):
        """Wait for unshare to exit (SIGKILL it after DOWN_TIMEOUT/2): True once it is gone."""
        if wait_until(self._unshare_gone, DOWN_TIMEOUT / 2, 0.01):
            return True
        try:
            os.kill(self.unshare_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return wait_until(self._unshare_gone, DOWN_TIMEOUT / 2, 0.01)

    @classmethod
    def attach(cls, sdir):
        """A Sandbox object for a directory printed by `sandbox.py boot` (command line)."""
        sb = cls(bound=False)
        sb.dir = sdir
        for attr, name, kind in (("cgroup", "cgroup", str), ("unshare_pid", "unshare.pid", int),
                                 ("pid", "pid", int)):
            try:
                with open(os.path.join(sdir, name)) as f:
                    setattr(sb, attr, kind(f.read().strip()))
            except (OSError, ValueError):
                pass
        return sb


def sweep(min_age=60):
    """Remove what killed runs left behind: sandbox directories whose unshare is gone and
    cgroups of ours with no process, both older than min_age seconds (a sandbox that is
    booting has no unshare.pid yet). Returns the paths removed."""
    removed = []
    now = time.time()
    root = cgroup2_root()
    dirs = glob.glob(os.path.join(tempfile.gettempdir(), PREFIX + "*"))
    cgroups = glob.glob(os.path.join(root, PREFIX + "*")) if root else []
    for path in dirs + cgroups:
        try:
            if now - os.stat(path).st_mtime < min_age:
                continue
        except OSError:
            continue
        if path in dirs:
            sb = Sandbox.attach(path)
            if sb.unshare_pid is None or not sb._unshare_gone():
                continue
            if sb.cgroup and os.path.isdir(sb.cgroup) and not cgroup_tasks(sb.cgroup):
                remove_cgroup(sb.cgroup)
            shutil.rmtree(path, ignore_errors=True)
        elif cgroup_tasks(path) or not remove_cgroup(path):
            continue
        removed.append(path)
    return removed


def children(pid):
    """The children of pid (every thread's), from /proc."""
    found = []
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                found += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return found


def cgroup_tasks(cgroup):
    """Every pid in cgroup and below it."""
    pids = []
    for dirpath, _, files in os.walk(cgroup):
        if "cgroup.procs" in files:
            try:
                with open(os.path.join(dirpath, "cgroup.procs")) as f:
                    pids += [int(p) for p in f.read().split()]
            except OSError:
                pass
    return pids


def remove_cgroup(cgroup):
    """rmdir cgroup and every cgroup below it, deepest first: True once it is gone."""
    for dirpath, _, _ in sorted(os.walk(cgroup), key=lambda w: -w[0].count("/")):
        try:
            os.rmdir(dirpath)
        except FileNotFoundError:
            pass
        except OSError:
            return False
    return True


# ---------------------------------------------------------------------------
# PID 1 of the new namespaces


def init(sdir, binds):
    """Lay out the sandbox's root and exec systemd (run by boot() through unshare, as
    PID 1 of the new namespaces). Each step is echoed to DIR/init.log; any failure exits."""
    root, ovl = os.path.join(sdir, "root"), os.path.join(sdir, "ovl")

    def sh(*argv):
        print("+ " + " ".join(argv), flush=True)
        subprocess.run(argv, check=True)

    os.makedirs(root)
    os.makedirs(ovl)
    sh("mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", ovl)
    os.makedirs(os.path.join(ovl, "upper"))
    os.makedirs(os.path.join(ovl, "work"))
    sh("mount", "-t", "overlay", "-o", "lowerdir=/,upperdir=%s/upper,workdir=%s/work"
       % (ovl, ovl), "overlay", root)
    root_dev = os.stat("/").st_dev
    for path in binds:
        if os.stat(path).st_dev != root_dev:  # not in the overlay's lower layer
            os.makedirs(root + path, exist_ok=True)
            sh("mount", "--rbind", path, root + path)
    sh("mount", "-t", "proc", "-o", "nosuid,nodev,noexec", "proc", root + "/proc")
    for path in ("/proc/sys", "/proc/sysrq-trigger"):
        if os.path.exists(root + path):
            sh("mount", "--bind", "-o", "ro", root + path, root + path)
    sh("mount", "-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs", root + "/sys")
    sh("mount", "-t", "cgroup2", "-o", "nosuid,nodev,noexec", "cgroup2",
       root + "/sys/fs/cgroup")
    make_dev(sdir, root + "/dev", sh)
    units = root + "/etc/systemd/system"
    for unit in MASKED:
        if os.path.lexists(os.path.join(units, unit)):
            os.unlink(os.path.join(units, unit))
        os.symlink("/dev/null", os.path.join(units, unit))
    # tmp.conf empties /tmp at boot: the host's /tmp (build directories) must stay visible
    os.symlink("/dev/null", root + "/etc/tmpfiles.d/tmp.conf")
    os.chdir(root)
    os.mkdir("oldroot")
    sh("pivot_root", ".", "oldroot")
    sh("umount", "-l", "/oldroot")
    os.rmdir("/oldroot")
    os.chdir("/")
    print("+ exec systemd", flush=True)
    os.execve("/usr/bin/setpriv", ["setpriv", "--bounding-set", DROPPED_CAPS, SYSTEMD,
                                   "--unit=basic.target"],
              {"container": "forkd-sandbox", "PATH": PATH})


def make_dev(sdir, dev, sh):
    """A minimal /dev: the usual character devices, a private devpts, /dev/console bound to
    DIR/console.log (systemd's status output), the /proc/self/fd links."""
    sh("mount", "-t", "tmpfs", "-o", "mode=755,nosuid", "tmpfs", dev)
    for name, major, minor in DEVICES:
        os.mknod(os.path.join(dev, name), stat.S_IFCHR | 0o666, os.makedev(major, minor))
        os.chmod(os.path.join(dev, name), 0o666)
    os.mkdir(dev + "/pts")
    os.mkdir(dev + "/shm")
    sh("mount", "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=620,gid=5", "devpts",
       dev + "/pts")
    os.symlink("pts/ptmx", dev + "/ptmx")
    os.symlink("/proc/self/fd", dev + "/fd")
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink("/proc/self/fd/%d" % i, os.path.join(dev, name))
    open(os.path.join(sdir, "console.log"), "w").close()
    open(dev + "/console", "w").close()
    sh("mount", "--bind", os.path.join(sdir, "console.log"), dev + "/console")


# ---------------------------------------------------------------------------
# Command line


def main(argv):
    if len(argv) >= 2 and argv[0] == "init":
        init(argv[1], argv[2:])
        return 1  # not reached: init execs systemd
    if argv[:1] == ["boot"] and set(argv[1:]) <= {"--install"}:
        reason = unavailable()
        if reason:
            print("sandbox: cannot boot here: " + reason, file=sys.stderr)
            return 1
        build = os.path.join(REPO, "build")
        if argv[1:]:
            build_release(REPO, build)
        sb = Sandbox(bound=False, binds=[REPO, build] if argv[1:] else []).boot()
        if argv[1:]:
            sb.make_install(REPO, build)
        print(sb.dir)
        return 0
    if len(argv) >= 3 and argv[0] == "in":
        sb = Sandbox.attach(argv[1])
        os.execvp("nsenter", ["nsenter", "-t", str(sb.pid), "-m", "-u", "-i", "-p", "-C",
                              "-r", "-w"] + argv[2:])
    if len(argv) == 2 and argv[0] == "down":
        Sandbox.attach(argv[1]).down()
        return 0
    if argv == ["sweep"]:
        for path in sweep():
            print("removed " + path)
        return 0
    print(__doc__.split("From a shell (root):\n")[1], file=sys.stderr, end="")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
