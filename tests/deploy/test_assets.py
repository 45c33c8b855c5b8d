"""Asset publishing: deterministic zips, skip when present, never write to a stranger's bucket."""

import io
import zipfile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from api_direct.deploy import zips as zip_cache_module
from api_direct.deploy.assets import publish_asset, publish_assets, resolve
from api_direct.deploy.zips import zip_folder
from api_direct.deploy.synthesis import FileAsset
from api_direct.errors import AccessError, ApidError

ACCOUNT = "123456789012"


pytestmark = pytest.mark.usefixtures("zip_cache")


def test_zip_is_byte_identical_for_equal_content(folder: Path, tmp_path: Path) -> None:
    zip_folder(folder, tmp_path / "a.zip")
    (folder / "handler.py").touch()  # a new mtime must not change the archive
    zip_folder(folder, tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert archive.namelist() == ["handler.py", "pkg/__init__.py"]
        assert archive.getinfo("handler.py").external_attr >> 16 & 0o777 == 0o644


def test_placeholders_are_filled() -> None:
    assert (
        resolve("apid-assets-${AWS::AccountId}-${AWS::Region}", ACCOUNT, "eu-west-1")
        == f"apid-assets-{ACCOUNT}-eu-west-1"
    )


@mock_aws
def test_uploads_once_then_skips(folder: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=f"apid-assets-{ACCOUNT}-us-east-1")
    asset = FileAsset("id", folder, "zip", "apid-assets-${AWS::AccountId}-${AWS::Region}", "assets/abc.zip")
    first = publish_asset(s3, asset, account_id=ACCOUNT, region="us-east-1")
    second = publish_asset(s3, asset, account_id=ACCOUNT, region="us-east-1")
    assert (first.uploaded, second.uploaded) == (True, False)
    body = s3.get_object(Bucket=first.bucket, Key="assets/abc.zip")["Body"].read()
    assert zipfile.ZipFile(io.BytesIO(body)).read("pkg/__init__.py") == b"x = 1\n"
    assert second.size == len(body)


@mock_aws
def test_an_asset_is_zipped_once_for_every_bucket_it_goes_to(
    folder: Path, zip_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    for region in ("us-east-1", "eu-west-1"):
        s3.create_bucket(
            Bucket=f"apid-assets-{ACCOUNT}-{region}",
            **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}),
        )
    made: list[Path] = []
    monkeypatch.setattr(
        zip_cache_module,
        "zip_folder",
        lambda source, destination: made.append(destination) or zip_folder(source, destination),
    )
    asset = FileAsset("a1b2", folder, "zip", "apid-assets-${AWS::AccountId}-${AWS::Region}", "assets/a1b2.zip")
    published = [publish_asset(s3, asset, account_id=ACCOUNT, region=region) for region in ("us-east-1", "eu-west-1")]
    assert all(one.uploaded for one in published) and len(made) == 1
    assert [path.name for path in zip_cache.iterdir()] == ["a1b2.zip"]  # no temporary left beside it
    bodies = {s3.get_object(Bucket=one.bucket, Key=one.key)["Body"].read() for one in published}
    assert bodies == {(zip_cache / "a1b2.zip").read_bytes()}


@mock_aws
def test_a_deploys_assets_go_up_side_by_side_and_come_back_in_their_order(tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=f"apid-assets-{ACCOUNT}-us-east-1")
    bundles = []
    for name in ("app", "runtime", "mcp"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "handler.py").write_text(f"NAME = {name!r}\n")
        bucket = "apid-assets-${AWS::AccountId}-${AWS::Region}"
        bundles.append(FileAsset(f"id-{name}", tmp_path / name, "zip", bucket, f"assets/{name}.zip"))
    heard: list[str] = []
    published = publish_assets(
        s3, bundles, account_id=ACCOUNT, region="us-east-1", on_published=lambda one: heard.append(one.key)
    )
    assert [one.key for one in published] == ["assets/app.zip", "assets/runtime.zip", "assets/mcp.zip"]
    assert sorted(heard) == sorted(one.key for one in published) and all(one.uploaded for one in published)
    for one in published:
        body = s3.get_object(Bucket=one.bucket, Key=one.key)["Body"].read()
        assert zipfile.ZipFile(io.BytesIO(body)).read("handler.py").decode().endswith(f"{one.key[7:-4]!r}\n")


@mock_aws
def test_missing_bucket_is_a_clear_error(folder: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    asset = FileAsset("id", folder, "zip", "apid-assets-${AWS::AccountId}-${AWS::Region}", "assets/abc.zip")
    with pytest.raises(ApidError, match=r"apid-assets-123456789012-us-east-1") as error:
        publish_asset(s3, asset, account_id=ACCOUNT, region="us-east-1")
    assert "\n" not in str(error.value)


@mock_aws
def test_every_request_names_the_expected_bucket_owner(folder: Path) -> None:
    """A bucket of the same name owned by another account must never receive our code."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=f"apid-assets-{ACCOUNT}-us-east-1")
    sent: list[dict[str, object]] = []
    s3.meta.events.register("provide-client-params.s3.*", lambda params, **_: sent.append(dict(params)))
    asset = FileAsset("id", folder, "zip", "apid-assets-${AWS::AccountId}-${AWS::Region}", "assets/x.zip")
    publish_asset(s3, asset, account_id=ACCOUNT, region="us-east-1")
    assert len(sent) == 2 and all(p["ExpectedBucketOwner"] == ACCOUNT for p in sent)


def test_access_error_is_an_apid_error() -> None:
    assert issubclass(AccessError, ApidError)
