"""A build that warned is never taken as up to date by the next one.

Sphinx rebuilds only the pages whose sources changed since the saved environment. After a build
that warned (a failed build under ``-W``), the next build would find nothing to do, pass, and
serve the pages that warned, with their warnings gone. Sphinx already drops the saved
environment when a build raises; this does the same when a build warned, so the next build
reads every page again (notebooks come from the execution cache, which never keeps a failed run).
"""

from __future__ import annotations

from typing import Any

from sphinx.application import ENV_PICKLE_FILENAME, Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)


def forget_if_warned(app: Sphinx, exception: Exception | None) -> None:
    """Delete the saved environment of a build that warned or failed."""
    if exception is None and app._warncount == 0:
        return
    saved = app.doctreedir / ENV_PICKLE_FILENAME
    if saved.is_file():
        saved.unlink()
        logger.info("this build warned or failed: the next build reads every page again")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("build-finished", forget_if_warned)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
