"""Build hook of the interop-testkit wheel: the shared data travels inside it.

``certify`` needs the JSON Schemas (docs/schemas), the shared vectors (docs/vectors) and the
TypeScript host driver with the TypeScript runtime it imports (plugins/typescript/{src,driver}).
In a checkout it reads them in place; an installed wheel reads the copies this hook puts under
``testkit/_data`` (see testkit/_resources.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DATA = {
    "schemas": ROOT / "docs" / "schemas",
    "vectors": ROOT / "docs" / "vectors",
    "typescript/src": ROOT / "plugins" / "typescript" / "src",
    "typescript/driver": ROOT / "plugins" / "typescript" / "driver",
    "typescript/package.json": ROOT / "plugins" / "typescript" / "package.json",
}


class BuildWithData(build_py):
    """build_py, then copy the shared data into the built package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "testkit" / "_data"
        for relative, source in DATA.items():
            destination = target / relative
            if not source.exists():
                raise FileNotFoundError(f"the testkit wheel needs {source}; build it from a full checkout")
            destination.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, destination, dirs_exist_ok=True)
            else:
                shutil.copy2(source, destination)


setup(cmdclass={"build_py": BuildWithData})
