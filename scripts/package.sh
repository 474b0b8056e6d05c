#!/usr/bin/env bash
# Makes Hypha's release artefacts from this checkout (docs/PACKAGING.md):
#
#   dist/hypha-VERSION-linux-ARCH.tar.gz   hypha-VERSION/bin/hypha, share/hypha/{workflows,jobstore,scripts},
#                                          README.md, docs/, LICENSE
#   dist/hypha_VERSION_DEBARCH.deb         /usr/bin/hypha, /usr/share/hypha/..., /usr/share/doc/hypha/...
#
# hypha is built in release with the Swift runtime and Foundation linked in (--static-swift-stdlib),
# so neither needs a Swift toolchain where it is installed. The .deb's Depends: are found, not
# written by hand: the libraries the binary links (ldd) and loads itself (dlopen names in the
# binary), and the Python the job scripts run with, each mapped to its Debian package (dpkg -S).
#
# Needs: swift, dpkg-deb and dpkg-query (Debian or Ubuntu), binutils, python3, git (for the commit).
# HYPHA_PACKAGE_SCRATCH: the build folder (default .build/package, apart from `swift build`'s own,
# so a build here does not hold the shared .build's lock).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

say() { echo "package.sh: $*"; }
fail() { echo "package.sh: error: $*" >&2; exit 1; }
size() { du -h "$1" | cut -f1; }

for tool in swift dpkg-deb dpkg-query ldd strings strip tar gzip /usr/bin/python3; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install binutils dpkg python3, and a Swift toolchain)"
done

VERSION="$(tr -d '[:space:]' < VERSION)"
[[ "$VERSION" =~ ^[0-9][0-9A-Za-z.+~]*$ ]] || fail "VERSION holds '$VERSION', not a version Debian takes (a digit, then letters, digits, .+~)"
if git rev-parse --git-dir >/dev/null 2>&1; then
  COMMIT="$(git rev-parse HEAD)"
  # A build from changed files says so: it is not that commit.
  if [ -n "$(git status --porcelain --untracked-files=no)" ]; then COMMIT="$COMMIT-dirty"; fi
  EPOCH="$(git log -1 --format=%ct)"
else
  COMMIT=unknown
  EPOCH="$(date +%s)"
fi
ARCH="$(uname -m)"
DEB_ARCH="$(dpkg --print-architecture)"
SCRATCH="${HYPHA_PACKAGE_SCRATCH:-$ROOT/.build/package}"
DIST="$ROOT/dist"
NAME="hypha-$VERSION"
TARBALL="$DIST/$NAME-linux-$ARCH.tar.gz"
DEB="$DIST/hypha_${VERSION}_$DEB_ARCH.deb"
say "hypha $VERSION, commit $COMMIT, for $ARCH ($DEB_ARCH)"

# 1. The binary.
say "1/5 building hypha (release, --static-swift-stdlib) in $SCRATCH"
started=$(date +%s)
build=(swift build -c release --static-swift-stdlib --product hypha --scratch-path "$SCRATCH")
mkdir -p "$SCRATCH"
log="$SCRATCH/package-build.log"
HYPHA_COMMIT="$COMMIT" "${build[@]}" > "$log" 2>&1 &
builder=$!
# A cold build takes minutes: say how far it is once a minute.
while kill -0 "$builder" 2>/dev/null; do
  for _ in $(seq 60); do kill -0 "$builder" 2>/dev/null && sleep 1; done
  if kill -0 "$builder" 2>/dev/null; then
    say "   $(( $(date +%s) - started )) s: $(grep -o '^\[[0-9]*/[0-9]*\]' "$log" | tail -1)"
  fi
done
wait "$builder" || { tail -40 "$log" >&2; fail "swift build failed; its whole output is in $log"; }
BIN="$(HYPHA_COMMIT="$COMMIT" "${build[@]}" --show-bin-path)/hypha"
say "   built $BIN in $(( $(date +%s) - started )) s"
"$BIN" --version | grep -qF "$VERSION (commit $COMMIT)" || fail "$BIN --version says '$("$BIN" --version)', not $VERSION (commit $COMMIT)"

# 2. What it needs from Debian.
say "2/5 finding what hypha and its job scripts need from Debian"
LIBS="$(ldd "$BIN")"
if grep -Eiq 'not found|swift|libFoundation|libdispatch|libBlocksRuntime|_FoundationICU' <<<"$LIBS"; then
  fail "hypha links a library a Debian machine lacks (a Swift toolchain's, or one not found):"$'\n'"$LIBS"
fi
# The package that owns a file. A path is looked up as ldd or ldconfig names it, then with links
# resolved; dpkg knows a merged-/usr file by either /lib or /usr/lib.
owner() {
  local path="$1" real found candidate
  real="$(readlink -f "$path")"
  for candidate in "$path" "$real" "${real#/usr}" "/usr$path"; do
    if found="$(dpkg-query -S "$candidate" 2>/dev/null)"; then
      cut -d: -f1 <<<"$found" | head -1
      return
    fi
  done
  fail "no Debian package owns $path ($real): cannot say what to depend on"
}
# Each package depended on, and why.
declare -A WHY=()
add() { WHY[$1]="${WHY[$1]:+${WHY[$1]}, }$2"; }
while read -r lib path; do
  package="$(owner "$path")"
  add "$package" "$lib"
done < <(awk '$2 == "=>" { print $1, $3 } $1 ~ /^\// { print $1, $1 }' <<<"$LIBS")
# Libraries hypha opens itself (the Arrow codec's lz4 and zstd): the sonames written in the binary
# that ldd did not list, each found beside libc, else where ldconfig knows it.
LIBDIR="$(dirname "$(awk '$1 ~ /^libc\.so/ { print $3 }' <<<"$LIBS")")"
SONAMES="$(strings -a "$BIN" | grep -Ex 'lib[A-Za-z0-9_+-]+\.so\.[0-9]+' | sort -u || true)"
for soname in $SONAMES; do
  grep -qF "$soname " <<<"$LIBS" && continue
  path="$LIBDIR/$soname"
  [ -e "$path" ] || path="$(ldconfig -p | awk -v n="$soname" '$1 == n { print $NF; exit }')"
  [ -n "$path" ] || fail "hypha loads $soname at run time, which is not installed here: install it so its package can be named"
  package="$(owner "$path")"
  add "$package" "$soname (dlopen)"
done
# The job scripts run with python3 (jobstore/*.yml, `hypha demo`): its package, and the package of
# every module they import that is not part of Python's standard library.
package="$(owner /usr/bin/python3)"
add "$package" "python3 (the job scripts)"
MODULES="$(/usr/bin/python3 - scripts <<'EOF'
import ast, importlib.util, pathlib, sys
folder = pathlib.Path(sys.argv[1])
local = {p.stem for p in folder.rglob("*.py")}
names = set()
for script in folder.rglob("*.py"):
    for node in ast.walk(ast.parse(script.read_text(), str(script))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
for name in sorted(names - local):
    spec = importlib.util.find_spec(name)
    if spec is None:
        sys.exit(f"scripts/ imports {name}, which python3 here cannot find: install it so its package can be named")
    if spec.origin not in (None, "built-in", "frozen"):
        print(name, spec.origin)
EOF
)"
while read -r module path; do
  [ -n "$module" ] || continue
  package="$(owner "$path")"
  # The standard library's packages come with python3.
  [[ "$package" =~ ^(lib)?python3(\.[0-9]+)?(-minimal|-stdlib)?$ ]] && continue
  add "$package" "$module (imported by scripts/)"
done <<<"$MODULES"
# python3-minimal holds /usr/bin/python3, but the scripts need the standard library: python3.
if [ -n "${WHY[python3-minimal]:-}" ]; then
  add python3 "${WHY[python3-minimal]}"
  unset 'WHY[python3-minimal]'
fi
# Each at least the version this was built against (the upstream part of the version here).
DEPENDS=""
for package in $(printf '%s\n' "${!WHY[@]}" | sort); do
  version="$(dpkg-query -W -f='${Version}' "$package")"
  DEPENDS="${DEPENDS:+$DEPENDS, }$package (>= ${version%-*})"
  say "   $package (>= ${version%-*}): ${WHY[$package]}"
done

# 3. The files both artefacts ship, in one tree per artefact.
STAGE="$(mktemp -d "${TMPDIR:-/tmp}/hypha-package.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
# The shipped data: the files of workflows/, jobstore/ and scripts/ (not these shell scripts), as
# git tracks them, so no state folder, compiled Python or other leftover of a run goes along.
shipped_files() {
  if git rev-parse --git-dir >/dev/null 2>&1; then
    git ls-files workflows jobstore scripts
  else
    find workflows jobstore scripts \( -name __pycache__ -o -name .hypha \) -prune -o -type f ! -name '*.pyc' -print
  fi | grep -v '\.sh$'
}
copy_shared() {
  shipped_files | while read -r file; do
    install -D -m "$([ -x "$file" ] && echo 755 || echo 644)" "$file" "$1/$file"
  done
}
copy_docs() {
  mkdir -p "$1/docs"
  cp README.md "$1/"
  cp docs/*.md docs/*.png "$1/docs/"
}
install -D -m 755 "$BIN" "$STAGE/tar/$NAME/bin/hypha"
# The debug information goes; the symbols stay, so gdb and perf still name functions.
strip --strip-debug "$STAGE/tar/$NAME/bin/hypha"
say "3/5 staging: hypha $(size "$BIN") as built, $(size "$STAGE/tar/$NAME/bin/hypha") without debug information"
copy_shared "$STAGE/tar/$NAME/share/hypha"
copy_docs "$STAGE/tar/$NAME"
cp LICENSE "$STAGE/tar/$NAME/"

DEBROOT="$STAGE/deb"
install -D -m 755 "$STAGE/tar/$NAME/bin/hypha" "$DEBROOT/usr/bin/hypha"
copy_shared "$DEBROOT/usr/share/hypha"
copy_docs "$DEBROOT/usr/share/doc/hypha"
cp LICENSE "$DEBROOT/usr/share/doc/hypha/copyright"
chmod -R u+rwX,go+rX,go-w "$STAGE"

# 4. The tarball.
say "4/5 making $TARBALL"
mkdir -p "$DIST"
rm -f "$TARBALL"
tar -C "$STAGE/tar" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" -cf - "$NAME" | gzip -n -9 > "$TARBALL"

# 5. The Debian package.
say "5/5 making $DEB"
mkdir -p "$DEBROOT/DEBIAN"
MAINTAINER="$(git log -1 --format='%an <%ae>' 2>/dev/null || true)"
cat > "$DEBROOT/DEBIAN/control" <<EOF
Package: hypha
Version: $VERSION
Architecture: $DEB_ARCH
Maintainer: ${MAINTAINER:-Hypha maintainers <hypha@localhost>}
Installed-Size: $(du -sk --exclude=DEBIAN "$DEBROOT" | cut -f1)
Depends: $DEPENDS
Suggests: systemd
Section: utils
Priority: optional
Description: event-driven workflow engine (watch for data, render job specs, run the jobs)
 Hypha runs workflows described in YAML: a DAG of sources, transforms and sinks joined
 by typed channels. A new file or an Arrow message becomes a job spec rendered from a
 template, run on this machine or on a Bacalhau cluster.
 .
 The example workflows, job templates and job scripts are in /usr/share/hypha; try
 them with "hypha demo". "hypha service install" runs a workflow as a systemd service.
EOF
# Python writes compiled copies of the scripts it imports beside them when it may (a job run
# as root): they are removed with the package, which did not ship them.
cat > "$DEBROOT/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ -d /usr/share/hypha ]; then
  find /usr/share/hypha -depth -type d -name __pycache__ -exec rm -rf {} +
fi
EOF
chmod 755 "$DEBROOT/DEBIAN/prerm"
find "$DEBROOT" -exec touch -h -d "@$EPOCH" {} +
rm -f "$DEB"
dpkg-deb --root-owner-group -Zxz --build "$DEBROOT" "$DEB" >/dev/null

say "done:"
say "   $TARBALL  $(size "$TARBALL")"
say "   $DEB  $(size "$DEB")"
say "   Depends: $DEPENDS"
