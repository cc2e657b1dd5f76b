"""Handler modules ([module NAME] / [route PATH], issue 12): the example modules built by
`make examples` and served; a module that cannot be used (another ABI, a missing function,
a missing .so, a failing, hanging or crashing init) refused with FILE:LINE: reason by
forkd -t, at start and on reload (where the old generation serves on); a module rebuilt
and installed by rename, then reloaded, serving its new code under ab -k without a failed
request; make install putting the binary, the modules and forkd.h in place by rename.

The examples and the test's own probe modules are built as a module's author builds one,
against the installed-style header alone ($BUILD/include/forkd/forkd.h). $BUILD (else the
BUILD= of the make running us, else build/) is the build directory."""

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

from harness import (REPO, START_TIMEOUT, FreshServerCase, Server, ServerCase, build_request,
                     class_tempdir, forkd_bin, make_command_line, merge_config, shell_make,
                     wait_until)

AB = shutil.which("ab")


def build_dir():
    build = os.environ.get("BUILD") or dict(
        (name, word.split("=", 1)[1]) for name, word in make_command_line(os.environ)
    ).get("BUILD", "build")
    return os.path.join(REPO, build)


BUILD = build_dir()
INCLUDE = os.path.join(BUILD, "include")
EXAMPLES = os.path.join(BUILD, "examples")


def setUpModule():
    out = shell_make("-s", "examples", "BUILD=" + BUILD)
    if out.returncode != 0:
        raise AssertionError("make examples failed:\n" + out.stdout + out.stderr)


# A module of the tests' own: probe answers "probe TEXT\n", later answers "later\n" from a
# timer on the event base of the forkd_server_t its init got; -D flags make it bad.
PROBE_C = r"""
#include <forkd/forkd.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    const char *text;
    forkd_server_t *srv; /* init's */
} probe_t;

typedef struct {
    forkd_server_t *srv;
    forkd_ref_t ref;
    struct event *ev;
} later_t;

#ifndef ABI
#define ABI FORKD_ABI
#endif
#ifndef TEXT
#define TEXT "v1"
#endif

static int probe_init(forkd_server_t *srv, const forkd_config_t *keys, void **self)
{
    probe_t *p;
    (void)keys;
#ifdef INIT_FAILS
    forkd_log(srv, FORKD_LOG_ERROR, "probe: cannot reach %s", forkd_config_get(keys, "backend"));
    return -1;
#endif
#ifdef INIT_HANGS
    for (;;) pause();
#endif
#ifdef INIT_CRASHES
    abort();
#endif
    p = malloc(sizeof(*p));
    if (p == NULL) {
        return -1;
    }
    p->text = TEXT;
    p->srv = srv;
    *self = p;
    forkd_log(srv, FORKD_LOG_INFO, "probe: init in pid %d", (int)getpid());
    return 0;
}

static void probe_fini(void *self)
{
    probe_t *p = self;
    forkd_log(p->srv, FORKD_LOG_INFO, "probe: fini in pid %d", (int)getpid());
    free(p);
}

static int probe(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    const probe_t *p = self;
    (void)req;
    forkd_resp_status(resp, 200);
    forkd_resp_content_type(resp, "text/plain");
    forkd_resp_printf(resp, "probe %s\n", p->text);
    return FORKD_DONE;
}

/* The request is found again through init's forkd_server_t, by reference. */
static void later_cb(evutil_socket_t fd, short what, void *arg)
{
    later_t *l = arg;
    forkd_resp_t *resp = forkd_lookup(l->srv, l->ref);
    (void)fd;
    (void)what;
    if (resp != NULL) {
        forkd_resp_status(resp, 200);
        forkd_resp_printf(resp, "later\n");
        forkd_resp_finish(resp);
    }
    event_free(l->ev);
    free(l);
}

static int later(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    const probe_t *p = self;
    struct timeval ms = {0, 1000};
    later_t *l = malloc(sizeof(*l));

    if (l == NULL) {
        forkd_resp_error(resp, 503);
        return FORKD_DONE;
    }
    l->srv = p->srv;
    l->ref = forkd_req_ref(req);
    l->ev = evtimer_new(forkd_event_base(p->srv), later_cb, l);
    evtimer_add(l->ev, &ms);
    return FORKD_ASYNC;
}

/* A pool job that ignores its cancel flag for 3 s. */
static void stuck_job(void *arg, const volatile int *cancelled)
{
    (void)arg;
    (void)cancelled;
    sleep(3);
}

static void stuck_done(forkd_server_t *srv, forkd_ref_t ref, void *arg)
{
    forkd_resp_t *resp = forkd_lookup(srv, ref);
    (void)arg;
    if (resp != NULL) {
        forkd_resp_status(resp, 200);
        forkd_resp_finish(resp);
    }
}

static int stuck(forkd_req_t *req, forkd_resp_t *resp, void *self)
{
    (void)self;
    forkd_log(forkd_req_server(req), FORKD_LOG_INFO, "probe: stuck job submitted");
    if (forkd_pool_submit(req, stuck_job, stuck_done, NULL) != 0) {
        forkd_resp_error(resp, 503);
        return FORKD_DONE;
    }
    return FORKD_ASYNC;
}

static const forkd_handler_def_t handlers[] = {
    {"probe", probe}, {"later", later}, {"stuck", stuck}, {NULL, NULL}};

#ifdef NO_DESCRIPTOR /* misspelt */
const forkd_module_t forkd_modul = {ABI, "probe", probe_init, probe_fini, handlers};
#else
const forkd_module_t forkd_module = {ABI, "probe", probe_init, probe_fini, handlers};
#endif
"""


def build_probe(directory, name, *defines):
    """Compile PROBE_C with -D defines into directory/name (written by rename); its path."""
    return build_module(directory, name, PROBE_C, *defines)


def build_module(directory, name, source, *defines):
    """Compile the C source of a module, as its author would, against the installed-style
    header alone, with -D defines, into directory/name (written by rename); its path."""
    src = os.path.join(directory, name + ".c")
    with open(src, "w") as f:
        f.write(source)
    out = os.path.join(directory, name)
    cmd = ["cc", "-shared", "-fPIC", "-std=c11", "-Wall", "-Werror", "-I" + INCLUDE,
           "-o", out + ".tmp", src, "-levent", "-lpthread"] + ["-D" + d for d in defines]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError(" ".join(cmd) + "\n" + done.stderr)
    os.rename(out + ".tmp", out)
    return out


def install_by_rename(src, dest):
    """What forkd(8) tells a user to do: a temp file beside dest, renamed over it."""
    tmp = os.path.join(os.path.dirname(dest), ".%s.tmp" % os.path.basename(dest))
    subprocess.run(["sh", "-c", 'install -m 755 "$1" "$2" && mv -f "$2" "$3"', "sh",
                    src, tmp, dest], check=True, timeout=30)


def probe_sections(so, route_handler="probe:probe", **keys):
    return {"module probe": dict({"path": so}, **keys),
            "route /probe": {"handler": route_handler}}


def all_workers(test, server, n=2):
    """The pids of server's n workers, once it has forked them all (its port file comes
    first)."""
    test.assertTrue(wait_until(lambda: len(server.worker_pids()) == n, 10),
                    server.log_text()[-2000:])
    return sorted(server.worker_pids())


def line_of(text, section, key):
    """The line number of `key = ...` in [section] of the INI text."""
    inside = False
    for i, line in enumerate(text.split("\n"), 1):
        if line.startswith("["):
            inside = line.strip() == "[%s]" % section
        elif inside and line.split("=", 1)[0].strip() == key:
            return i
    raise KeyError((section, key))


class ModuleServerCase(ServerCase):
    """A server whose config needs a directory of its own (modules built for it, a
    database): made before the start as cls.mods, removed after the stop."""

    @classmethod
    def module_config(cls, directory):
        """The config sections, given the class's directory."""
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.mods = class_tempdir(cls, "forkd-mods-")
        cls.config = cls.module_config(cls.mods)
        super().setUpClass()


class ExampleHello(ServerCase):
    """examples/hello.c: its greeting key, its route, and a route that wins over a built-in."""

    config = {
        "module hello": {"path": os.path.join(EXAMPLES, "hello.so"), "greeting": "Bonjour"},
        "route /hello": {"handler": "hello:hello"},
        # /demo/work is the demo's too: the [route] wins
        "route /demo/work": {"handler": "hello:hello"},
    }

    def test_get_hello(self):
        resp = self.request("GET", "/hello")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body, b"Bonjour, world!\n")
        self.assertEqual(resp.get("Content-Type"), "text/plain; charset=utf-8")

    def test_head_and_methods(self):
        resp = self.request("HEAD", "/hello")
        self.assertEqual((resp.status, resp.body), (200, b""), resp)
        self.assertEqual(resp.get("Content-Length"), "16")
        resp = self.request("POST", "/hello", body=b"x")
        self.assertEqual(resp.status, 405, resp)
        self.assertEqual(resp.get("Allow"), "GET, HEAD, OPTIONS")

    def test_route_wins_over_builtin(self):
        resp = self.request("GET", "/demo/work?ms=1")
        self.assertEqual(resp.body, b"Bonjour, world!\n")
        self.assertEqual(self.request("GET", "/demo/sleep?ms=1").status, 200)


class ProbeServed(ModuleServerCase):
    """The server a module's init gets is the one its requests are looked up in."""

    @classmethod
    def module_config(cls, directory):
        so = build_probe(directory, "probe.so")
        return merge_config(probe_sections(so), {"route /later": {"handler": "probe:later"}})

    def test_answered_later_through_inits_server(self):
        for _ in range(4):  # both workers
            resp = self.request("GET", "/later")
            self.assertEqual((resp.status, resp.body), (200, b"later\n"), resp)


class ExampleKv(ModuleServerCase):
    """examples/kv.c: SQLite behind GET/PUT/DELETE /kv/KEY, on the thread pool."""

    @classmethod
    def module_config(cls, directory):
        cls.dbdir = directory
        return {
            "server": {"workers": "1", "threads": "2"},
            "module kv": {"path": os.path.join(EXAMPLES, "kv.so"),
                          "database": os.path.join(directory, "kv.sqlite")},
            "route /kv/": {"handler": "kv:kv", "methods": "GET PUT DELETE"},
        }

    def put(self, key, value):
        return self.request("PUT", "/kv/" + key, body=value,
                            headers={"Content-Length": str(len(value))}).status

    def test_put_get_delete(self):
        value = bytes(range(256)) * 5  # binary, NULs included
        self.assertEqual(self.put("alpha", value), 204)
        resp = self.request("GET", "/kv/alpha")
        self.assertEqual((resp.status, resp.body), (200, value), resp)
        self.assertEqual(self.put("alpha", b"second"), 204)
        self.assertEqual(self.request("GET", "/kv/alpha").body, b"second")
        self.assertEqual(self.request("DELETE", "/kv/alpha").status, 204)
        self.assertEqual(self.request("GET", "/kv/alpha").status, 404)
        self.assertEqual(self.request("DELETE", "/kv/alpha").status, 404)

    def test_empty_value(self):
        self.assertEqual(self.put("empty", b""), 204)
        resp = self.request("GET", "/kv/empty")
        self.assertEqual((resp.status, resp.body), (200, b""), resp)

    def test_the_database_file_is_the_store(self):
        for i in range(20):
            self.assertEqual(self.put("k%d" % i, b"%d" % i), 204)
        db = sqlite3.connect(os.path.join(self.dbdir, "kv.sqlite"))
        self.addCleanup(db.close)
        rows = dict(db.execute("SELECT k, v FROM kv WHERE k LIKE 'k%'").fetchall())
        self.assertEqual(rows, {"k%d" % i: b"%d" % i for i in range(20)})
        db.execute("INSERT OR REPLACE INTO kv VALUES ('from-outside', x'00ff')")
        db.commit()
        self.assertEqual(self.request("GET", "/kv/from-outside").body, b"\x00\xff")

    def test_a_blocked_statement_does_not_stall_the_worker(self):
        # another process holds the database's write lock: a PUT waits in SQLite (up to its
        # 5 s busy timeout) on a pool thread, while the worker's loop serves on
        db = sqlite3.connect(os.path.join(self.dbdir, "kv.sqlite"), isolation_level=None)
        self.addCleanup(db.close)
        db.execute("BEGIN EXCLUSIVE")
        put = self.connect()
        put.send(build_request("PUT", "/kv/blocked", headers={"Content-Length": "1"}, body=b"b"))
        started = time.monotonic()
        for _ in range(3):
            conn = self.connect(timeout=2)
            conn.send(build_request("GET", "/"))
            self.assertEqual(conn.read_response().status, 200)
        self.assertLess(time.monotonic() - started, 2)
        db.execute("COMMIT")
        self.assertEqual(put.read_response().status, 204)
        self.assertEqual(self.request("GET", "/kv/blocked").body, b"b")

    def test_bad_keys(self):
        self.assertEqual(self.request("GET", "/kv/").status, 400)
        self.assertEqual(self.request("GET", "/kv/" + "k" * 256).status, 400)
        self.assertEqual(self.request("POST", "/kv/x", body=b"v").status, 405)


class Refusals(FreshServerCase):
    """Each bad module is refused with FILE:LINE: reason by -t, at start and on reload."""

    @classmethod
    def setUpClass(cls):
        cls.mods = class_tempdir(cls, "forkd-mods-")
        cls.good = build_probe(cls.mods, "good.so")
        cls.cases = [
            # name, module keys, route handler, (section, key) of the line, reason
            ("abi", {"path": build_probe(cls.mods, "abi.so", "ABI=FORKD_ABI+1")}, "probe:probe",
             ("module probe", "path"),
             "was built for forkd ABI 2, this forkd has ABI 1: rebuild it"),
            ("missing function", {"path": cls.good}, "probe:nosuch", ("route /probe", "handler"),
             "handler probe:nosuch: module probe ('%s') has no handler 'nosuch' "
             "(it has: probe, later, stuck)"
             % cls.good),
            ("missing .so", {"path": os.path.join(cls.mods, "gone.so")}, "probe:probe",
             ("module probe", "path"),
             "[module probe] cannot load: %s: cannot open shared object file: "
             "No such file or directory" % os.path.join(cls.mods, "gone.so")),
            ("no descriptor", {"path": build_probe(cls.mods, "nodesc.so", "NO_DESCRIPTOR")},
             "probe:probe", ("module probe", "path"),
             "is not a forkd module: it exports no forkd_module"),
            ("failing init", {"path": build_probe(cls.mods, "fails.so", "INIT_FAILS"),
                              "backend": "db.example:5432"}, "probe:probe",
             ("module probe", "path"),
             "init failed: probe: cannot reach db.example:5432"),
            ("crashing init", {"path": build_probe(cls.mods, "crash.so", "INIT_CRASHES")},
             "probe:probe", ("module probe", "path"),
             "init (test-load): killed by signal 6 (Aborted)"),
        ]

    def write_config(self, server, sections):
        """Write server's config with sections replacing the probe's; returns the text."""
        config = {k: v for k, v in server.config.items() if not k.startswith(("module", "route"))}
        config.update(sections)
        server.config = config
        text = "\n".join("[%s]\n%s\n" % (s, "\n".join("%s = %s" % kv for kv in keys.items()))
                         for s, keys in config.items())
        with open(server.config_path, "w") as f:
            f.write(text)
        return text

    def expected(self, server, text, where, reason):
        return "%s:%d: " % (server.config_path, line_of(text, *where)), reason

    def test_refused_by_t_and_at_start(self):
        tmpdir = tempfile.mkdtemp(prefix="forkd-it-")
        self.addCleanup(shutil.rmtree, tmpdir, True)
        server = Server(tmpdir, tmpdir)
        for name, keys, handler, where, reason in self.cases:
            with self.subTest(name):
                text = self.write_config(server, {"module probe": keys,
                                                  "route /probe": {"handler": handler}})
                prefix, reason = self.expected(server, text, where, reason)
                for argv in (["-t"], []):
                    out = subprocess.run([forkd_bin()] + argv + ["-c", server.config_path],
                                         capture_output=True, text=True, timeout=START_TIMEOUT,
                                         env=dict(os.environ, FORKD_PORT_FILE=server.port_file))
                    self.assertEqual(out.returncode, 1, "%s %s" % (argv, out.stderr))
                    line = [ln for ln in out.stderr.splitlines() if prefix in ln]
                    self.assertTrue(line and reason in line[0], "%s: want %s...%s in:\n%s"
                                    % (argv, prefix, reason, out.stderr))
                    self.assertNotIn("AddressSanitizer", out.stderr)
                    self.assertFalse(os.path.exists(server.port_file), "it started serving")

    def test_refused_on_reload_the_old_generation_serves_on(self):
        server = self.start_server(probe_sections(self.good))
        workers = all_workers(self, server)
        for name, keys, handler, where, reason in self.cases:
            with self.subTest(name):
                text = self.write_config(server, {"module probe": keys,
                                                  "route /probe": {"handler": handler}})
                prefix, reason = self.expected(server, text, where, reason)
                before = server.log_text().count("reload refused")
                server.send_signal(signal.SIGHUP)
                self.assertTrue(wait_until(
                    lambda: server.log_text().count("reload refused") > before, 15),
                    server.log_text()[-2000:])
                last = [ln for ln in server.log_text().splitlines() if "reload refused" in ln][-1]
                self.assertIn(prefix, last)
                self.assertIn(reason, last)
                conn = self.connect(server)
                conn.send(build_request("GET", "/probe"))
                resp = conn.read_response()
                self.assertEqual((resp.status, resp.body), (200, b"probe v1\n"), resp)
                self.assertEqual(sorted(server.worker_pids()), workers, "workers changed")
        self.stop_and_check(server)

    def test_hanging_init_is_cut_after_10s(self):
        tmpdir = tempfile.mkdtemp(prefix="forkd-it-")
        self.addCleanup(shutil.rmtree, tmpdir, True)
        server = Server(tmpdir, tmpdir)
        so = build_probe(self.mods, "hangs.so", "INIT_HANGS")
        text = self.write_config(server, probe_sections(so))
        started = time.monotonic()
        out = subprocess.run([forkd_bin(), "-t", "-c", server.config_path], capture_output=True,
                             text=True, timeout=60)
        took = time.monotonic() - started
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("%s:%d: [module probe] '%s': init (test-load): no answer within 10 s"
                      % (server.config_path, line_of(text, "module probe", "path"), so),
                      out.stderr)
        self.assertLess(took, 20)


class InitAndFini(FreshServerCase):
    """init runs in each worker (after fork), fini when it exits, but not while a pool
    job it may still use is left running."""

    def setUp(self):
        self.mods = tempfile.mkdtemp(prefix="forkd-mods-")
        self.addCleanup(shutil.rmtree, self.mods, True)
        self.so = build_probe(self.mods, "probe.so")

    def test_init_in_each_worker_fini_at_exit(self):
        server = self.start_server(probe_sections(self.so))
        workers = all_workers(self, server)
        self.assertTrue(wait_until(lambda: all("probe: init in pid %d" % w in server.log_text()
                                               for w in workers), 5), server.log_text())
        self.stop_and_check(server, signal.SIGQUIT)
        for w in workers:
            self.assertIn("probe: fini in pid %d" % w, server.log_text())
        self.assertEqual(server.log_text().count("probe: init"), len(workers))

    def test_no_fini_under_a_job_left_running(self):
        server = self.start_server(merge_config(
            {"server": {"workers": "1", "threads": "1", "graceful_timeout": "500ms"}},
            probe_sections(self.so), {"route /stuck": {"handler": "probe:stuck"}}))
        conn = self.connect(server)
        conn.send(build_request("GET", "/stuck"))
        # the job runs at once on the worker's only thread: then stop now
        self.assertTrue(wait_until(lambda: "stuck job submitted" in server.log_text(), 5))
        server.send_signal(signal.SIGTERM)
        self.assertEqual(server.proc.wait(timeout=15), 0)
        log = server.log_text()
        self.assertIn("left behind", log)
        self.assertNotIn("probe: fini", log)


class ReloadChangedModule(FreshServerCase):
    """A module rebuilt and installed by rename over the one in use; HUP: the new
    generation loads it afresh and serves the new code, with 0 failed requests under ab -k."""

    @unittest.skipUnless(AB, "ab (apache2-utils) is not installed")
    def test_new_code_served_without_a_failed_request(self):
        mods = tempfile.mkdtemp(prefix="forkd-mods-")
        self.addCleanup(shutil.rmtree, mods, True)
        live = os.path.join(mods, "probe.so")
        install_by_rename(build_probe(mods, "v1.so", 'TEXT="v1"'), live)
        v2 = build_probe(mods, "v2.so", 'TEXT="v2"')  # the same length: ab checks it
        server = self.start_server(merge_config({"server": {"workers": "2"},
                                          "http": {"keepalive_requests": "1000000"}},
                                         probe_sections(live)))

        def probe_text():
            conn = server.connect()
            try:
                conn.send(build_request("GET", "/probe"))
                return conn.read_response().body
            finally:
                conn.close()

        self.assertEqual(probe_text(), b"probe v1\n")
        old = set(all_workers(self, server))
        ab = subprocess.Popen([AB, "-q", "-k", "-s", "10", "-t", "8", "-n", "10000000", "-c", "8",
                               "http://127.0.0.1:%d/probe" % server.port],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(ab.kill)
        install_by_rename(v2, live)
        server.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: probe_text() == b"probe v2\n", 10),
                        server.log_text()[-2000:])
        self.assertIsNone(ab.poll(), "ab was done before the new code served: no test")
        self.assertTrue(wait_until(lambda: not old & set(server.worker_pids()), 10),
                        "the old generation did not exit")
        out = ab.communicate(timeout=60)[0].decode("utf-8", "replace")
        self.assertEqual(ab.returncode, 0, out)
        complete = int(re.search(r"^Complete requests:\s+(\d+)", out, re.M).group(1))
        failed = int(re.search(r"^Failed requests:\s+(\d+)", out, re.M).group(1))
        self.assertGreater(complete, 1000, out)
        self.assertEqual(failed, 0, out)
        self.assertIsNone(re.search(r"^Non-2xx responses:", out, re.M), out)
        self.assertEqual(probe_text(), b"probe v2\n")
        self.stop_and_check(server)


class InstallByRename(unittest.TestCase):
    """make install: the binary and the example modules by rename (a file in use keeps its
    contents: a hard link to the old one still reads the old bytes), forkd.h beside them."""

    def test_install(self):
        dest = tempfile.mkdtemp(prefix="forkd-dest-")
        self.addCleanup(shutil.rmtree, dest, True)
        targets = ["usr/sbin/forkd", "usr/lib/forkd/hello.so", "usr/lib/forkd/kv.so"]
        for t in targets:  # a previous install, still mapped by running processes
            os.makedirs(os.path.join(dest, os.path.dirname(t)), exist_ok=True)
            with open(os.path.join(dest, t), "wb") as f:
                f.write(b"old " + t.encode())
            os.link(os.path.join(dest, t), os.path.join(dest, t + ".in-use"))
        out = shell_make("-s", "install", "PREFIX=/usr", "DESTDIR=" + dest, "BUILD=" + BUILD)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        for t, built in zip(targets, [os.path.join(BUILD, "forkd"),
                                      os.path.join(EXAMPLES, "hello.so"),
                                      os.path.join(EXAMPLES, "kv.so")]):
            with open(os.path.join(dest, t + ".in-use"), "rb") as f:
                self.assertEqual(f.read(), b"old " + t.encode(), "%s written in place" % t)
            with open(os.path.join(dest, t), "rb") as f, open(built, "rb") as g:
                self.assertEqual(f.read(), g.read(), t)
            self.assertTrue(os.access(os.path.join(dest, t), os.X_OK), t)
        self.assertEqual([n for n in os.listdir(os.path.join(dest, "usr/lib/forkd"))
                          if ".tmp" in n], [], "temp files left")
        with open(os.path.join(dest, "usr/include/forkd/forkd.h"), "rb") as f, \
                open(os.path.join(REPO, "server/forkd.h"), "rb") as g:
            self.assertEqual(f.read(), g.read())


if __name__ == "__main__":
    unittest.main()
