"""Detection: test files for a source file, the source file of a test, and the test command."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from micro_agent.runners import (
    detect_test_command,
    find_target_for_test,
    find_test_files,
    is_test_file,
    language_of,
)


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.mark.parametrize(
    ("name", "language", "is_test"),
    [
        ("calc.py", "python", False),
        ("tests/test_calc.py", "python", True),
        ("calc_test.py", "python", True),
        ("src/math.ts", "typescript", False),
        ("src/math.test.ts", "typescript", True),
        ("src/Button.spec.tsx", "typescript", True),
        ("src/__tests__/math.ts", "typescript", True),
        ("lib/util.mjs", "javascript", False),
        ("lib/util.test.mjs", "javascript", True),
        ("src/lib.rs", "rust", False),
        ("tests/math.rs", "rust", True),
        ("README.md", "other", False),
    ],
)
def test_language_and_test_file_conventions(name: str, language: str, is_test: bool):
    assert language_of(Path(name)) == language
    assert is_test_file(Path(name)) is is_test


# ---------------------------------------------------------------- Python


@pytest.fixture
def py_project(tmp_path: Path) -> Path:
    return write(tmp_path, {
        "src/shop/__init__.py": "",
        "src/shop/pricing.py": "def total(xs):\n    return sum(xs)\n",
        "src/shop/cart.py": "class Cart: ...\n",
        "tests/test_pricing.py": "from shop.pricing import total\n",
        "tests/test_checkout.py": "from shop import (\n    cart,\n    pricing as p,\n)\n",
        "tests/test_cart_only.py": "import shop.cart\n",
        ".venv/lib/test_pricing.py": "",  # hidden folders are never searched
    })


def test_python_tests_by_name_then_by_import(py_project: Path):
    tests = find_test_files(py_project / "src/shop/pricing.py", py_project)
    assert tests == [py_project / "tests/test_pricing.py", py_project / "tests/test_checkout.py"]
    assert find_test_files(py_project / "src/shop/cart.py", py_project) == [
        py_project / "tests/test_cart_only.py",
        py_project / "tests/test_checkout.py",
    ]


def test_python_target_of_a_test(py_project: Path):
    assert find_target_for_test(py_project / "tests/test_pricing.py", py_project) == py_project / "src/shop/pricing.py"
    # named after nothing: the module it imports
    assert find_target_for_test(py_project / "tests/test_cart_only.py", py_project) == py_project / "src/shop/cart.py"


def test_python_command(py_project: Path):
    command = detect_test_command(py_project / "src/shop/pricing.py", py_project)
    assert re.fullmatch(r"python3? -m pytest -q tests/test_pricing.py tests/test_checkout.py", command)
    write(py_project, {"src/shop/untested.py": "X = 1\n"})
    assert detect_test_command(py_project / "src/shop/untested.py", py_project).endswith("-m pytest -q tests")


def test_python_command_uses_the_project_venv(py_project: Path):
    python = py_project / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    command = detect_test_command(py_project / "src/shop/pricing.py", py_project)
    assert command.startswith(".venv/bin/python -m pytest -q tests/test_pricing.py")


def test_python_flat_layout(tmp_path: Path):
    write(tmp_path, {"calc.py": "", "tests/test_calc.py": "from calc import add\n", "test_other.py": "import calc\n"})
    tests = find_test_files(tmp_path / "calc.py", tmp_path)
    assert tests == [tmp_path / "tests/test_calc.py", tmp_path / "test_other.py"]
    assert find_target_for_test(tmp_path / "test_other.py", tmp_path) == tmp_path / "calc.py"


# ---------------------------------------------------------------- TypeScript / JavaScript


def test_ts_conventions_and_imports(tmp_path: Path):
    write(tmp_path, {
        "package.json": json.dumps({"devDependencies": {"vitest": "^4.0.0"}}),
        "src/math.ts": "export const add = (a: number, b: number) => a + b;\n",
        "src/math.test.ts": "import { add } from './math';\n",
        "src/__tests__/math.ts": "import { add } from '../math';\n",
        "src/helpers.ts": "export const two = 2;\n",
        "test/uses-helpers.spec.ts": "import { two } from '../src/helpers.js';\n",
        "node_modules/x/math.test.ts": "",
    })
    assert find_test_files(tmp_path / "src/math.ts", tmp_path) == [
        tmp_path / "src/math.test.ts",
        tmp_path / "src/__tests__/math.ts",
    ]
    assert find_test_files(tmp_path / "src/helpers.ts", tmp_path) == [tmp_path / "test/uses-helpers.spec.ts"]
    assert find_target_for_test(tmp_path / "src/math.test.ts", tmp_path) == tmp_path / "src/math.ts"
    assert find_target_for_test(tmp_path / "src/__tests__/math.ts", tmp_path) == tmp_path / "src/math.ts"
    assert find_target_for_test(tmp_path / "test/uses-helpers.spec.ts", tmp_path) == tmp_path / "src/helpers.ts"
    assert detect_test_command(tmp_path / "src/math.ts", tmp_path) == (
        "npx vitest run src/math.test.ts src/__tests__/math.ts"
    )


@pytest.mark.parametrize(
    ("package", "target", "expected"),
    [
        ({"scripts": {"test": "vitest run"}}, "math.js", "npm test"),
        ({"devDependencies": {"jest": "^30"}}, "math.js", "npx jest math.test.js"),
        ({"scripts": {"test": 'echo "Error: no test specified" && exit 1'}}, "math.js", "node --test math.test.js"),
        (None, "math.js", "node --test math.test.js"),
        (None, "math.ts", "node --experimental-strip-types --test math.test.ts"),
    ],
)
def test_js_command(tmp_path: Path, package: dict | None, target: str, expected: str):
    ext = Path(target).suffix
    write(tmp_path, {target: "", f"math.test{ext}": "import { add } from './math';\n"})
    if package is not None:
        write(tmp_path, {"package.json": json.dumps(package)})
    assert detect_test_command(tmp_path / target, tmp_path) == expected


def test_js_package_in_a_subfolder(tmp_path: Path):
    write(tmp_path, {
        "web/package.json": json.dumps({"devDependencies": {"vitest": "4"}}),
        "web/src/a.ts": "",
        "web/src/a.test.ts": "",
    })
    assert detect_test_command(tmp_path / "web/src/a.ts", tmp_path) == "cd web && npx vitest run src/a.test.ts"


# ---------------------------------------------------------------- Rust


def test_rust_crate(tmp_path: Path):
    write(tmp_path, {
        "Cargo.toml": '[package]\nname = "m"\nversion = "0.1.0"\n',
        "src/lib.rs": "pub fn f() {}\n#[cfg(test)]\nmod tests {}\n",
        "src/util.rs": "pub fn g() {}\n",
        "tests/a.rs": "",
        "tests/b.rs": "",
    })
    assert find_test_files(tmp_path / "src/lib.rs", tmp_path) == [
        tmp_path / "src/lib.rs", tmp_path / "tests/a.rs", tmp_path / "tests/b.rs",
    ]
    assert find_test_files(tmp_path / "src/util.rs", tmp_path) == [tmp_path / "tests/a.rs", tmp_path / "tests/b.rs"]
    assert find_target_for_test(tmp_path / "tests/a.rs", tmp_path) == tmp_path / "src/lib.rs"
    assert detect_test_command(tmp_path / "src/util.rs", tmp_path) == "cargo test"


def test_rust_crate_in_a_subfolder_and_no_crate(tmp_path: Path):
    write(tmp_path, {"engine/Cargo.toml": "[package]\n", "engine/src/lib.rs": "", "loose.rs": ""})
    command = detect_test_command(tmp_path / "engine/src/lib.rs", tmp_path)
    assert command == "cargo test --manifest-path engine/Cargo.toml"
    assert detect_test_command(tmp_path / "loose.rs", tmp_path) is None


def test_other_languages_have_no_command(tmp_path: Path):
    write(tmp_path, {"notes.md": ""})
    assert detect_test_command(tmp_path / "notes.md", tmp_path) is None
    assert find_test_files(tmp_path / "notes.md", tmp_path) == []


def test_detection_is_fast_on_a_larger_tree(tmp_path: Path):
    files = {f"pkg{i}/mod{j}.py": "import os\n" for i in range(20) for j in range(50)}
    files.update({f"tests/test_mod{j}.py": f"from pkg0 import mod{j}\n" for j in range(50)})
    files.update({f"node_modules/dep{i}/index.js": "" for i in range(500)})
    write(tmp_path, files)

    started = time.perf_counter()
    command = detect_test_command(tmp_path / "pkg0/mod7.py", tmp_path)
    elapsed = time.perf_counter() - started

    assert command.endswith("-m pytest -q tests/test_mod7.py")
    assert elapsed < 0.5
