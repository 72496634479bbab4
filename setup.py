"""Builds the compiled Bond reader; everything else about the package is in pyproject.toml.

`src/diagscope/decode/bond_reader.py` is compiled with mypyc as `diagscope.decode._bond_native`,
stamped with the SHA-256 of the source it came from (`diagscope.decode.bond` uses it only
while that matches). The step is optional: without mypyc, a C compiler or the Python headers
the package installs as pure Python and says so on stderr. `DIAGSCOPE_PURE_PYTHON=1` at
install time skips it. mypyc runs when `build_ext` runs, not at import of this file, so the
other build steps (metadata, sdist) stay fast and never need mypyc or a compiler.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "src" / "diagscope" / "decode" / "bond_reader.py"
NATIVE = "diagscope.decode._bond_native"


def _stamped_copy(workdir: Path) -> Path:
    """The reader under its compiled module's name, with the digest of its source appended."""
    source = SOURCE.read_bytes()
    package = workdir / "diagscope" / "decode"
    package.mkdir(parents=True, exist_ok=True)
    for init in (workdir / "diagscope" / "__init__.py", package / "__init__.py"):
        init.write_text("")
    target = package / "_bond_native.py"
    digest = hashlib.sha256(source).hexdigest()
    target.write_bytes(source + f'\n\nSOURCE_SHA256 = "{digest}"\n'.encode())
    return target


#: Commands that compile. The others (egg_info, dist_info, sdist) only ask build_ext for its
#: list of sources, and need neither mypyc nor a compiler.
BUILDING = frozenset({"build", "build_ext", "bdist", "bdist_wheel", "editable_wheel",
                      "install", "develop"})


class OptionalMypycBuild(build_ext):
    """build_ext that compiles the reader when it can and otherwise leaves it pure Python."""

    def finalize_options(self) -> None:
        # Only this command sees the generated extensions; the placeholder stays declared.
        declared = self.distribution.ext_modules
        if BUILDING & set(self.distribution.commands):
            self.distribution.ext_modules = _generated()
        try:
            super().finalize_options()
        finally:
            self.distribution.ext_modules = declared

    def get_source_files(self) -> list[str]:
        return []  # generated C belongs to no source distribution

    def run(self) -> None:
        if any(not extension.sources for extension in self.extensions):
            self.extensions = []  # only the placeholder: nothing was generated
            return
        try:
            super().run()
        except (Exception, SystemExit) as exc:  # no compiler, or no Python headers
            _say(repr(exc))
            self.extensions = []


_GENERATED: list[list[Extension]] = []


def _generated() -> list[Extension]:
    """mypyc's extensions for the reader, generated once per build (type check and C)."""
    if not _GENERATED:
        _GENERATED.append(_generate())
    return _GENERATED[0]


def _generate() -> list[Extension]:
    if os.environ.get("DIAGSCOPE_PURE_PYTHON"):
        _say("DIAGSCOPE_PURE_PYTHON is set")
        return []
    # Relative paths under build/, as setuptools wants them; the copy sits in folders named
    # after its package, since mypy names a module after the folders it sits in.
    workdir = Path("build") / "mypyc"
    shutil.rmtree(workdir, ignore_errors=True)
    try:
        from mypyc.build import mypycify

        copy = _stamped_copy(workdir / "src")
        cwd = os.getcwd()
        os.chdir(workdir / "src")
        try:
            extensions = mypycify([str(copy.relative_to(workdir / "src"))],
                                  opt_level="3", target_dir=os.path.join("..", "c"))
        finally:
            os.chdir(cwd)
    except (Exception, SystemExit) as exc:  # no mypyc, or it rejected the source
        _say(repr(exc))
        return []
    for extension in extensions:
        extension.sources = [os.path.normpath(workdir / "src" / s) for s in extension.sources]
        extension.include_dirs = [
            d if os.path.isabs(d) else os.path.normpath(workdir / "src" / d)
            for d in extension.include_dirs
        ]
    return list(extensions)


def _say(reason: str) -> None:
    print(f"diagscope: the Bond reader stays pure Python: {reason}", file=sys.stderr)


# A placeholder so setuptools runs build_ext (and builds a platform wheel); the command
# replaces it with what mypyc generates.
setup(
    ext_modules=[Extension(NATIVE, sources=[])],
    cmdclass={"build_ext": OptionalMypycBuild},
)
