"""No import cycles: between modules, and between the Django apps, which import only apps below
them. `tests/architecture/import_graph.py` reads the graph from the source."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.architecture.import_graph import (
    cycles_find,
    edges_between_packages,
    graph_build,
    modules_find,
)

ROOT = Path(__file__).resolve().parents[2]
# Bottom to top: an app may import the apps before it in this list, never those after it.
APP_LAYERS = ("audit", "accounts", "media_analysis", "integrations", "monitoring", "legacy")
# The project package: settings, urls, asgi and the Celery app on top, shared helpers below.
PROJECT_PACKAGE = "drishtiksha"
INFERENCE_SERVER = "mlserver"


def _project_graph() -> dict[str, set[str]]:
    return graph_build(modules_find(root=ROOT, packages=(*APP_LAYERS, PROJECT_PACKAGE)))


def test_no_module_is_part_of_an_import_cycle() -> None:
    cycles = cycles_find(_project_graph())
    assert cycles == [], "modules that import each other, directly or round a loop: " + "; ".join(
        " <-> ".join(cycle) for cycle in cycles
    )


def test_each_app_imports_only_the_apps_below_it() -> None:
    upward = {
        (importer, imported): why
        for (importer, imported), why in edges_between_packages(_project_graph()).items()
        if importer in APP_LAYERS
        and imported in APP_LAYERS
        and APP_LAYERS.index(imported) > APP_LAYERS.index(importer)
    }
    assert upward == {}, f"imports of an app above the importer (layers: {APP_LAYERS}): {upward}"


def test_the_inference_server_shares_no_code_with_the_platform() -> None:
    source = ROOT / INFERENCE_SERVER / "src"
    if not (source / INFERENCE_SERVER).is_dir():
        source = ROOT
    server = modules_find(root=source, packages=(INFERENCE_SERVER,))
    platform = modules_find(root=ROOT, packages=(*APP_LAYERS, PROJECT_PACKAGE))
    graph = graph_build({**server, **platform})
    crossing = {
        pair: why for pair, why in edges_between_packages(graph).items() if INFERENCE_SERVER in pair
    }
    assert server, "the inference server's modules were not found"
    assert crossing == {}


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_the_checker_sees_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/services.py": "def run():\n    from app.tasks import send\n    send()\n",
            "app/tasks.py": "from app import services\n",
            "app/models.py": "from . import services\n",
        },
    )
    graph = graph_build(modules_find(root=tmp_path, packages=("app",)))

    assert graph["app.models"] == {"app", "app.services"}
    assert cycles_find(graph) == [["app.services", "app.tasks"]]


def test_the_checker_ignores_imports_only_for_type_checking(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/models.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from high.views import View\n"
            ),
            "high/__init__.py": "",
            "high/views.py": "from low.models import TYPE_CHECKING\n",
        },
    )
    graph = graph_build(modules_find(root=tmp_path, packages=("low", "high")))

    assert cycles_find(graph) == []
    assert edges_between_packages(graph) == {("high", "low"): ["high.views -> low.models"]}
