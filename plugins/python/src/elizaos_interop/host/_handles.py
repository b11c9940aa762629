"""The actions, providers and evaluators of a loaded plugin, shaped like elizaOS's own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._loaded_plugin import LoadedPlugin, Result

__all__ = ["ActionHandle", "EvaluatorHandle", "ProviderHandle"]


class ActionHandle:
    """One action of a loaded plugin, shaped like an elizaOS ``Action``.

    ``descriptor`` is the action's manifest entry as received, unknown members included
    (``examples``, ...), so host code sees everything the plugin declared.
    """

    __slots__ = ("_plugin", "description", "descriptor", "name", "similes")

    def __init__(self, plugin: LoadedPlugin, descriptor: dict[str, Any]) -> None:
        self._plugin = plugin
        self.descriptor: dict[str, Any] = descriptor
        self.name: str = descriptor["name"]
        self.description: str = descriptor.get("description", "")
        self.similes: list[str] = list(descriptor.get("similes", []))

    async def handler(
        self,
        runtime: Any,
        memory: Mapping[str, Any],
        state: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Result:
        """Invoke the action; over IPC its runtime calls are answered from ``runtime``."""
        return await self._plugin.invoke_action(
            self.name, memory, state, options, timeout=timeout, runtime=runtime
        )

    async def validate(
        self,
        runtime: Any,
        memory: Mapping[str, Any],
        state: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> bool:
        """Ask the plugin whether the action applies to ``memory``."""
        return await self._plugin.validate_action(
            self.name, memory, state, timeout=timeout, runtime=runtime
        )

    def __repr__(self) -> str:
        return f"<action {self.name!r} of {self._plugin.name!r}>"


class ProviderHandle:
    """One provider of a loaded plugin, shaped like an elizaOS ``Provider``.

    ``descriptor`` is the provider's manifest entry as received (``position`` ... included).
    """

    __slots__ = ("_plugin", "description", "descriptor", "dynamic", "name", "private")

    def __init__(self, plugin: LoadedPlugin, descriptor: dict[str, Any]) -> None:
        self._plugin = plugin
        self.descriptor: dict[str, Any] = descriptor
        self.name: str = descriptor["name"]
        self.description: str | None = descriptor.get("description")
        self.dynamic: bool = bool(descriptor.get("dynamic", False))
        self.private: bool = bool(descriptor.get("private", False))

    async def get(
        self,
        runtime: Any,
        memory: Mapping[str, Any],
        state: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Result:
        """Run the provider; over IPC its runtime calls are answered from ``runtime``."""
        return await self._plugin.get_provider(
            self.name, memory, state, timeout=timeout, runtime=runtime
        )

    def __repr__(self) -> str:
        return f"<provider {self.name!r} of {self._plugin.name!r}>"


class EvaluatorHandle:
    """One evaluator of a loaded plugin, shaped like an elizaOS ``Evaluator``.

    ``descriptor`` is the evaluator's manifest entry as received (``examples`` ... included).
    """

    __slots__ = ("_plugin", "always_run", "description", "descriptor", "name", "similes")

    def __init__(self, plugin: LoadedPlugin, descriptor: dict[str, Any]) -> None:
        self._plugin = plugin
        self.descriptor: dict[str, Any] = descriptor
        self.name: str = descriptor["name"]
        self.description: str = descriptor.get("description", "")
        self.always_run: bool = bool(descriptor.get("alwaysRun", False))
        self.similes: list[str] = list(descriptor.get("similes", []))

    async def handler(
        self,
        runtime: Any,
        memory: Mapping[str, Any],
        state: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Result | None:
        """Run the evaluator; ``None`` means it had nothing to say."""
        return await self._plugin.invoke_evaluator(
            self.name, memory, state, timeout=timeout, runtime=runtime
        )

    async def validate(
        self,
        runtime: Any,
        memory: Mapping[str, Any],
        state: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> bool:
        """Ask the plugin whether the evaluator applies to ``memory``."""
        return await self._plugin.validate_evaluator(
            self.name, memory, state, timeout=timeout, runtime=runtime
        )

    def __repr__(self) -> str:
        return f"<evaluator {self.name!r} of {self._plugin.name!r}>"
