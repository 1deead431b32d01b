"""Patch points: the exact pieces of moto code the local cloud replaces, checked before they are touched.

A patch point names a method of a class (target "Class.method") or a module-level function (target
"function"), with the parameters and the sha256 of the source its patch was written for. `check()` verifies
the moto version, the parameters and the hash (and, for a function, that every module which imported it by
name still holds it) and raises PatchPointMoved otherwise, so a moto upgrade fails loudly instead of
silently running a patch written for different code.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MOTO_VERSION = "5.2.5"


class PatchPointMoved(RuntimeError):
    """moto no longer has the code a patch was written for."""


@dataclass(frozen=True)
class PatchPoint:
    module: str
    target: str  # "Class.method" or "function"
    params: tuple[str, ...]
    source_sha256: str
    # Modules that did `from <module> import <function>` hold their own reference: patched as well.
    imported_by: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.module}.{self.target}"

    @property
    def _attr(self) -> str:
        return self.target.rpartition(".")[2]

    def _owner(self) -> Any:
        """The class or module that holds the target."""
        try:
            module = importlib.import_module(self.module)
        except ImportError as exc:
            raise PatchPointMoved(f"{self.name}: module not found ({exc})") from exc
        cls, dot, _ = self.target.rpartition(".")
        if not dot:
            return module
        owner = vars(module).get(cls)
        if not isinstance(owner, type):
            raise PatchPointMoved(f"{self.name}: class {cls} not found in {self.module}")
        return owner

    def original(self) -> Callable[..., Any]:
        """The unpatched function; after patching it is kept on the replacement as __localcloud_original__."""
        # Defined on the class itself, not inherited: a patch set on a subclass would miss the other subclasses.
        fn = vars(self._owner()).get(self._attr)
        if fn is None:
            raise PatchPointMoved(f"{self.name}: no longer defined there")
        if isinstance(fn, classmethod):  # checked and replaced as the function it wraps (params start with cls)
            fn = fn.__func__
        return getattr(fn, "__localcloud_original__", fn)

    def check(self) -> Callable[..., Any]:
        """Verify moto version, parameters, source hash and importers; return the original."""
        import moto

        if moto.__version__ != MOTO_VERSION:
            raise PatchPointMoved(
                f"{self.name}: patches were written for moto {MOTO_VERSION}, found {moto.__version__}; "
                "re-read the patched code and update the patch and its PatchPoint"
            )
        fn = self.original()
        params = tuple(inspect.signature(fn).parameters)
        if params != self.params:
            raise PatchPointMoved(f"{self.name}: parameters are {params}, patch expects {self.params}")
        digest = hashlib.sha256(inspect.getsource(fn).encode("utf-8")).hexdigest()
        if digest != self.source_sha256:
            raise PatchPointMoved(
                f"{self.name}: source changed (sha256 {digest}, patch written for {self.source_sha256})"
            )
        for module_name in self.imported_by:
            held = vars(importlib.import_module(module_name)).get(self._attr)
            if getattr(held, "__localcloud_original__", held) is not fn:
                raise PatchPointMoved(f"{self.name}: {module_name}.{self._attr} is not the function being patched")
        return fn

    def install(self, replacement: Callable[..., Any]) -> None:
        """Check, then put ``replacement`` where the original was (and in every importer)."""
        original = self.check()
        replacement.__localcloud_original__ = original  # type: ignore[attr-defined]
        replacement.__qualname__ = self.target
        installed: Any = replacement
        if isinstance(vars(self._owner()).get(self._attr), classmethod):
            installed = classmethod(replacement)
        setattr(self._owner(), self._attr, installed)
        for module_name in self.imported_by:
            setattr(importlib.import_module(module_name), self._attr, replacement)
