"""The tables of :class:`~elizaos_interop.host._in_memory.InMemoryRuntime` and their methods.

:class:`RuntimeTables` is its base: the call record (``_enter``), the helpers every method
shares, and the methods of 11.3 over settings, cache, rooms, worlds, entities, components and
relationships; memories, tasks, models and ``composeState`` are in
:mod:`elizaos_interop.host._in_memory`, which builds the tables from a World.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ABSENT",
    "DEFAULT_TABLE",
    "RuntimeTables",
    "Stored",
    "field",
    "given",
    "list_of",
    "obj",
    "str_or_none",
]

DEFAULT_TABLE = "messages"
"""The table a memory is in when none is named."""


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def list_of(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


class _Absent:
    """The default of an optional parameter: an argument the caller did not pass."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
"""Default of optional parameters, so ``calls`` tells an omitted argument from ``None``."""


def given(value: Any) -> Any:
    """``value``, or ``None`` for an argument that was not passed."""
    return None if value is ABSENT else value


def _trimmed(args: Sequence[Any]) -> list[Any]:
    """Arguments as recorded: trailing omitted ones dropped, as on the wire (11.2), while an
    explicit ``None`` (a JSON ``null`` a plugin sent) is kept; an omitted one in the middle
    is recorded as ``None``."""
    n = len(args)
    while n > 0 and args[n - 1] is ABSENT:
        n -= 1
    return copy.deepcopy([given(a) for a in args[:n]])


def field(item: Any, name: str, python: str | None = None) -> Any:
    """A member of a dict, else an attribute (the camelCase name, then the Python one)."""
    if isinstance(item, Mapping):
        return item.get(name)
    value = getattr(item, name, None)
    if value is None and python is not None:
        value = getattr(item, python, None)
    return value


class Stored:
    """One memory and the table it was created in."""

    __slots__ = ("memory", "table")

    def __init__(self, memory: dict[str, Any], table: str) -> None:
        self.memory = memory
        self.table = table


class RuntimeTables:
    """The state an :class:`~elizaos_interop.host._in_memory.InMemoryRuntime` keeps, and the
    methods of 11.3 over its settings, cache, rooms, worlds, entities, components and
    relationships (the subclass fills every table from the World)."""

    calls: list[dict[str, Any]]
    _settings: dict[str, Any]
    _cache: dict[str, Any]
    _rooms: list[dict[str, Any]]
    _worlds: list[dict[str, Any]]
    _entities: list[dict[str, Any]]
    _components: list[dict[str, Any]]
    _relationships: list[dict[str, Any]]
    _participants: dict[str, list[str]]
    """Room id -> entity ids, in the order they joined."""
    _user_states: dict[tuple[str, str], Any]
    _failures: dict[str, str]

    # -- plumbing ----------------------------------------------------------------------------

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
        wanted = list_of(entityIds)
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
        p = obj(params)
        entity_id, room_id = str_or_none(p.get("entityId")), str_or_none(p.get("roomId"))
        world_id = str_or_none(p.get("worldId"))
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
        w = obj(world)
        if isinstance(w.get("id"), str) and self._by_id(self._worlds, w["id"]) is None:
            self._worlds.append(copy.deepcopy(w))
        room_rows = [r for r in list_of(rooms) if isinstance(r, dict)]
        for room in room_rows:
            if self._by_id(self._rooms, room.get("id")) is None:
                self._rooms.append(copy.deepcopy(room))
        for entity in list_of(entities):
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
                    and self._component_matches(c, entityId, given(worldId), given(sourceEntityId))
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
                if self._component_matches(c, entityId, given(worldId), given(sourceEntityId))
            ]
        )

    async def createComponent(self, component: dict[str, Any]) -> bool:
        self._enter("createComponent", [component])
        if not isinstance(component, dict):
            return False
        self._components.append(
            {
                **copy.deepcopy(component),
                "id": str_or_none(component.get("id")) or str(uuid.uuid4()),
            }
        )
        return True

    async def updateComponent(self, component: dict[str, Any]) -> None:
        self._enter("updateComponent", [component])
        self._merge(self._components, component)

    async def getRelationships(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """elizaOS ``getRelationships({entityId, tags?})``: the entity at either end, all tags."""
        self._enter("getRelationships", [params])
        p = obj(params)
        tags = list_of(p.get("tags"))
        return copy.deepcopy(
            [
                r
                for r in self._relationships
                if p.get("entityId") in (r.get("sourceEntityId"), r.get("targetEntityId"))
                and all(t in list_of(r.get("tags")) for t in tags)
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
                "id": str_or_none(params.get("id")) or str(uuid.uuid4()),
            }
        )
        return True

    async def updateRelationship(self, relationship: dict[str, Any]) -> None:
        self._enter("updateRelationship", [relationship])
        self._merge(self._relationships, relationship)

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
