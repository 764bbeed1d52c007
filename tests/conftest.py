"""Shared pytest set-up: tests marked `root` need root (netns, veth, raw sockets).

CI runs as root, so there they always run; elsewhere they are skipped with that reason.
"""
import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (network namespaces / raw sockets); CI runs as root")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)
