#ifndef HYPHA_BUILD_INFO_H
#define HYPHA_BUILD_INFO_H

/// Hypha's version: the VERSION file at the package's root, as it was when this was built
/// (with its final newline).
const char *hypha_build_version(void);

/// The commit this was built from: the HYPHA_COMMIT environment variable of the build
/// (scripts/package.sh sets it; Package.swift passes it on), else "unknown".
const char *hypha_build_commit(void);

#endif
