#!/usr/bin/env bash
# tests/fresh/run.sh: the README's two commands on a fresh Debian 12, as a new user runs them.
#
# A minbase Debian 12 root (debootstrap --variant=minbase bookworm, then only
# `apt-get install make`, as the README's reader has) is built once and cached as a tarball
# in $FRESH_CACHE (/var/cache/forkd-fresh; rebuilt when missing or older than
# $FRESH_MAX_AGE_DAYS, 30). Each run unpacks it twice, clones the checkout's HEAD into
# /root/forkd (committed files only: nothing uncommitted is used) and, as root in a chroot
# with a login shell's environment, runs the two commands in both orders:
#   test-first: make test, then make run
#   run-first:  make run, then make test, then the other targets' dependency groups
#               (make format-check, make fuzz FUZZ_TIME=5, deps.sh build bench)
# `make run` runs in the background: it must serve www/index.html on http://127.0.0.1:8080/
# within $FRESH_RUN_DEADLINE seconds (900: its apt install and build count), and stop on
# Ctrl-C (SIGINT to its process group) within 20 s.
#
# Each root runs in its own mount and pid namespaces (unshare): /proc, /sys (with the cgroup
# mounts, so the real-systemd test can boot its sandbox), /dev, a tmpfs /run and the host's
# resolv.conf are mounted there, and every mount and process goes with the namespace
# whatever happens; the script then checks that nothing is left mounted under the root
# before it removes it. A policy-rc.d keeps package installs from starting daemons (with
# no init in the root, nginx-light's would serve port 80 of the host). Needs root and a network path to the Debian archive
# ($FRESH_MIRROR, http://deb.debian.org/debian). Takes minutes: .ci/run runs it last.
#
# Usage: tests/fresh/run.sh [test-first] [run-first]   (default: both)
# FRESH_KEEP=1 keeps the roots (unmounted) under /var/tmp/forkd-fresh.*/root, to look into.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SUITE=bookworm
MIRROR=${FRESH_MIRROR:-http://deb.debian.org/debian}
CACHE=${FRESH_CACHE:-/var/cache/forkd-fresh}
TARBALL=$CACHE/$SUITE-minbase-make.tar.gz
MAX_AGE_DAYS=${FRESH_MAX_AGE_DAYS:-30}
RUN_DEADLINE=${FRESH_RUN_DEADLINE:-900}
PORT=8080
# a login shell's environment: nothing of ours (CI=, MAKEFLAGS, SANITIZE...) reaches make
LOGIN_ENV=(env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/sh TERM=dumb /bin/sh -lc)

say() { printf 'fresh: %s\n' "$*"; }
die() { printf 'fresh: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

# --- the cached root ------------------------------------------------------------------------

# cached_root_is_fresh: true when the tarball exists and is younger than MAX_AGE_DAYS.
cached_root_is_fresh() {
    [ -s "$TARBALL" ] && [ -n "$(find "$TARBALL" -mtime "-$MAX_AGE_DAYS" 2>/dev/null)" ]
}

# build_cached_root: debootstrap a minbase root, add make as the README's reader does, and
# store it as TARBALL (written aside, then renamed: a failed build leaves no tarball).
build_cached_root() {
    local t0 dir
    t0=$(now)
    mkdir -p "$CACHE"
    dir=$(mktemp -d "$CACHE/build.XXXXXX")
    WORKDIRS+=("$dir") # removed by cleanup if this fails
    say "building a minbase $SUITE root from $MIRROR (cached in $TARBALL)"
    debootstrap --variant=minbase "$SUITE" "$dir/root" "$MIRROR" >"$dir/debootstrap.log" 2>&1 ||
        { tail -n 30 "$dir/debootstrap.log" >&2; die "debootstrap failed"; }
    cp /etc/resolv.conf "$dir/root/etc/resolv.conf"
    # shellcheck disable=SC2016  # $1 is the inner shell's
    unshare --mount --propagation private sh -c '
        set -e
        mount -t proc proc "$1/proc"
        mount --rbind /dev "$1/dev"
        chroot "$1" sh -c "apt-get update -qq && apt-get install -y -qq make && apt-get clean"
    ' sh "$dir/root" >"$dir/make.log" 2>&1 ||
        { tail -n 30 "$dir/make.log" >&2; die "apt-get install make failed in the new root"; }
    rm -f "$dir/root/etc/resolv.conf"
    tar -C "$dir/root" --numeric-owner -czf "$dir/root.tar.gz" .
    mv "$dir/root.tar.gz" "$TARBALL"
    rm -rf --one-file-system "$dir"
    say "cached root built in $(($(now) - t0)) s ($(du -h "$TARBALL" | cut -f1))"
}

# --- one root -------------------------------------------------------------------------------

# mounts_under DIR: the mount points at or below DIR in this mount namespace.
mounts_under() {
    awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo
}

# in_root CMD: run the shell command CMD in the chroot, in /root/forkd, as a login shell.
in_root() {
    chroot "$ROOT" "${LOGIN_ENV[@]}" "cd /root/forkd && $1"
}

# served: true when 127.0.0.1:PORT answers / with the checkout's www/index.html.
served() {
    curl -fsS --max-time 5 "http://127.0.0.1:$PORT/" -o "$WORK/page" 2>/dev/null &&
        cmp -s "$WORK/page" "$ROOT/root/forkd/www/index.html"
}

# group_alive PGID: true while a process of group PGID is running (zombies do not count:
# make's, until it is waited for; PID 1 of this namespace reaps the orphaned ones).
group_alive() {
    local f line state pgrp
    for f in /proc/[0-9]*/stat; do
        line=$(cat "$f" 2>/dev/null) || continue
        # after "pid (comm) ": state ppid pgrp ...
        read -r state _ pgrp _ <<<"${line##*) }"
        [ "$state" != Z ] && [ "$pgrp" = "$PGID" ] && return 0
    done
    return 1
}

# step_run: `make run` in the background as from a terminal (its own session and process
# group); wait for the page with a deadline, check it, stop it with Ctrl-C's SIGINT.
step_run() {
    local pid deadline
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "port $PORT is already in use on this machine: make run cannot serve there"
        return 1
    fi
    setsid chroot "$ROOT" "${LOGIN_ENV[@]}" 'cd /root/forkd && exec make run' \
        >"$WORK/run.log" 2>&1 </dev/null &
    pid=$!
    deadline=$(($(now) + RUN_DEADLINE))
    until served; do
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$WORK/run.log"
            echo "make run exited before serving http://127.0.0.1:$PORT/"
            return 1
        fi
        if [ "$(now)" -ge "$deadline" ]; then
            cat "$WORK/run.log"
            kill -KILL -- "-$pid" 2>/dev/null || true
            echo "make run did not serve http://127.0.0.1:$PORT/ within ${RUN_DEADLINE}s"
            return 1
        fi
        sleep 1
    done
    echo "http://127.0.0.1:$PORT/ served www/index.html ($(wc -c <"$WORK/page") bytes)"
    kill -INT -- "-$pid"
    deadline=$(($(now) + 20))
    PGID=$pid
    while group_alive; do
        if [ "$(now)" -ge "$deadline" ]; then
            cat "$WORK/run.log"
            kill -KILL -- "-$pid" 2>/dev/null || true
            echo "make run's processes were still there 20 s after SIGINT"
            return 1
        fi
        sleep 0.2
    done
    wait "$pid" || true
    cat "$WORK/run.log"
    if grep -q -e "Sanitizer" -e "\[alert\]" -e "\[emerg\]" "$WORK/run.log"; then
        echo "make run's log holds a sanitizer report or an alert"
        return 1
    fi
}

# step NAME CMD...: run one step, its output as it comes, and record the result and time.
step() {
    local name=$1 t0 rc=0
    shift
    t0=$(now)
    echo "===== fresh [$ORDER] $name"
    "$@" || rc=$?
    if [ "$rc" = 0 ]; then
        RESULTS+=("ok     $ORDER: $name ($(($(now) - t0)) s)")
    else
        RESULTS+=("FAILED $ORDER: $name ($(($(now) - t0)) s, status $rc)")
        FAILED=$((FAILED + 1))
    fi
    PASSED=$((PASSED + (rc == 0)))
}

# inside ORDER WORK: PID 1 of the root's mount and pid namespaces (see run_root).
inside() {
    ORDER=$1 WORK=$2 ROOT=$2/root
    RESULTS=() PASSED=0 FAILED=0
    # a /proc of this pid namespace, for us (group_alive) as for the root
    mount -t proc -o nosuid,nodev,noexec proc /proc
    # the root a mount point of its own: pivot_root (the real-systemd sandbox) needs that
    mount --bind "$ROOT" "$ROOT"
    mount -t proc -o nosuid,nodev,noexec proc "$ROOT/proc"
    mount --rbind /sys "$ROOT/sys"
    mount --rbind /dev "$ROOT/dev"
    mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$ROOT/run"
    mkdir -p "$ROOT/run/lock"
    touch "$ROOT/etc/resolv.conf"
    mount --bind -o ro /etc/resolv.conf "$ROOT/etc/resolv.conf"
    # no package may start a daemon: with no init in the root, it would serve on the host
    printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
    chmod 755 "$ROOT/usr/sbin/policy-rc.d"
    case "$ORDER" in
    test-first)
        step "make test" in_root "make test"
        step "make run" step_run
        ;;
    run-first)
        step "make run" step_run
        step "make test" in_root "make test"
        if [ "${FRESH_EXTRAS:-1}" = 1 ]; then
            step "make format-check" in_root "make format-check"
            step "make fuzz FUZZ_TIME=5" in_root "make fuzz FUZZ_TIME=5"
            step "deps.sh build bench" in_root "sh scripts/deps.sh build bench &&
                for t in cc nginx wrk ab python3; do command -v \$t || exit 1; done"
        fi
        ;;
    esac
    printf '%s\n' "${RESULTS[@]}" >"$WORK/results"
    echo "$PASSED $FAILED" >"$WORK/counts"
}

# run_root ORDER: unpack the cached root, clone HEAD into it, run the order's steps in new
# namespaces, check that nothing is left mounted, remove it. Appends to RESULTS.
run_root() {
    local order=$1 work left rc=0
    work=$(mktemp -d /var/tmp/forkd-fresh.XXXXXX)
    WORKDIRS+=("$work")
    mkdir "$work/root"
    tar -C "$work/root" --numeric-owner -xzf "$TARBALL"
    git clone -q --no-hardlinks "$REPO" "$work/root/root/forkd"
    git -C "$work/root/root/forkd" checkout -q --detach "$COMMIT"
    say "[$order] root $work/root, forkd $(git -C "$work/root/root/forkd" log --oneline -1)"
    # --kill-child: when unshare dies, so does every process of the root (cleanup)
    unshare --mount --pid --fork --propagation private --kill-child \
        bash "$HERE/run.sh" --inside "$order" "$work" &
    INNER=$!
    wait "$INNER" || rc=$?
    INNER=''
    left=$(mounts_under "$work")
    [ -z "$left" ] || die "still mounted after the run, $work is kept: $left"
    if [ -s "$work/results" ]; then
        mapfile -t -O "${#RESULTS[@]}" RESULTS <"$work/results"
        read -r p f <"$work/counts"
        PASSED=$((PASSED + p)) FAILED=$((FAILED + f))
    else
        RESULTS+=("FAILED $order: the root's namespace (status $rc)")
        FAILED=$((FAILED + 1))
    fi
    if [ -n "${FRESH_KEEP:-}" ]; then
        say "[$order] kept (FRESH_KEEP): $work/root"
    else
        rm -rf --one-file-system "$work"
    fi
}

# cleanup: on any exit (a signal too), kill the root being run, if any, with all its
# processes; remove the work directories that nothing is mounted under.
cleanup() {
    local w
    if [ -n "${INNER:-}" ]; then
        kill -KILL "$INNER" 2>/dev/null || true
        wait "$INNER" 2>/dev/null || true
    fi
    [ -z "${FRESH_KEEP:-}" ] || return 0
    for w in "${WORKDIRS[@]}"; do
        [ -d "$w" ] || continue
        if [ -z "$(mounts_under "$w")" ]; then
            rm -rf --one-file-system "$w"
        else
            echo "fresh: $w still has mounts; not removed" >&2
        fi
    done
}

main() {
    local t0 order orders=("$@")
    [ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mounts)"
    [ ${#orders[@]} -gt 0 ] || orders=(test-first run-first)
    for order in "${orders[@]}"; do
        case "$order" in test-first | run-first) ;; *) die "unknown order '$order'" ;; esac
    done
    t0=$(now)
    INNER='' WORKDIRS=()
    trap cleanup EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    sh "$REPO/scripts/deps.sh" fresh
    COMMIT=$(git -C "$REPO" rev-parse HEAD) # the same commit in every root
    cached_root_is_fresh || build_cached_root
    RESULTS=() PASSED=0 FAILED=0
    for order in "${orders[@]}"; do
        run_root "$order"
    done
    say "results ($(($(now) - t0)) s in all):"
    printf '  %s\n' "${RESULTS[@]}"
    echo "fresh: $PASSED passed, $FAILED failed"
    [ "$FAILED" = 0 ]
}

if [ "${1:-}" = --inside ]; then
    inside "$2" "$3"
else
    main "$@"
fi
