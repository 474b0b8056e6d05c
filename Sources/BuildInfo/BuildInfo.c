#include "BuildInfo.h"

#ifndef HYPHA_COMMIT
#define HYPHA_COMMIT "unknown"
#endif

// The VERSION file itself, read by the compiler (#embed, C23), so the version is written in
// one place and a build after it changes picks it up.
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wc23-extensions"
static const char version[] = {
#embed "../../VERSION"
    , 0};
#pragma clang diagnostic pop

const char *hypha_build_version(void) { return version; }

const char *hypha_build_commit(void) { return HYPHA_COMMIT; }
