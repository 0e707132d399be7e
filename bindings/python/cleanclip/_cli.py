"""The `cleanclip` console script: runs the cleanclip-cli tool, the same program as the
repository's `bin/cleanclip`, so every command, flag and default is the tool's own (a Python copy
of its commands would drift from it). The wheel ships it as cleanclip/bin/cleanclip-cli; from a
source tree, the repository's release build is used (`make build`)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from . import _lib

TOOL = "cleanclip-cli"


def tool_path() -> Path | None:
    """The bundled tool, else (in a source tree) the repository's build of it, else None."""
    candidates = [Path(__file__).resolve().parent / "bin" / TOOL]
    repo = _lib.source_tree_root()
    if repo is not None:
        build = os.environ.get("CLEANCLIP_BUILD_DIR")
        if build:
            candidates.append((Path(build) if os.path.isabs(build) else repo / build) / "release" / TOOL)
        candidates.append(repo / ".build" / "release" / TOOL)
    return next((p for p in candidates if p.is_file() and os.access(p, os.X_OK)), None)


def main(argv: list[str] | None = None) -> None:
    path = tool_path()
    if path is None:
        sys.exit(f"cleanclip: the {TOOL} tool is not installed with this package (install it with "
                 "`pip install ./bindings/python`, or run `make build` in a source tree)")
    args = sys.argv[1:] if argv is None else list(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(str(path), [str(path), *args])


if __name__ == "__main__":
    main()
