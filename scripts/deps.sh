#!/bin/sh
# deps.sh GROUP...: make sure the Debian packages a make target needs are installed.
# Installs what is missing with apt-get (as root, or through sudo); otherwise prints
# the exact command and fails. Groups: build, test, fuzz, format, bench.
set -eu

pkgs_build="gcc make pkg-config libevent-dev libinih-dev libsystemd-dev media-types"
pkgs_test="libcmocka-dev apache2-utils python3 curl systemd man-db slowhttptest"
pkgs_fuzz="clang libclang-rt-14-dev"
pkgs_format="clang-format"
pkgs_bench="nginx-light apache2-utils wrk"

want=""
for group in "$@"; do
    case "$group" in
    build) want="$want $pkgs_build" ;;
    test) want="$want $pkgs_test" ;;
    fuzz) want="$want $pkgs_fuzz" ;;
    format) want="$want $pkgs_format" ;;
    bench) want="$want $pkgs_bench" ;;
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
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends $missing
