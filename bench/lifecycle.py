"""What each production feature of issue 18 costs a deploy, and how fast the way back is, into one moto_server.

    .venv/bin/python -m bench.lifecycle

The real ``apid`` binary in a subprocess, linked to the emulator without a control
plane, on a copy of the example with a ``dev`` and a ``prod`` stage (prod on a
custom domain whose zone is in the emulator). Each figure is one timed run after
the same steps warmed the bundle cache; the machine is shared, so read the ratios.

On the emulator CloudFormation is instant and CodeDeploy does not run: these are
the engine's and the CLI's own costs. The notes add what AWS adds, from AWS's
documentation, which no emulator can show.
"""

import shutil
import sys
import tempfile
from pathlib import Path

import boto3

from bench.deploys import BENCH_CACHE, REGION, Bench, _edit
from bench.figures import Figure, table
from api_direct.local.emulator import running_moto_server

DOMAIN, ZONE = "api.bench.example.com", "bench.example.com"
STAGES = f"""
[deploy]
default_stage = "dev"

[stages.prod]
domain = "{DOMAIN}"
"""


def _cost(name: str, ours: float, base: float, base_name: str, note: str) -> Figure:
    """A feature's cost against the same step without it: measured, with no target to meet."""
    return Figure(name, "s", ours, base, base_name, "measured (no target)", True, note)


def lifecycle_figures(bench: Bench) -> list[Figure]:
    toml = bench.project / "apid.toml"
    toml.write_text(toml.read_text() + STAGES)
    bench.apid("aws", "link")
    bench.apid("synth")  # warms the bundle cache
    route53 = boto3.client(
        "route53", endpoint_url=bench.endpoint, region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t"
    )
    route53.create_hosted_zone(Name=ZONE, CallerReference="bench")

    plain = bench.apid("deploy")[0]
    with_domain = bench.apid("deploy", "--stage", "prod")[0]
    secret = bench.apid("secrets", "set", "UPSTREAM_TOKEN", "--stage", "prod", stdin="bench-secret\n")[0]
    good = (bench.project / "weather" / "main.py").read_text()
    _edit(bench.project, "release 2")
    release = bench.apid("deploy", "--stage", "prod")[0]
    _edit(bench.project, "release 3")
    canary = bench.apid("deploy", "--stage", "prod", "--canary", "10%:5m")[0]
    rollback, rolled = bench.apid("rollback", "--stage", "prod")
    bench.apid("deploy", "--stage", "prod")  # back to release 3, no canary: the redeploy below starts from it
    (bench.project / "weather" / "main.py").write_text(good)
    redeploy = bench.apid("deploy", "--stage", "prod")[0]
    return [
        Figure(
            "rollback (`apid rollback` vs redeploying the previous release)",
            "s",
            rollback,
            redeploy,
            "apid deploy of the previous code",
            "<= 0.5x",
            rollback / redeploy <= 0.5,
            f"the whole CLI run (start, assume the deploy role, read the stack, list versions, move the alias);"
            f" the alias move itself took {rolled['seconds'] * 1000:.0f} ms. On AWS the redeploy also waits for"
            " CloudFormation (typically a minute or more for a function update), the rollback does not",
        ),
        _cost(
            "custom domain: first deploy of a stage with one vs without",
            with_domain,
            plain,
            "first deploy without a domain",
            "certificate requested, its record written to the zone, then checked every 10 s until issued (one wait"
            " here: most of the difference), then 4 more resources (domain, mapping, A and AAAA). On AWS add ACM's"
            " DNS validation (minutes, once per domain: later deploys reuse the"
            " certificate) and the regional domain's creation",
        ),
        _cost(
            "a release with --canary 10%:5m vs without",
            canary,
            release,
            "a code release without a canary",
            "4 more resources (CodeDeploy application, group and config, the alarm) and the alias's update policy;"
            " on AWS the deploy also waits the canary's 5 minutes plus CodeDeploy's shift (CodeDeploy does not run"
            " on the emulator)",
        ),
        Figure(
            "apid secrets set (a SecureString in the linked account)",
            "s",
            secret,
            None,
            "",
            "measured (no target)",
            True,
            "a whole CLI run; secrets add nothing to a deploy (the grant and the path are always in the stack),"
            " and the app reads them once per cold start (one GetParametersByPath per 10 secrets)",
        ),
    ]


def measure() -> list[Figure]:
    BENCH_CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="apid-bench-lifecycle-") as work, running_moto_server() as endpoint:
        bench = Bench(Path(work), endpoint)
        shutil.rmtree(bench.cdk_dir)
        figures = lifecycle_figures(bench)
        print(table(figures), file=sys.stderr, flush=True)
    return figures


if __name__ == "__main__":
    print(table(measure()))
