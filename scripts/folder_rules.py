"""The folder rules the job scripts share: an output folder's last component must name a
folder (not empty, '.' or '..'), and with --within every folder must resolve (symbolic links
followed) to a path strictly inside the --within folder."""

import os


def folder_refusal(label, path, within, check_last=True):
    """Why the folder `path` (called `label` in messages) must not be used, or None if it may."""
    if check_last:
        last = os.path.basename(path)
        if last in ("", ".", ".."):
            what = "empty" if not last else repr(last)
            return f"refusing {label} {path!r}: its last component is {what}"
    if within is None:
        return None
    real, root = os.path.realpath(path), os.path.realpath(within)
    if real == root:
        return f"refusing {label} {path!r}: it resolves to {real!r} which is --within {within!r} itself"
    if os.path.commonpath([real, root]) != root:
        return f"refusing {label} {path!r}: it resolves to {real!r} which is outside --within {within!r}"
    return None
