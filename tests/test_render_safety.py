"""S1: hostile strings in every free-text field of a blueprint change no code (I6).

Each template kind is rendered with a corpus of hostile strings in every free-text field; the
result must compile, pass ruff, have the AST shape of the placeholder render and keep every
hostile string out of the Python files. The checks themselves must catch tampered code.
"""

from __future__ import annotations

import pytest
import yaml
from blueprints import FAMILY_DATASET, make_blueprint

from mlflowctl.blueprint.model import FAMILY_TEMPLATE_KIND
from mlflowctl.build import codecheck, render
from mlflowctl.errors import CodegenError
from mlflowctl.specs.policy import EngineerPolicy

pytestmark = pytest.mark.unit

HOSTILE = [
    "'; import os; os.system('touch /tmp/pwned') #",
    '"""\nimport os\n"""',
    "'''\nraise SystemExit(1)\n'''",
    "back\\slash \\' \\\" \\n \\x00",
    "{{ 7*7 }} {% for x in range(3) %}{{ x }}{% endfor %} {# c #}",
    "\\N{LATIN SMALL LETTER A} \\u0061 \\U00000061",
    "ｌｓｔｍ раypal \u202eevil\u202c \u200b zero-width",
    "line1\r\nline2\u2028line3\x85",
    "${HOME} $(id) `id` %s %(x)s",
    "x" * 10_000,
]
#: one family per template kind
KIND_FAMILIES = sorted({kind: fam for fam, kind in FAMILY_TEMPLATE_KIND.items()}.values())


def _python(files: dict[str, str]) -> str:
    return "".join(text for rel, text in files.items() if rel.endswith(".py"))


@pytest.mark.integration
@pytest.mark.parametrize("family", KIND_FAMILIES)
def test_hostile_text_in_every_field_changes_no_code(family: str) -> None:
    allow = EngineerPolicy().import_allowlist
    clean = render.render(make_blueprint(family))
    for text in HOSTILE:
        bp = make_blueprint(family, FAMILY_DATASET[family], text=text)
        ctx = render.context(bp)
        files = render.render_files(ctx)
        reference = render.render_files(render.placeholder_context(ctx))
        # lint only once per kind: ruff is a subprocess, the AST checks cover every string
        codecheck.check_project(files, reference, allow, lint=text is HOSTILE[0])
        for rel, source in files.items():
            if rel.endswith(".py"):
                compile(source, rel, "exec")
                assert source == clean[rel], f"{rel} changed with hostile text {text[:30]!r}"
        cfg = yaml.safe_load(files["config.yaml"])
        assert cfg["project"]["title"] == bp.approach().title  # kept, as inert YAML data
        assert text[:50] not in _python(files)


def test_shape_check_catches_injected_code() -> None:
    bp = make_blueprint("mlp")
    ctx = render.context(bp)
    files = render.render_files(ctx)
    reference = render.render_files(render.placeholder_context(ctx))
    allow = EngineerPolicy().import_allowlist
    tampered = dict(files, **{"train.py": files["train.py"] + "\nprint(open('/etc/passwd'))\n"})
    with pytest.raises(CodegenError) as info:
        codecheck.check_project(tampered, reference, allow, lint=False)
    assert info.value.location == "train.py" and info.value.exit_code == 4
    # a changed literal is fine (that is what blueprint values may do) ...
    literal = dict(
        files,
        **{
            "train.py": files["train.py"].replace(
                "EXIT_INVALID, EXIT_FAILED = 2, 5", "EXIT_INVALID, EXIT_FAILED = 3, 5"
            )
        },
    )
    assert literal["train.py"] != files["train.py"]
    codecheck.check_project(literal, reference, allow, lint=False)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("x = 1", "x = 2.5", True),  # a literal may change ...
        ("x = 1", "x = -3", True),  # ... including its sign
        ("f('a', k=None)", "f('b', k=True)", True),
        ("x = 1", "y = 1", False),  # a name may not
        ("x = [1, 2]", "x = [1, 2, 3]", False),  # nor how many items a list holds
        ("x = a + 1", "x = a - 1", False),  # nor an operator
        ("x = 1", "x = -y", False),  # a sign on a name is an operation
        ("import os", "import sys", False),
        ("f(k=1)", "f(j=1)", False),  # nor a keyword
        ("x = f'{a}'", "x = f'{b}'", False),
    ],
)
def test_shape_masks_literals_and_nothing_else(a: str, b: str, same: bool) -> None:
    import ast

    assert (codecheck.shape(ast.parse(a)) == codecheck.shape(ast.parse(b))) is same


def test_import_outside_the_allowlist_is_rejected() -> None:
    files = {"model.py": "import subprocess\n"}
    with pytest.raises(CodegenError) as info:
        codecheck.check_project(files, files, EngineerPolicy().import_allowlist, lint=False)
    assert "subprocess" in info.value.message and info.value.location == "model.py:1"


@pytest.mark.parametrize(
    "code",
    [
        "def f():\n    import subprocess\n",
        "try:\n    pass\nexcept Exception:\n    import subprocess\n",
        "try:\n    pass\nfinally:\n    from subprocess import run\n",
        "with open('x') as f:\n    if f:\n        pass\n    else:\n        import subprocess\n",
        "match 1:\n    case 1:\n        import subprocess\n",
        "class A:\n    async def f(self):\n        for x in []:\n            import subprocess\n",
    ],
)
def test_an_import_nested_in_any_statement_is_found(code: str) -> None:
    """The allowlist check walks statements only (an import is one): nested ones are found."""
    files = {"model.py": code}
    with pytest.raises(CodegenError, match="subprocess"):
        codecheck.check_project(files, files, EngineerPolicy().import_allowlist, lint=False)


def test_code_that_does_not_compile_is_rejected() -> None:
    files = {"model.py": "def broken(:\n"}
    with pytest.raises(CodegenError, match="does not compile"):
        codecheck.check_project(files, files, (), lint=False)


@pytest.mark.integration
def test_ruff_findings_are_rejected() -> None:
    files = {"model.py": "import os\n"}
    with pytest.raises(CodegenError, match="ruff"):
        codecheck.check_project(files, files, ("os",))
