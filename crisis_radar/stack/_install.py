"""Finding or installing what the stack runs: Debian packages, Kafka jars from Maven Central."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from crisis_radar.stack._errors import StackError

KAFKA_VERSION = "3.9.1"
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def cache_dir() -> Path:
    """Per-user cache shared by every checkout (the jars are 46 MB: fetch them once)."""
    if os.environ.get("CRISIS_RADAR_CACHE_DIR"):
        return Path(os.environ["CRISIS_RADAR_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crisis-radar"


def _find(candidates: tuple[str, ...]) -> str | None:
    for name in candidates:
        path = shutil.which(name) or (
            name if os.path.isabs(name) and os.access(name, os.X_OK) else None
        )
        if path:
            return path
    return None


def _apt_install(packages: list[str]) -> None:
    """apt-get install (with sudo when not root); one `apt-get update` retry if not found."""
    prefix: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            raise StackError(
                f"need root or sudo to install {' '.join(packages)}: "
                f"run `sudo apt-get install -y {' '.join(packages)}`"
            )
        prefix = ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = [*prefix, "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    print(f"  installing {' '.join(packages)} (apt-get)...", file=sys.stderr, flush=True)
    if subprocess.run(cmd, env=env, capture_output=True).returncode == 0:
        return
    subprocess.run([*prefix, "apt-get", "update", "-q"], env=env, capture_output=True)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"`{' '.join(cmd)}` failed:\n{done.stderr.strip()[-2000:]}")


def ensure_tool(candidates: tuple[str, ...], packages: list[str], what: str) -> str:
    """Path of the first found binary; installs the Debian packages when it is missing."""
    found = _find(candidates)
    if found:
        return found
    if not shutil.which("apt-get"):
        raise StackError(
            f"{what} not found ({', '.join(candidates)}) and there is no apt-get: "
            f"install {what} (Debian packages: {' '.join(packages)})"
        )
    _apt_install(packages)
    found = _find(candidates)
    if not found:
        raise StackError(f"installed {' '.join(packages)} but still no {candidates[0]}")
    return found


# The report shows what posts say: emoji and any script. Chromium and matplotlib draw a box
# ("tofu") for a character no installed font has (docs/report.md "Fonts"). Debian's fonts:
# colour emoji (HTML), Noto for most scripts (Arabic, Hebrew, Indic, Thai, ...), Noto CJK,
# and Symbola, whose monochrome emoji matplotlib can draw (it cannot draw colour bitmap fonts).
FONT_PACKAGES = ["fonts-noto-color-emoji", "fonts-noto-core", "fonts-noto-cjk", "fonts-symbola"]


def _missing_packages(packages: list[str]) -> list[str]:
    """Those of ``packages`` dpkg does not list as installed (all of them without dpkg)."""
    if not shutil.which("dpkg-query"):
        return list(packages)
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\\n", *packages],
        capture_output=True,
        text=True,
    )  # exit 1 when one is unknown: its line is missing, so it counts as missing
    installed = {
        line.split()[0] for line in done.stdout.splitlines() if line.endswith(" installed")
    }
    return [p for p in packages if p not in installed]


def fonts() -> str | None:
    """Install the report's fonts when missing (idempotent: a no-op once dpkg has them).
    Returns a warning when they cannot be installed: the stack runs without them, only
    reports show boxes for emoji and non-Latin text."""
    missing = _missing_packages(FONT_PACKAGES)
    if not missing:
        return None
    if not shutil.which("apt-get"):
        return f"report fonts not installed (no apt-get): install {' '.join(missing)} or equivalent"
    try:
        _apt_install(missing)
    except StackError as exc:
        return f"report fonts not installed: {exc}"
    return None


def java() -> str:
    return ensure_tool(("java",), ["default-jre-headless"], "Java 17+ (a JRE)")


def kafka_libs() -> Path:
    """Directory of the Kafka broker jars, fetched once with Maven into the user cache."""
    return maven_libs("kafka", KAFKA_VERSION, f"kafka_2.13-{KAFKA_VERSION}.jar")


ZOOKEEPER_VERSION = "3.8.4"


def zookeeper_libs() -> Path:
    """Directory of the ZooKeeper server jars (the ClickHouse cluster's coordination service)."""
    return maven_libs("zookeeper", ZOOKEEPER_VERSION, f"zookeeper-{ZOOKEEPER_VERSION}.jar")


def maven_libs(name: str, version: str, main_jar: str) -> Path:
    """Directory of the jars ``deploy/<name>/pom.xml`` lists, fetched once with Maven into the
    user cache (no website download, no Docker)."""
    libs = cache_dir() / f"{name}-{version}"
    if (libs / main_jar).exists():
        return libs
    mvn = ensure_tool(("mvn",), ["maven"], "Maven (mvn)")
    java()  # mvn needs a JDK/JRE too: fail with the clearer message first
    tmp = libs.with_name(f"{libs.name}.tmp{os.getpid()}")
    print(
        f"  fetching {name} {version} jars from Maven Central into {libs}...",
        file=sys.stderr,
        flush=True,
    )
    done = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(DEPLOY / name / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StackError(
            f"mvn could not fetch the {name} jars (is Maven Central reachable?):\n"
            + (done.stdout + done.stderr).strip()[-2000:]
        )
    try:
        tmp.rename(libs)  # atomic: a concurrent checkout either wins or finds it complete
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return libs
