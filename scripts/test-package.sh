#!/usr/bin/env bash
# Builds both artefacts with scripts/package.sh, then installs each into a clean Debian root
# (debootstrap, minbase) that has no Swift in it and runs hypha there: --version, ldd, `hypha demo`
# as root and as a plain user, `hypha validate` on every shipped workflow, `hypha service install
# --dry-run` (docs/PACKAGING.md). The .deb goes in with apt, which installs its Depends: and nothing
# else; the tarball goes into a second clean root that gets only the .deb's Depends: first.
#
# Run by .ci/run. Needs root (debootstrap, chroot, mounting /proc) and the network (the Debian
# mirror). HYPHA_TEST_SUITE (default bookworm) and HYPHA_TEST_MIRROR (default
# http://deb.debian.org/debian) choose the root; HYPHA_PACKAGE_SCRATCH is passed to package.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE="${HYPHA_TEST_SUITE:-bookworm}"
MIRROR="${HYPHA_TEST_MIRROR:-http://deb.debian.org/debian}"
STEP="starting"
step() { STEP="$*"; echo "test-package.sh: $STEP"; }
fail() { echo "test-package.sh: error: $*" >&2; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

[ "$(id -u)" = 0 ] || fail "needs root: debootstrap, chroot and mounting /proc"

WORK="$(mktemp -d /tmp/hypha-test-package.XXXXXX)"
MOUNTS=()
DEBOOTSTRAP_PID=""
on_exit() {
  local status=$?
  if [ -n "$DEBOOTSTRAP_PID" ]; then kill -- "-$DEBOOTSTRAP_PID" 2>/dev/null; wait "$DEBOOTSTRAP_PID" 2>/dev/null; fi
  for mount in "${MOUNTS[@]}"; do umount "$mount" 2>/dev/null || umount -l "$mount" 2>/dev/null || true; done
  rm -rf --one-file-system "$WORK"
  if [ "$status" -ne 0 ]; then echo "test-package.sh: FAILED while $STEP (exit $status)" >&2; fi
  exit "$status"
}
trap on_exit EXIT

step "installing debootstrap and binutils"
export DEBIAN_FRONTEND=noninteractive
if ! command -v debootstrap >/dev/null || ! command -v strings >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq debootstrap binutils >/dev/null
fi

# The clean root is made while the binary builds: one waits on the network, the other on the CPU.
step "making a clean Debian root ($SUITE, minbase) in $WORK/base, in the background"
# In a session of its own, so that a failure here stops it with everything it started.
setsid debootstrap --variant=minbase "$SUITE" "$WORK/base" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 &
DEBOOTSTRAP_PID=$!

step "building the artefacts (scripts/package.sh)"
started=$(now_ms)
scripts/package.sh
BUILD_MS=$(( $(now_ms) - started ))
VERSION="$(tr -d '[:space:]' < VERSION)"
COMMIT="$(git rev-parse HEAD)"
[ -z "$(git status --porcelain --untracked-files=no)" ] || COMMIT="$COMMIT-dirty"
DEB="dist/hypha_${VERSION}_$(dpkg --print-architecture).deb"
TARBALL="dist/hypha-$VERSION-linux-$(uname -m).tar.gz"
for artefact in "$DEB" "$TARBALL"; do [ -s "$artefact" ] || fail "package.sh made no $artefact"; done

step "waiting for debootstrap"
if ! wait "$DEBOOTSTRAP_PID"; then
  DEBOOTSTRAP_PID=""
  tail -20 "$WORK/debootstrap.log" >&2
  fail "debootstrap $SUITE from $MIRROR failed"
fi
DEBOOTSTRAP_PID=""

step "checking the clean root has no Swift"
if chroot "$WORK/base" sh -c 'command -v swift || command -v swiftc' || [ -n "$(find "$WORK/base" -name 'libswift*' -print -quit)" ]; then
  fail "the clean root has a Swift toolchain in it"
fi

# Runs a command in ROOT with a plain environment, as root.
in_root() {
  local root="$1"; shift
  chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}
# Runs a shell command in ROOT as the plain user `tester`, from its home.
as_tester() {
  chroot --userspec=tester:tester "$1" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/tester LANG=C.UTF-8 \
    sh -c "cd && $2"
}
# A copy of the clean root with /proc mounted and a user `tester`.
new_root() {
  local root="$WORK/$1"
  cp -a "$WORK/base" "$root"
  mount -t proc proc "$root/proc"
  MOUNTS+=("$root/proc")
  in_root "$root" useradd --create-home tester
}
# The same checks for either artefact: ROOT, the command as it is called, the binary's real
# path, the folder of the shipped files.
check_hypha() {
  local root="$1" hypha="$2" binary="$3" share="$4" out started

  step "$hypha --version in $root"
  out="$(in_root "$root" "$hypha" --version)"
  [ "$out" = "$VERSION (commit $COMMIT)" ] || fail "hypha --version says '$out', not '$VERSION (commit $COMMIT)'"

  step "ldd $binary in $root"
  out="$(in_root "$root" ldd "$binary")"
  if grep -Eiq 'not found|swift' <<<"$out"; then fail "ldd names a missing or a Swift library:"$'\n'"$out"; fi

  step "hypha demo as root in $root"
  started=$(now_ms)
  # Its log lines (stderr) are shown only when it fails.
  out="$(in_root "$root" sh -c "cd /tmp && $hypha demo --zips 5" 2>"$WORK/demo.log")" \
    || { echo "$out" >&2; cat "$WORK/demo.log" >&2; fail "hypha demo failed"; }
  DEMO_MS=$(( $(now_ms) - started ))
  grep -qF "running $share/workflows/extract-aggregate.yml" <<<"$out" || fail "the demo did not run the shipped workflow:"$'\n'"$out"
  grep -q "^5 reports under" <<<"$out" && grep -q '"groups"' <<<"$out" || fail "the demo made no 5 reports:"$'\n'"$out"

  step "hypha demo as a plain user in $root"
  out="$(as_tester "$root" "$hypha demo --zips 2" 2>"$WORK/demo.log")" \
    || { echo "$out" >&2; cat "$WORK/demo.log" >&2; fail "hypha demo failed as a plain user"; }
  grep -q "^2 reports under" <<<"$out" || fail "the demo made no 2 reports as a plain user:"$'\n'"$out"

  for workflow in "$root$share"/workflows/*.yml; do
    step "hypha validate ${workflow#"$root"} in $root"
    in_root "$root" "$hypha" validate "${workflow#"$root"}" >/dev/null
  done

  step "hypha service install --dry-run in $root"
  out="$(in_root "$root" "$hypha" service install "$share/workflows/job-node.yml" --dry-run --user tester \
           --var work=/var/lib/hypha/work --var inbox=/var/lib/hypha/inbox --state-dir /var/lib/hypha/job-node)"
  grep -qxF "ExecStart=$binary run $share/workflows/job-node.yml --state-dir /var/lib/hypha/job-node --grace 10 --no-progress --var work=/var/lib/hypha/work --var inbox=/var/lib/hypha/inbox" <<<"$out" \
    || fail "the unit does not run $binary on the shipped workflow:"$'\n'"$out"
  [ -f "$root$share/scripts/extract.py" ] || fail "no $share/scripts/extract.py for the unit's jobs"
  # Left to its defaults, the service would write inside the installed files: refused, naming them.
  if out="$(in_root "$root" "$hypha" service install "$share/workflows/job-node.yml" --dry-run --user tester 2>&1)"; then
    fail "service install took folders inside $share:"$'\n'"$out"
  fi
  grep -qF "inside $share" <<<"$out" || fail "service install's refusal does not name $share:"$'\n'"$out"
}

# 1. The Debian package, installed with apt (which installs its Depends: from the mirror).
step "installing $DEB into a clean root"
new_root deb-root
R="$WORK/deb-root"
cp "$DEB" "$R/tmp/hypha.deb"
in_root "$R" apt-get update -qq
in_root "$R" apt-get install -y -qq --no-install-recommends /tmp/hypha.deb > "$WORK/apt.log" 2>&1 || { tail -30 "$WORK/apt.log" >&2; fail "apt could not install $DEB"; }
check_hypha "$R" hypha /usr/bin/hypha /usr/share/hypha
DEB_DEMO_MS=$DEMO_MS

step "removing the package from $R"
in_root "$R" apt-get purge -y -qq hypha > "$WORK/apt.log" 2>&1 || { cat "$WORK/apt.log" >&2; fail "apt could not remove hypha"; }
for path in /usr/bin/hypha /usr/share/hypha /usr/share/doc/hypha; do
  [ ! -e "$R$path" ] || fail "$path is left after apt-get purge hypha: $(find "$R$path" | head -5)"
done

# 2. The tarball, in a second clean root that gets only the .deb's Depends: (without versions).
DEPENDS="$(dpkg-deb -f "$DEB" Depends | sed -e 's/ *([^)]*)//g' -e 's/,/ /g')"
step "installing $TARBALL into a second clean root, after its Depends: $DEPENDS"
new_root tar-root
R="$WORK/tar-root"
in_root "$R" apt-get update -qq
# shellcheck disable=SC2086  # one word per package
in_root "$R" apt-get install -y -qq --no-install-recommends $DEPENDS > "$WORK/apt.log" 2>&1 \
  || { tail -30 "$WORK/apt.log" >&2; fail "apt could not install $DEPENDS"; }
tar -C "$R/opt" -xzf "$TARBALL"
for file in README.md LICENSE docs/PACKAGING.md bin/hypha share/hypha/jobstore/extract.yml; do
  [ -e "$R/opt/hypha-$VERSION/$file" ] || fail "the tarball has no hypha-$VERSION/$file"
done
# Called through a link on PATH, as a user would: the binary still finds the files beside it.
ln -s "/opt/hypha-$VERSION/bin/hypha" "$R/usr/local/bin/hypha"
check_hypha "$R" hypha "/opt/hypha-$VERSION/bin/hypha" "/opt/hypha-$VERSION/share/hypha"
TAR_DEMO_MS=$DEMO_MS

STEP="reporting"
echo "test-package.sh: passed. Figures:"
echo "  scripts/package.sh: $(( BUILD_MS / 1000 )) s (cold when its scratch folder was empty)"
echo "  $DEB: $(stat -c %s "$DEB") bytes ($(du -h "$DEB" | cut -f1))"
echo "  $TARBALL: $(stat -c %s "$TARBALL") bytes ($(du -h "$TARBALL" | cut -f1))"
echo "  hypha demo --zips 5 in the clean root: $DEB_DEMO_MS ms from the .deb, $TAR_DEMO_MS ms from the tarball"
