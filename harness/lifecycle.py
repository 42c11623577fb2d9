"""`with` for the harness's long-lived objects: servers, pools, samplers, writers.

Two shapes recur. A `Closes` object is ready when constructed and `with` closes it however
the block ends; a `Runs` object is started by `with` and stopped on the way out. Either
way the block's exception, if any, propagates unchanged.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closes:
    """`with obj:` returns obj and calls `obj.close()` on the way out."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Runs:
    """`with obj:` calls `obj.start()`, returns obj, and calls `obj.stop()` on the way out."""

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
