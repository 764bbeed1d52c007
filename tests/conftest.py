"""Shared pytest set-up: tests marked `root` need root (netns, veth, raw sockets).

CI runs as root, so there they always run; elsewhere they are skipped with that reason.

fdirctl's writer locks of the test switches (random ports) go to a directory of this run,
removed at its end: tests that stop a writer part-way on purpose leave its mark there, not
in the machine's /tmp/fdirctl-locks (break-it 3 found six such marks per full run).
"""
import os
import shutil
import tempfile

import pytest

_LOCKS = None
if "FDIRCTL_LOCK_DIR" not in os.environ:
    _LOCKS = os.environ["FDIRCTL_LOCK_DIR"] = tempfile.mkdtemp(prefix="fdirctl-locks-pytest-")


def pytest_sessionfinish(session, exitstatus):
    if _LOCKS is not None:
        shutil.rmtree(_LOCKS, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (network namespaces / raw sockets); CI runs as root")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)
