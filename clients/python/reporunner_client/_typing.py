"""TypedDict and NotRequired on every Python the client supports (3.9 and later)."""

import sys
from typing import TypedDict

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # pragma: no cover - older Pythons read the annotations as strings only

    class NotRequired:  # noqa: D101 - a stand-in with the same subscript syntax
        def __class_getitem__(cls, item):
            return item


__all__ = ["NotRequired", "TypedDict"]
