"""Schema checks of a manifest as received (docs/schemas/manifest.schema.json, protocol.md 1, 12).

What plugins written from the seed README send is accepted: unknown members of the manifest and
of descriptors are kept (must-ignore); only known members of the wrong type are refused.
"""

from __future__ import annotations

from typing import Any

from ._protocol import LANGUAGE_RE, NAME_RE, SEMVER_RE, json_type

__all__ = ["check_manifest"]

_STRING_LIST = "array of strings"
_DESCRIPTOR_MEMBERS: dict[str, dict[str, tuple[type, ...] | str]] = {
    "actions": {"name": (str,), "description": (str,), "similes": _STRING_LIST},
    "providers": {"name": (str,), "description": (str,), "dynamic": (bool,), "private": (bool,)},
    "evaluators": {
        "name": (str,),
        "description": (str,),
        "alwaysRun": (bool,),
        "similes": _STRING_LIST,
    },
}
"""Known descriptor members and their types; unknown members (``examples`` ...) are kept."""
_REQUIRED_DESCRIPTOR_MEMBERS = {
    "actions": ("name", "description"),
    "providers": ("name",),
    "evaluators": ("name", "description"),
}
_MANIFEST_NAME_LISTS = ("capabilities", "services", "events", "routes", "models")
"""Optional manifest members that are arrays of strings (sections 1 and 12)."""


def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def check_manifest(manifest: Any) -> list[str]:
    """Return every way ``manifest`` violates manifest.schema.json and the section 1 rules.

    An empty list means the manifest is valid. Written out by hand (no jsonschema at run
    time) so a load costs microseconds and the messages say exactly which member is wrong.
    Unknown members of the manifest and of descriptors are accepted (must-ignore, section 1);
    known members of the wrong type are problems.
    """
    if not isinstance(manifest, dict):
        return [f"manifest is {json_type(manifest)}, expected object"]
    problems: list[str] = []
    name = manifest.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.append(
            f"name {name!r} is not an npm package name "
            "(1..214 characters of [a-z0-9._~-], optionally @scope/name)"
        )
    if not isinstance(manifest.get("description"), str):
        problems.append(
            f"description is {json_type(manifest.get('description'))}, expected string"
            if "description" in manifest
            else "description is missing"
        )
    version = manifest.get("version")
    if not isinstance(version, str) or not SEMVER_RE.match(version):
        problems.append(
            f"version {version!r} is not a SemVer 2.0 string"
            if "version" in manifest
            else "version is missing"
        )
    language = manifest.get("language")
    if not isinstance(language, str) or not LANGUAGE_RE.match(language):
        problems.append(f"language {language!r} does not match ^[a-z][a-z0-9+-]*$")
    if "protocolVersion" in manifest:
        version_number = manifest["protocolVersion"]
        if type(version_number) is not int or version_number < 0:
            problems.append(
                f"protocolVersion is {json_type(version_number)} {version_number!r}, "
                "expected a non-negative integer"
            )
    for key in _MANIFEST_NAME_LISTS:
        if key in manifest and not _is_string_list(manifest[key]):
            problems.append(f"{key} is {json_type(manifest[key])}, expected array of strings")
    for kind, members in _DESCRIPTOR_MEMBERS.items():
        items = manifest.get(kind)
        if not isinstance(items, list):
            problems.append(
                f"{kind} is {json_type(items)}, expected array"
                if kind in manifest
                else f"{kind} is missing"
            )
            continue
        seen: set[str] = set()
        for i, item in enumerate(items):
            where = f"{kind}[{i}]"
            if not isinstance(item, dict):
                problems.append(f"{where} is {json_type(item)}, expected object")
                continue
            for req in _REQUIRED_DESCRIPTOR_MEMBERS[kind]:
                if req not in item:
                    problems.append(f"{where}.{req} is missing")
            for key, expected in members.items():
                if key not in item:
                    continue
                value = item[key]
                if isinstance(expected, str):  # _STRING_LIST
                    if not _is_string_list(value):
                        problems.append(
                            f"{where}.{key} is {json_type(value)}, expected array of strings"
                        )
                elif not isinstance(value, expected):
                    problems.append(f"{where}.{key} is {json_type(value)}, wrong type")
            item_name = item.get("name")
            if isinstance(item_name, str):
                if not item_name:
                    problems.append(f"{where}.name is empty")
                elif item_name in seen:
                    problems.append(f"{where}.name {item_name!r} is not unique")
                seen.add(item_name)
    return problems
