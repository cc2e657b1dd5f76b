#!/bin/sh
# deps.sh GROUP...: make sure the Debian packages a make target needs are installed.
# Installs what is missing with apt-get (as root, or through sudo); otherwise prints
# the exact command and fails. Groups: build, test, examples, fuzz, format, bench, fresh.
# The lists hold on a minbase Debian 12 (debootstrap --variant=minbase) with only make
# added, installing without recommends: tests/fresh/run.sh proves it.
# When another apt or dpkg holds its locks (unattended-upgrades on a fresh machine), it
# waits for them, saying so once, and gives up after DEPS_LOCK_WAIT seconds (600).
set -eu

# gcc without recommends leaves out libc6-dev (sys/types.h); media-types: /etc/mime.types
pkgs_build="gcc libc6-dev make pkg-config libevent-dev libinih-dev libsystemd-dev zlib1g-dev
    media-types"
# systemd: systemd-analyze, systemd-socket-activate and the real-systemd sandbox (with
# util-linux's unshare, nsenter, setpriv and mount, all essential or required);
# man-db: systemd-analyze verify checks the units' man: links; logrotate runs inside it;
# wrk: test_soak's load; libfaketime: test_respawn's clock; chromium: test_live_status
# renders the live status page in a real (headless) browser; haproxy: tests/scaleout
# (forkd instances behind a real balancer) and test_proxy_protocol (send-proxy, -v2)
pkgs_test="libcmocka-dev python3 apache2-utils curl slowhttptest systemd man-db logrotate
    wrk libfaketime chromium haproxy gunicorn"
# the example modules (make examples, make install, make test): kv runs SQLite
pkgs_examples="libsqlite3-dev"
pkgs_fuzz="clang libclang-rt-14-dev"
pkgs_format="clang-format"
pkgs_bench="python3 nginx-light apache2-utils wrk"
# tests/fresh/run.sh: a minbase root from the archive, the checkout cloned into it
pkgs_fresh="debootstrap debian-archive-keyring git curl"

want=""
for group in "$@"; do
    case "$group" in
    build) want="$want $pkgs_build" ;;
    test) want="$want $pkgs_test" ;;
    examples) want="$want $pkgs_examples" ;;
    fuzz) want="$want $pkgs_fuzz" ;;
    format) want="$want $pkgs_format" ;;
    bench) want="$want $pkgs_bench" ;;
    fresh) want="$want $pkgs_fresh" ;;
    *) echo "deps.sh: unknown group '$group'" >&2; exit 2 ;;
    esac
done

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        case " $missing " in *" $p "*) ;; *) missing="$missing $p" ;; esac
    fi
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
echo "deps.sh: installing:$missing"
if [ "$(id -u)" = 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
else
    echo "deps.sh: missing packages; run as root:" >&2
    echo "  apt-get update && $cmd" >&2
    exit 1
fi

lock_wait=${DEPS_LOCK_WAIT:-600}
deadline=$(($(date +%s) + lock_wait))
waited=""
err=$(mktemp)
trap 'rm -f "$err"' EXIT

# apt_get ARGS...: apt-get ARGS; while another apt or dpkg holds a lock apt-get needs, retry
# every 2 s until the deadline (apt's own DPkg::Lock::Timeout covers only dpkg's
# frontend lock, not the lists lock that `apt-get update` takes). Returns apt-get's
# status; on giving up, says why and returns 1.
apt_get() {
    while :; do
        if $sudo env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get "$@" 2>"$err"; then
            cat "$err" >&2
            return 0
        fi
        if ! grep -q -e "Could not get lock" -e "Unable to lock" -e "Unable to acquire" "$err"; then
            cat "$err" >&2
            return 1
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            cat "$err" >&2
            echo "deps.sh: gave up after ${lock_wait}s waiting for another apt or dpkg" \
                "to finish (see above); run it again once it has (DEPS_LOCK_WAIT=seconds)" >&2
            return 1
        fi
        if [ -z "$waited" ]; then
            waited=yes
            echo "deps.sh: another apt or dpkg is running (unattended-upgrades?):" \
                "$(grep -m1 -o "held by process.*" "$err" || echo "a lock is held");" \
                "waiting up to ${lock_wait}s for it" >&2
        fi
        sleep 2
    done
}

apt_get update -qq
apt_get install -y -qq --no-install-recommends $missing
