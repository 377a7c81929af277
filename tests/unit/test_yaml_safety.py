"""YAML read within limits: alias bombs, cycles, deep nesting, huge files and unreadable
values are one clear problem each, for lint, for loading and for the running app's reload."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import default_policy_pack
from policies.current import CurrentPack
from policies.lint import lint_pack
from policies.loader import PackError, load_pack
from policies.yaml_safety import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    MAX_YAML_BYTES,
    YamlLimitError,
    compose_bounded,
    read_bounded,
    safe_load,
)

PACKS = default_policy_pack().parent

# The classic "billion laughs": 9 levels of 9 aliases, 9**9 strings once expanded.
BOMB = "\n".join(
    [
        'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
        *(
            f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def _write(tmp_path: Path, text: str | bytes, name: str = "pack.yml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _only_problem(path: Path) -> str:
    problems = lint_pack(path)
    assert len(problems) == 1, problems
    return str(problems[0])


def test_the_bomb_is_small() -> None:
    assert len(BOMB.encode()) < 600


def test_lint_refuses_an_alias_bomb(tmp_path: Path) -> None:
    path = _write(tmp_path, BOMB)
    problem = _only_problem(path)
    assert problem.startswith(f"{path}:1 - -: ")
    assert problem.endswith(": too many aliases")


def test_load_refuses_an_alias_bomb_with_a_pack_error(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="too many aliases"):
        load_pack(_write(tmp_path, BOMB))


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "pack: p\nversion: '1'\nrules: &rules [*rules]\n")
    assert _only_problem(path).endswith("recursive alias")


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    deep = "rules: " + "[" * 5000 + "]" * 5000 + "\n"
    assert _only_problem(_write(tmp_path, deep)).endswith("too deep")
    just_over = "rules: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"
    assert _only_problem(_write(tmp_path, just_over, "over.yml")).endswith("too deep")
    block = "rules:\n  " + "- " * 5000 + "x\n"
    assert _only_problem(_write(tmp_path, block, "block.yml")).endswith("too deep")
    indented = "".join(" " * depth + "a:\n" for depth in range(200))
    problem = _only_problem(_write(tmp_path, indented, "indented.yml"))
    assert problem.endswith("too deep") and f"indented.yml:{MAX_DEPTH + 1} " in problem


def test_nesting_deepened_through_aliases_is_refused(tmp_path: Path) -> None:
    lines = ["n0: &n0 [x]"] + [f"n{i}: &n{i} [*n{i - 1}]" for i in range(1, MAX_DEPTH + 2)]
    problem = _only_problem(_write(tmp_path, "\n".join(lines) + "\n"))
    assert problem.endswith("too deep")


def test_a_pack_over_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = _write(tmp_path, "# " + "x" * MAX_YAML_BYTES + "\npack: p\n")
    problem = _only_problem(path)
    assert problem.startswith(f"{path}:1 - -: ")
    assert problem.endswith("too large")
    with pytest.raises(YamlLimitError, match="too large"):
        read_bounded(Path("/dev/zero"))


def test_the_default_pack_uses_aliases_and_loads(tmp_path: Path) -> None:
    text = (PACKS / "default.yml").read_text()
    assert "&is_return" in text and "*is_return" in text
    assert lint_pack(PACKS / "default.yml") == []


def test_aliases_within_the_budget_load(tmp_path: Path) -> None:
    # A 10-node mapping reused 500 times: 5,000 nodes more than written.
    data = safe_load(
        "base: &base {a: 1, b: 2, c: 3, d: 4, e: [1, 2, 3]}\n"
        + "".join(f"k{i}: *base\n" for i in range(500))
    )
    assert data["k499"] == data["base"]
    with pytest.raises(YamlLimitError, match="too many aliases"):
        safe_load(
            "base: &base {a: 1, b: 2, c: 3, d: 4, e: [1, 2, 3]}\n"
            + "".join(f"k{i}: *base\n" for i in range(MAX_ALIAS_NODES // 10 + 1))
        )


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("pack: p\nversion: '1'\nwhen: 2024-02-30\n", 3),
        ("pack: p\nnumber: " + "1" * 5000 + "\n", 2),
    ],
)
def test_a_value_that_cannot_be_read_is_a_problem_at_its_line(
    tmp_path: Path, text: str, line: int
) -> None:
    path = _write(tmp_path, text)
    problem = _only_problem(path)
    assert problem.startswith(f"{path}:{line} - -: ")
    assert "cannot read this value" in problem


class _UniqueKeys(yaml.SafeLoader):
    """Like the roles file's loader: a second key is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        if len(keys) != len(set(keys)):
            raise yaml.constructor.ConstructorError(None, None, "duplicate key", node.start_mark)
        return super().construct_mapping(node, deep=deep)


def test_safe_load_keeps_the_callers_loader_and_refuses_the_bomb() -> None:
    assert safe_load("roles: {manager: {users: [U1]}}", Loader=_UniqueKeys) == {
        "roles": {"manager": {"users": ["U1"]}}
    }
    with pytest.raises(yaml.YAMLError, match="duplicate key"):
        safe_load("a: 1\na: 2\n", Loader=_UniqueKeys)
    with pytest.raises(YamlLimitError, match="too many aliases") as refused:
        safe_load(BOMB, Loader=_UniqueKeys)
    # A caller that only knows yaml.YAMLError still catches the refusal.
    assert isinstance(refused.value, yaml.YAMLError)
    assert refused.value.problem_mark is None


def test_compose_bounded_gives_the_nodes_and_the_data() -> None:
    node, data = compose_bounded("a: &x [1, 2]\nb: *x\n")
    assert isinstance(node, yaml.MappingNode)
    assert data == {"a": [1, 2], "b": [1, 2]}
    assert compose_bounded("") == (None, None)
    with pytest.raises(YamlLimitError, match="too large"):
        compose_bounded("x" * (MAX_YAML_BYTES + 1))


def test_the_running_app_keeps_its_pack_when_the_file_becomes_a_bomb(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "packs"
    shutil.copytree(PACKS, folder)
    path = folder / "default.yml"
    current = CurrentPack(path)
    before = current.pack
    path.write_text(BOMB)
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))
    with caplog.at_level(logging.ERROR, logger="policies.current"):
        assert current.refresh() is before
    assert "fails lint" in caplog.text
    assert f"{path}:1 - -: " in caplog.text and "too many aliases" in caplog.text
