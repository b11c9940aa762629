"""InMemoryRuntime (protocol.md 11.5): an elizaOS-shaped agent runtime over plain tables.

Built from a World (``docs/schemas/runtime-world.schema.json``). Pass it as the ``runtime`` of
a call (``handler(runtime, ...)`` or ``runtime=``) and a plugin's runtime requests are answered
from it. It records every call in :attr:`InMemoryRuntime.calls`, raises ``RuntimeError(message)``
for the methods named in the World's ``fail`` and lacks the methods named in ``omit`` (so a
plugin calling one gets -32601). For tests and for trying a plugin without an agent.

Every method of 11.3 is here, ``async``, under its elizaOS camelCase name with a snake_case
alias (``getEntityById`` / ``get_entity_by_id``). Lookups by ``id`` answer ``None`` when nothing
matches; every answer is a copy, so callers never hold the runtime's own rows.
"""

from __future__ import annotations

import copy
import inspect
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from ..plugin._runtime_proxy import snake_case
from ._in_memory_tables import (
    ABSENT,
    DEFAULT_TABLE,
    RuntimeTables,
    Stored,
    field,
    list_of,
    obj,
    str_or_none,
)

__all__ = ["InMemoryRuntime"]

_CONVERSATION_LENGTH = 32
"""elizaOS's default conversation length."""


class InMemoryRuntime(RuntimeTables):
    """An in-memory agent runtime built from a World dict (protocol.md 11.5).

    ``calls`` is every call made, in order, as ``{"method": <wire name>, "args": [...]}``
    (methods in ``omit`` are never called: they are absent, ``AttributeError``).
    """

    _omitted_classes: ClassVar[dict[frozenset[str], type[InMemoryRuntime]]] = {}

    def __init__(self, world: Mapping[str, Any] | None = None) -> None:
        world = dict(world or {})
        self.agentId: str | None = str_or_none(world.get("agentId"))
        self.character: dict[str, Any] = copy.deepcopy(obj(world.get("character")))
        self.calls: list[dict[str, Any]] = []
        self._settings: dict[str, Any] = copy.deepcopy(obj(world.get("settings")))
        self._cache: dict[str, Any] = copy.deepcopy(obj(world.get("cache")))
        self._rooms: list[dict[str, Any]] = copy.deepcopy(list_of(world.get("rooms")))
        self._worlds: list[dict[str, Any]] = copy.deepcopy(list_of(world.get("worlds")))
        self._entities: list[dict[str, Any]] = copy.deepcopy(list_of(world.get("entities")))
        self._memories: list[Stored] = [
            Stored(m, str_or_none(m.get("tableName")) or DEFAULT_TABLE)
            for m in copy.deepcopy(list_of(world.get("memories")))
            if isinstance(m, dict)
        ]
        """Oldest first: the World's memories in the order given, then created ones."""
        self._tasks: list[dict[str, Any]] = copy.deepcopy(list_of(world.get("tasks")))
        self._components: list[dict[str, Any]] = []
        self._relationships: list[dict[str, Any]] = []
        self._participants: dict[str, list[str]] = {}
        """Room id -> entity ids, in the order they joined."""
        self._user_states: dict[tuple[str, str], Any] = {}
        self._models: dict[str, Any] = copy.deepcopy(obj(world.get("models")))
        self._failures: dict[str, str] = {k: str(v) for k, v in obj(world.get("fail")).items()}
        self._plugins: list[Any] = []
        for room in self._rooms:
            for entity in list_of(room.get("participants")):
                if isinstance(entity, str):
                    self._add_participant(str_or_none(room.get("id")) or "", entity)
        omit = frozenset(str(name) for name in list_of(world.get("omit")))
        if omit:
            self.__class__ = self._without(omit)

    @classmethod
    def _without(cls, omit: frozenset[str]) -> type[InMemoryRuntime]:
        """A subclass on which the omitted methods (both spellings) are absent."""
        found = cls._omitted_classes.get(omit)
        if found is None:

            def absent(name: str) -> property:
                def get(self: InMemoryRuntime) -> Any:
                    raise AttributeError(
                        f"this InMemoryRuntime omits {name!r} (the World's 'omit' list)"
                    )

                return property(get)

            members: dict[str, Any] = {}
            for name in omit:
                members[name] = absent(name)
                members[snake_case(name)] = absent(name)
            found = type(cls.__name__, (cls,), members)
            cls._omitted_classes[omit] = found
        return found

    @property
    def agent_id(self) -> str | None:
        """The snake_case spelling of ``agentId``."""
        return self.agentId

    # -- plumbing ----------------------------------------------------------------------------

    async def registerPlugin(self, plugin: Any) -> None:
        """Makes a plugin's providers part of ``composeState`` (elizaOS ``registerPlugin``).

        ``plugin`` is a loaded host plugin object, or anything with ``providers`` whose items
        have ``name`` and ``get(runtime, message, state)``.
        """
        self._plugins.append(plugin)

    register_plugin = registerPlugin

    # -- memories ------------------------------------------------------------------------------

    def _list_memories(self, keep: Callable[[Stored], bool], count: Any) -> list[dict[str, Any]]:
        """Newest first (the reverse of creation order), cut to ``count``."""
        limit = count if type(count) is int and count >= 0 else None
        out: list[dict[str, Any]] = []
        for stored in reversed(self._memories):
            if limit is not None and len(out) >= limit:
                break
            if keep(stored):
                out.append(stored.memory)
        return copy.deepcopy(out)

    async def getMemories(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """elizaOS ``getMemories({roomId?, entityId?, count?, tableName?})``, newest first."""
        self._enter("getMemories", [params])
        p = obj(params)
        table = str_or_none(p.get("tableName"))
        return self._list_memories(
            lambda m: (
                ("roomId" not in p or m.memory.get("roomId") == p["roomId"])
                and ("entityId" not in p or m.memory.get("entityId") == p["entityId"])
                and (table is None or m.table == table)
            ),
            p.get("count"),
        )

    async def getMemoryById(self, id: str) -> dict[str, Any] | None:
        self._enter("getMemoryById", [id])
        found = next((m.memory for m in self._memories if m.memory.get("id") == id), None)
        return copy.deepcopy(found)

    async def getMemoriesByRoomIds(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """elizaOS ``getMemoriesByRoomIds({roomIds, tableName?, limit?})``, newest first."""
        self._enter("getMemoriesByRoomIds", [params])
        p = obj(params)
        rooms = [r for r in list_of(p.get("roomIds")) if isinstance(r, str)]
        table = str_or_none(p.get("tableName"))
        return self._list_memories(
            lambda m: m.memory.get("roomId") in rooms and (table is None or m.table == table),
            p.get("limit"),
        )

    async def searchMemories(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """elizaOS ``searchMemories({tableName, roomId?, query?, count?})`` without embeddings:
        a memory matches when its ``content.text`` contains ``query`` (case-insensitive)."""
        self._enter("searchMemories", [params])
        p = obj(params)
        query = str_or_none(p.get("query"))
        table = str_or_none(p.get("tableName"))

        def keep(m: Stored) -> bool:
            if "roomId" in p and m.memory.get("roomId") != p["roomId"]:
                return False
            if table is not None and m.table != table:
                return False
            text = str_or_none(obj(m.memory.get("content")).get("text"))
            return query is None or (text is not None and query.lower() in text.lower())

        return self._list_memories(keep, p.get("count"))

    async def createMemory(
        self, memory: dict[str, Any], tableName: str, unique: bool | None = ABSENT
    ) -> str:
        """Append a memory (the newest) and return its id (its own, else a new UUID)."""
        self._enter("createMemory", [memory, tableName, unique])
        m = copy.deepcopy(obj(memory))
        memory_id = str_or_none(m.get("id")) or str(uuid.uuid4())
        m["id"] = memory_id
        if type(m.get("createdAt")) not in (int, float):
            m["createdAt"] = int(time.time() * 1000)
        table = tableName if isinstance(tableName, str) else DEFAULT_TABLE
        self._memories.append(Stored(m, table))
        return memory_id

    async def updateMemory(self, memory: dict[str, Any]) -> bool:
        self._enter("updateMemory", [memory])
        target = obj(memory).get("id")
        for stored in self._memories:
            if stored.memory.get("id") == target:
                stored.memory = {**stored.memory, **copy.deepcopy(obj(memory))}
                return True
        return False

    async def deleteMemory(self, memoryId: str) -> None:
        self._enter("deleteMemory", [memoryId])
        self._memories = [m for m in self._memories if m.memory.get("id") != memoryId]

    async def getConversationLength(self) -> int:
        self._enter("getConversationLength", [])
        return _CONVERSATION_LENGTH

    async def queueEmbeddingGeneration(
        self, memory: dict[str, Any], priority: str | None = ABSENT
    ) -> None:
        """Recorded only: there is no embedding model here."""
        self._enter("queueEmbeddingGeneration", [memory, priority])

    # -- tasks ---------------------------------------------------------------------------------

    async def getTasks(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """elizaOS ``getTasks({roomId?, entityId?, tags?})``: tasks with every given tag."""
        self._enter("getTasks", [params])
        p = obj(params)
        tags = list_of(p.get("tags"))
        return copy.deepcopy(
            [
                t
                for t in self._tasks
                if ("roomId" not in p or t.get("roomId") == p["roomId"])
                and ("entityId" not in p or t.get("entityId") == p["entityId"])
                and all(tag in list_of(t.get("tags")) for tag in tags)
            ]
        )

    async def getTask(self, id: str) -> dict[str, Any] | None:
        self._enter("getTask", [id])
        return copy.deepcopy(self._by_id(self._tasks, id))

    async def getTasksByName(self, name: str) -> list[dict[str, Any]]:
        self._enter("getTasksByName", [name])
        return copy.deepcopy([t for t in self._tasks if t.get("name") == name])

    async def createTask(self, task: dict[str, Any]) -> str:
        """Add a task and return its id (its own, else a new UUID)."""
        self._enter("createTask", [task])
        t = copy.deepcopy(obj(task))
        task_id = str_or_none(t.get("id")) or str(uuid.uuid4())
        self._tasks.append({**t, "id": task_id})
        return task_id

    async def updateTask(self, id: str, task: dict[str, Any]) -> None:
        self._enter("updateTask", [id, task])
        for i, existing in enumerate(self._tasks):
            if existing.get("id") == id:
                self._tasks[i] = {**existing, **copy.deepcopy(obj(task)), "id": id}
                return

    async def deleteTask(self, id: str) -> None:
        self._enter("deleteTask", [id])
        self._tasks = [t for t in self._tasks if t.get("id") != id]

    # -- models, state, events ------------------------------------------------------------------

    async def useModel(self, modelType: str, params: Any = ABSENT) -> Any:
        """The World's canned answer for the model type, else ``models.default``."""
        self._enter("useModel", [modelType, params])
        if modelType in self._models:
            return copy.deepcopy(self._models[modelType])
        if "default" in self._models:
            return copy.deepcopy(self._models["default"])
        raise RuntimeError(f"no canned model for {modelType}")

    async def composeState(
        self,
        message: dict[str, Any],
        includeList: list[str] | None = ABSENT,
        onlyInclude: bool | None = ABSENT,
        skipCache: bool | None = ABSENT,
    ) -> dict[str, Any]:
        """Run the registered plugins' providers and merge their ``text``, ``values``, ``data``.

        elizaOS rules: without ``onlyInclude``, every provider that is neither private nor
        dynamic, plus those named in ``includeList``; with it, only those named. A provider
        that fails is left out. A provider may be a plugin across the boundary, so this is
        re-entrant: it calls back into a plugin while that plugin's call is in flight.
        """
        self._enter("composeState", [message, includeList, onlyInclude, skipCache])
        include = {n for n in list_of(includeList) if isinstance(n, str)}
        texts: list[str] = []
        values: dict[str, Any] = {}
        data: dict[str, Any] = {}
        for plugin in self._plugins:
            for provider in list_of(field(plugin, "providers")):
                name = field(provider, "name")
                if onlyInclude is True:
                    wanted = name in include
                else:
                    hidden = field(provider, "private") is True or (
                        field(provider, "dynamic") is True
                    )
                    wanted = name in include or not hidden
                if not wanted:
                    continue
                get = field(provider, "get")
                if not callable(get):
                    continue
                try:
                    result = get(self, message, {})
                    if inspect.isawaitable(result):
                        result = await result
                except Exception:  # elizaOS leaves a failing provider out
                    continue
                text = field(result, "text")
                if isinstance(text, str) and text:
                    texts.append(text)
                provided_values = field(result, "values")
                if isinstance(provided_values, Mapping):
                    values.update(provided_values)
                provided_data = field(result, "data")
                if isinstance(provided_data, Mapping):
                    data.update(provided_data)
        return copy.deepcopy({"values": values, "data": data, "text": "\n".join(texts)})

    async def emitEvent(self, event: str | list[str], params: Any = ABSENT) -> None:
        self._enter("emitEvent", [event, params])

    async def log(self, params: Any) -> None:
        self._enter("log", [params])

    # -- snake_case aliases (the Python spelling of each wire name, 11.3) ----------------

    get_memories = getMemories
    get_memory_by_id = getMemoryById
    get_memories_by_room_ids = getMemoriesByRoomIds
    search_memories = searchMemories
    create_memory = createMemory
    update_memory = updateMemory
    delete_memory = deleteMemory
    get_conversation_length = getConversationLength
    queue_embedding_generation = queueEmbeddingGeneration
    get_tasks = getTasks
    get_task = getTask
    get_tasks_by_name = getTasksByName
    create_task = createTask
    update_task = updateTask
    delete_task = deleteTask
    use_model = useModel
    compose_state = composeState
    emit_event = emitEvent
