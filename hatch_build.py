"""Put what the app needs at run time into the wheel, beside the code (hatchling build hook).

The repository keeps ``templates/``, ``static/`` and ``seed/`` at the top level, where designers,
translators and the demo's authors find them. An installed package has no top level, so the wheel
carries them inside the package (``pointsmart/templates`` …), where :mod:`pointsmart.resources` looks
first. The English catalogue is compiled here from its ``.po`` file (``.mo`` files are build output,
never committed), so ``pip install .`` on a bare Windows PC gives an English UI without ``make``.

Editable installs need none of this: the checkout itself is on ``sys.path`` and ``make install``
compiles the catalogue in place.

``static/vendor/`` is not in git: ``make vendor-js`` (part of ``make install``) copies the counter's
WebAssembly QR decoder there from ``node_modules`` by the committed ``package-lock.json``. The wheel
carries it like the rest of ``static/`` (``force_include`` ignores ``.gitignore``), and so does the
sdist (``artifacts`` in pyproject.toml). A build from a bare checkout on a PC without npm (Windows,
``pip install .``) still succeeds, with a warning: its counter scans by photo or typed number, and
says that the scanner did not load when the camera is opened. ``tests/test_wheel.py`` checks that the
wheel ``make test`` builds carries the decoder.
"""

import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

#: top-level folders of the repository → where the wheel carries them
FOLDERS = {"templates": "pointsmart/templates", "static": "pointsmart/static", "seed": "pointsmart/seed"}
TRANSLATIONS = "pointsmart/translations"
#: what ``make vendor-js`` puts into static/ from the npm registry (see package.json)
VENDOR_FILES = ("static/vendor/zxing-wasm/zxing-reader.js", "static/vendor/zxing-wasm/zxing_reader.wasm")


class PointsMartBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if version == "editable":
            return
        root = Path(self.root)
        for source, target in FOLDERS.items():
            if not (root / source).is_dir():
                raise FileNotFoundError(f"{source}/ is missing: the wheel would serve no pages")
            build_data["force_include"][str(root / source)] = target
        missing = [name for name in VENDOR_FILES if not (root / name).is_file()]
        if missing:
            self.app.display_warning(
                f"{', '.join(missing)} missing: run `make vendor-js` (npm) first, or the counter's live"
                " camera works only where the browser has its own BarcodeDetector"
            )
        self._compiled = tempfile.TemporaryDirectory(prefix="pointsmart-mo-")
        for po_path in sorted((root / TRANSLATIONS).glob("*/LC_MESSAGES/*.po")):
            relative = po_path.relative_to(root).with_suffix(".mo")
            mo_path = Path(self._compiled.name) / relative
            mo_path.parent.mkdir(parents=True, exist_ok=True)
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file)
            with mo_path.open("wb") as mo_file:
                write_mo(mo_file, catalog)
            build_data["force_include"][str(mo_path)] = relative.as_posix()

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        compiled = getattr(self, "_compiled", None)
        if compiled is not None:
            compiled.cleanup()
