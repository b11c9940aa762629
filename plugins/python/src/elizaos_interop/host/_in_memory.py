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
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from ..plugin._runtime_proxy import snake_case

__all__ = ["InMemoryRuntime"]

_DEFAULT_TABLE = "messages"
_CONVERSATION_LENGTH = 32
"""elizaOS's default conversation length."""


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


class _Absent:
    """The default of an optional parameter: an argument the caller did not pass."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
"""Default of optional parameters, so ``calls`` tells an omitted argument from ``None``."""


def _given(value: Any) -> Any:
    """``value``, or ``None`` for an argument that was not passed."""
    return None if value is ABSENT else value


def _trimmed(args: Sequence[Any]) -> list[Any]:
    """Arguments as recorded: trailing omitted ones dropped, as on the wire (11.2), while an
    explicit ``None`` (a JSON ``null`` a plugin sent) is kept; an omitted one in the middle
    is recorded as ``None``."""
    n = len(args)
    while n > 0 and args[n - 1] is ABSENT:
        n -= 1
    return copy.deepcopy([_given(a) for a in args[:n]])


def _field(item: Any, name: str, python: str | None = None) -> Any:
    """A member of a dict, else an attribute (the camelCase name, then the Python one)."""
    if isinstance(item, Mapping):
        return item.get(name)
    value = getattr(item, name, None)
    if value is None and python is not None:
        value = getattr(item, python, None)
    return value


class _Stored:
    """One memory and the table it was created in."""

    __slots__ = ("memory", "table")

    def __init__(self, memory: dict[str, Any], table: str) -> None:
        self.memory = memory
        self.table = table


class InMemoryRuntime:
    """An in-memory agent runtime built from a World dict (protocol.md 11.5).

    ``calls`` is every call made, in order, as ``{"method": <wire name>, "args": [...]}``
    (methods in ``omit`` are never called: they are absent, ``AttributeError``).
    """

    _omitted_classes: ClassVar[dict[frozenset[str], type[InMemoryRuntime]]] = {}

    def __init__(self, world: Mapping[str, Any] | None = None) -> None:
        world = dict(world or {})
        self.agentId: str | None = _str(world.get("agentId"))
        self.character: dict[str, Any] = copy.deepcopy(_obj(world.get("character")))
        self.calls: list[dict[str, Any]] = []
        self._settings: dict[str, Any] = copy.deepcopy(_obj(world.get("settings")))
        self._cache: dict[str, Any] = copy.deepcopy(_obj(world.get("cache")))
        self._rooms: list[dict[str, Any]] = copy.deepcopy(_list(world.get("rooms")))
        self._worlds: list[dict[str, Any]] = copy.deepcopy(_list(world.get("worlds")))
        self._entities: list[dict[str, Any]] = copy.deepcopy(_list(world.get("entities")))
        self._memories: list[_Stored] = [
            _Stored(m, _str(m.get("tableName")) or _DEFAULT_TABLE)
            for m in copy.deepcopy(_list(world.get("memories")))
            if isinstance(m, dict)
        ]
        """Oldest first: the World's memories in the order given, then created ones."""
        self._tasks: list[dict[str, Any]] = copy.deepcopy(_list(world.get("tasks")))
        self._components: list[dict[str, Any]] = []
        self._relationships: list[dict[str, Any]] = []
        self._participants: dict[str, list[str]] = {}
        """Room id -> entity ids, in the order they joined."""
        self._user_states: dict[tuple[str, str], Any] = {}
        self._models: dict[str, Any] = copy.deepcopy(_obj(world.get("models")))
        self._failures: dict[str, str] = {k: str(v) for k, v in _obj(world.get("fail")).items()}
        self._plugins: list[Any] = []
        for room in self._rooms:
            for entity in _list(room.get("participants")):
                if isinstance(entity, str):
                    self._add_participant(_str(room.get("id")) or "", entity)
        omit = frozenset(str(name) for name in _list(world.get("omit")))
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

    def _enter(self, method: str, args: Sequence[Any]) -> None:
        """Record a call and raise the World's failure message for it, if any."""
        self.calls.append({"method": method, "args": _trimmed(args)})
        failure = self._failures.get(method)
        if failure is not None:
            raise RuntimeError(failure)

    def _add_participant(self, room_id: str, entity_id: str) -> None:
        members = self._participants.setdefault(room_id, [])
        if entity_id not in members:
            members.append(entity_id)

    @staticmethod
    def _by_id(table: list[dict[str, Any]], row_id: Any) -> dict[str, Any] | None:
        return next((row for row in table if row.get("id") == row_id), None)

    @staticmethod
    def _merge(table: list[dict[str, Any]], row: Any) -> None:
        """Update the row with the same ``id`` (member by member); no row, no change."""
        if not isinstance(row, dict):
            return
        for i, existing in enumerate(table):
            if existing.get("id") == row.get("id"):
                table[i] = {**existing, **copy.deepcopy(row)}
                return

    # -- settings ----------------------------------------------------------------------------

    async def getSetting(self, key: str) -> Any:
        self._enter("getSetting", [key])
        return copy.deepcopy(self._settings.get(key))

    async def setSetting(self, key: str, value: Any, secret: bool | None = ABSENT) -> None:
        self._enter("setSetting", [key, value, secret])
        self._settings[key] = copy.deepcopy(value)

    # -- cache -------------------------------------------------------------------------------

    async def getCache(self, key: str) -> Any:
        self._enter("getCache", [key])
        return copy.deepcopy(self._cache.get(key))

    async def setCache(self, key: str, value: Any) -> bool:
        self._enter("setCache", [key, value])
        self._cache[key] = copy.deepcopy(value)
        return True

    async def deleteCache(self, key: str) -> bool:
        self._enter("deleteCache", [key])
        self._cache.pop(key, None)
        return True

    # -- rooms and worlds ----------------------------------------------------------------------

    async def getRoom(self, roomId: str) -> dict[str, Any] | None:
        self._enter("getRoom", [roomId])
        return copy.deepcopy(self._by_id(self._rooms, roomId))

    async def getRooms(self, worldId: str) -> list[dict[str, Any]]:
        self._enter("getRooms", [worldId])
        return copy.deepcopy([r for r in self._rooms if r.get("worldId") == worldId])

    async def getRoomsForParticipant(self, entityId: str) -> list[str]:
        self._enter("getRoomsForParticipant", [entityId])
        return [room for room, ids in self._participants.items() if entityId in ids]

    async def getRoomsForParticipants(self, entityIds: list[str]) -> list[str]:
        self._enter("getRoomsForParticipants", [entityIds])
        wanted = _list(entityIds)
        return [room for room, ids in self._participants.items() if any(e in wanted for e in ids)]

    async def getParticipantsForRoom(self, roomId: str) -> list[str]:
        self._enter("getParticipantsForRoom", [roomId])
        return list(self._participants.get(roomId, []))

    async def getParticipantUserState(self, roomId: str, entityId: str) -> Any:
        self._enter("getParticipantUserState", [roomId, entityId])
        return copy.deepcopy(self._user_states.get((roomId, entityId)))

    async def setParticipantUserState(self, roomId: str, entityId: str, state: Any) -> None:
        self._enter("setParticipantUserState", [roomId, entityId, state])
        self._user_states[(roomId, entityId)] = copy.deepcopy(state)

    async def getWorld(self, worldId: str) -> dict[str, Any] | None:
        self._enter("getWorld", [worldId])
        return copy.deepcopy(self._by_id(self._worlds, worldId))

    async def updateWorld(self, world: dict[str, Any]) -> None:
        self._enter("updateWorld", [world])
        self._merge(self._worlds, world)

    async def ensureWorldExists(self, world: dict[str, Any]) -> None:
        self._enter("ensureWorldExists", [world])
        if isinstance(world, dict) and self._by_id(self._worlds, world.get("id")) is None:
            self._worlds.append(copy.deepcopy(world))

    async def ensureRoomExists(self, room: dict[str, Any]) -> None:
        self._enter("ensureRoomExists", [room])
        if isinstance(room, dict) and self._by_id(self._rooms, room.get("id")) is None:
            self._rooms.append(copy.deepcopy(room))

    async def ensureConnection(self, params: dict[str, Any]) -> None:
        """elizaOS ``ensureConnection({entityId, roomId, worldId?, name?, userName?, source?})``."""
        self._enter("ensureConnection", [params])
        p = _obj(params)
        entity_id, room_id = _str(p.get("entityId")), _str(p.get("roomId"))
        world_id = _str(p.get("worldId"))
        if world_id is not None and self._by_id(self._worlds, world_id) is None:
            self._worlds.append({"id": world_id})
        if room_id is not None and self._by_id(self._rooms, room_id) is None:
            room: dict[str, Any] = {"id": room_id}
            if world_id is not None:
                room["worldId"] = world_id
            if isinstance(p.get("source"), str):
                room["source"] = p["source"]
            self._rooms.append(room)
        if entity_id is not None and self._by_id(self._entities, entity_id) is None:
            names = [n for n in (p.get("name"), p.get("userName")) if isinstance(n, str)]
            self._entities.append({"id": entity_id, "names": names})
        if entity_id is not None and room_id is not None:
            self._add_participant(room_id, entity_id)

    async def ensureConnections(
        self, entities: list[Any], rooms: list[Any], source: str, world: dict[str, Any]
    ) -> None:
        self._enter("ensureConnections", [entities, rooms, source, world])
        w = _obj(world)
        if isinstance(w.get("id"), str) and self._by_id(self._worlds, w["id"]) is None:
            self._worlds.append(copy.deepcopy(w))
        room_rows = [r for r in _list(rooms) if isinstance(r, dict)]
        for room in room_rows:
            if self._by_id(self._rooms, room.get("id")) is None:
                self._rooms.append(copy.deepcopy(room))
        for entity in _list(entities):
            if not isinstance(entity, dict):
                continue
            if self._by_id(self._entities, entity.get("id")) is None:
                self._entities.append(copy.deepcopy(entity))
            for room in room_rows:
                if isinstance(room.get("id"), str) and isinstance(entity.get("id"), str):
                    self._add_participant(room["id"], entity["id"])

    # -- entities ------------------------------------------------------------------------------

    async def getEntityById(self, entityId: str) -> dict[str, Any] | None:
        self._enter("getEntityById", [entityId])
        return copy.deepcopy(self._by_id(self._entities, entityId))

    async def getEntitiesForRoom(
        self, roomId: str, includeComponents: bool | None = ABSENT
    ) -> list[dict[str, Any]]:
        self._enter("getEntitiesForRoom", [roomId, includeComponents])
        ids = self._participants.get(roomId, [])
        found = [e for e in self._entities if e.get("id") in ids]
        if includeComponents is True:
            found = [
                {**e, "components": [c for c in self._components if c.get("entityId") == e["id"]]}
                for e in found
            ]
        return copy.deepcopy(found)

    async def updateEntity(self, entity: dict[str, Any]) -> None:
        self._enter("updateEntity", [entity])
        self._merge(self._entities, entity)

    def _component_matches(
        self, c: dict[str, Any], entity_id: Any, world_id: Any, source_entity_id: Any
    ) -> bool:
        return (
            c.get("entityId") == entity_id
            and (world_id is None or c.get("worldId") == world_id)
            and (source_entity_id is None or c.get("sourceEntityId") == source_entity_id)
        )

    async def getComponent(
        self,
        entityId: str,
        type: str,
        worldId: str | None = ABSENT,
        sourceEntityId: str | None = ABSENT,
    ) -> dict[str, Any] | None:
        self._enter("getComponent", [entityId, type, worldId, sourceEntityId])
        return copy.deepcopy(
            next(
                (
                    c
                    for c in self._components
                    if c.get("type") == type
                    and self._component_matches(
                        c, entityId, _given(worldId), _given(sourceEntityId)
                    )
                ),
                None,
            )
        )

    async def getComponents(
        self, entityId: str, worldId: str | None = ABSENT, sourceEntityId: str | None = ABSENT
    ) -> list[dict[str, Any]]:
        self._enter("getComponents", [entityId, worldId, sourceEntityId])
        return copy.deepcopy(
            [
                c
                for c in self._components
                if self._component_matches(c, entityId, _given(worldId), _given(sourceEntityId))
            ]
        )

    async def createComponent(self, component: dict[str, Any]) -> bool:
        self._enter("createComponent", [component])
        if not isinstance(component, dict):
            return False
        self._components.append(
            {**copy.deepcopy(component), "id": _str(component.get("id")) or str(uuid.uuid4())}
        )
        return True

    async def updateComponent(self, component: dict[str, Any]) -> None:
        self._enter("updateComponent", [component])
        self._merge(self._components, component)

    async def getRelationships(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """elizaOS ``getRelationships({entityId, tags?})``: the entity at either end, all tags."""
        self._enter("getRelationships", [params])
        p = _obj(params)
        tags = _list(p.get("tags"))
        return copy.deepcopy(
            [
                r
                for r in self._relationships
                if p.get("entityId") in (r.get("sourceEntityId"), r.get("targetEntityId"))
                and all(t in _list(r.get("tags")) for t in tags)
            ]
        )

    async def createRelationship(self, params: dict[str, Any]) -> bool:
        self._enter("createRelationship", [params])
        if not isinstance(params, dict):
            return False
        self._relationships.append(
            {
                "tags": [],
                "metadata": {},
                **copy.deepcopy(params),
                "id": _str(params.get("id")) or str(uuid.uuid4()),
            }
        )
        return True

    async def updateRelationship(self, relationship: dict[str, Any]) -> None:
        self._enter("updateRelationship", [relationship])
        self._merge(self._relationships, relationship)

    # -- memories ------------------------------------------------------------------------------

    def _list_memories(self, keep: Callable[[_Stored], bool], count: Any) -> list[dict[str, Any]]:
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
        p = _obj(params)
        table = _str(p.get("tableName"))
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
        p = _obj(params)
        rooms = [r for r in _list(p.get("roomIds")) if isinstance(r, str)]
        table = _str(p.get("tableName"))
        return self._list_memories(
            lambda m: m.memory.get("roomId") in rooms and (table is None or m.table == table),
            p.get("limit"),
        )

    async def searchMemories(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """elizaOS ``searchMemories({tableName, roomId?, query?, count?})`` without embeddings:
        a memory matches when its ``content.text`` contains ``query`` (case-insensitive)."""
        self._enter("searchMemories", [params])
        p = _obj(params)
        query = _str(p.get("query"))
        table = _str(p.get("tableName"))

        def keep(m: _Stored) -> bool:
            if "roomId" in p and m.memory.get("roomId") != p["roomId"]:
                return False
            if table is not None and m.table != table:
                return False
            text = _str(_obj(m.memory.get("content")).get("text"))
            return query is None or (text is not None and query.lower() in text.lower())

        return self._list_memories(keep, p.get("count"))

    async def createMemory(
        self, memory: dict[str, Any], tableName: str, unique: bool | None = ABSENT
    ) -> str:
        """Append a memory (the newest) and return its id (its own, else a new UUID)."""
        self._enter("createMemory", [memory, tableName, unique])
        m = copy.deepcopy(_obj(memory))
        memory_id = _str(m.get("id")) or str(uuid.uuid4())
        m["id"] = memory_id
        if type(m.get("createdAt")) not in (int, float):
            m["createdAt"] = int(time.time() * 1000)
        table = tableName if isinstance(tableName, str) else _DEFAULT_TABLE
        self._memories.append(_Stored(m, table))
        return memory_id

    async def updateMemory(self, memory: dict[str, Any]) -> bool:
        self._enter("updateMemory", [memory])
        target = _obj(memory).get("id")
        for stored in self._memories:
            if stored.memory.get("id") == target:
                stored.memory = {**stored.memory, **copy.deepcopy(_obj(memory))}
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
        p = _obj(params)
        tags = _list(p.get("tags"))
        return copy.deepcopy(
            [
                t
                for t in self._tasks
                if ("roomId" not in p or t.get("roomId") == p["roomId"])
                and ("entityId" not in p or t.get("entityId") == p["entityId"])
                and all(tag in _list(t.get("tags")) for tag in tags)
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
        t = copy.deepcopy(_obj(task))
        task_id = _str(t.get("id")) or str(uuid.uuid4())
        self._tasks.append({**t, "id": task_id})
        return task_id

    async def updateTask(self, id: str, task: dict[str, Any]) -> None:
        self._enter("updateTask", [id, task])
        for i, existing in enumerate(self._tasks):
            if existing.get("id") == id:
                self._tasks[i] = {**existing, **copy.deepcopy(_obj(task)), "id": id}
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
        include = {n for n in _list(includeList) if isinstance(n, str)}
        texts: list[str] = []
        values: dict[str, Any] = {}
        data: dict[str, Any] = {}
        for plugin in self._plugins:
            for provider in _list(_field(plugin, "providers")):
                name = _field(provider, "name")
                if onlyInclude is True:
                    wanted = name in include
                else:
                    hidden = _field(provider, "private") is True or (
                        _field(provider, "dynamic") is True
                    )
                    wanted = name in include or not hidden
                if not wanted:
                    continue
                get = _field(provider, "get")
                if not callable(get):
                    continue
                try:
                    result = get(self, message, {})
                    if inspect.isawaitable(result):
                        result = await result
                except Exception:  # elizaOS leaves a failing provider out
                    continue
                text = _field(result, "text")
                if isinstance(text, str) and text:
                    texts.append(text)
                provided_values = _field(result, "values")
                if isinstance(provided_values, Mapping):
                    values.update(provided_values)
                provided_data = _field(result, "data")
                if isinstance(provided_data, Mapping):
                    data.update(provided_data)
        return copy.deepcopy({"values": values, "data": data, "text": "\n".join(texts)})

    async def emitEvent(self, event: str | list[str], params: Any = ABSENT) -> None:
        self._enter("emitEvent", [event, params])

    async def log(self, params: Any) -> None:
        self._enter("log", [params])

    # -- snake_case aliases (the Python spelling of each wire name, 11.3) ----------------

    get_setting = getSetting
    set_setting = setSetting
    get_cache = getCache
    set_cache = setCache
    delete_cache = deleteCache
    get_room = getRoom
    get_rooms = getRooms
    get_rooms_for_participant = getRoomsForParticipant
    get_rooms_for_participants = getRoomsForParticipants
    get_participants_for_room = getParticipantsForRoom
    get_participant_user_state = getParticipantUserState
    set_participant_user_state = setParticipantUserState
    get_world = getWorld
    update_world = updateWorld
    ensure_world_exists = ensureWorldExists
    ensure_room_exists = ensureRoomExists
    ensure_connection = ensureConnection
    ensure_connections = ensureConnections
    get_entity_by_id = getEntityById
    get_entities_for_room = getEntitiesForRoom
    update_entity = updateEntity
    get_component = getComponent
    get_components = getComponents
    create_component = createComponent
    update_component = updateComponent
    get_relationships = getRelationships
    create_relationship = createRelationship
    update_relationship = updateRelationship
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
