"""Publish a synthesized stack's file assets to the link's asset bucket.

Assets are named by content hash, so one that is already in the bucket is never
uploaded again, and publishing is safe to repeat after a crash. Folders go up as
the zips :mod:`.zips` keeps (once per machine, often made ahead of the upload).
Every request names the expected bucket owner, so a bucket of the same name in
someone else's account is never written to.
"""

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from api_direct.deploy.aws import aws_errors, error_code
from api_direct.deploy.synthesis import FileAsset
from api_direct.deploy.zips import zipped


@dataclass(frozen=True)
class PublishedAsset:
    asset: FileAsset
    bucket: str
    key: str
    uploaded: bool  # False when the bucket already had it
    size: int


def resolve(name: str, account_id: str, region: str) -> str:
    """Fill the ``${AWS::AccountId}``/``${AWS::Region}`` placeholders of an asset destination."""
    return name.replace("${AWS::AccountId}", account_id).replace("${AWS::Region}", region)


#: Assets uploaded at once: a deploy's few bundles, zipped and sent side by side (zlib and sockets let go of the GIL).
MAX_PARALLEL_UPLOADS = 4


def publish_assets(
    s3: Any,
    assets: Sequence[FileAsset],
    *,
    account_id: str,
    region: str,
    on_published: Callable[[PublishedAsset], None] = lambda _: None,
) -> list[PublishedAsset]:
    """Publish every asset, several at once; ``on_published`` hears each as it is done, in this thread.

    Returns them in the order given. The first failure is raised once the uploads
    under way have ended, so none is left half-sent by this call.
    """
    if not assets:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_UPLOADS, len(assets))) as pool:
        futures = {
            pool.submit(publish_asset, s3, asset, account_id=account_id, region=region): index
            for index, asset in enumerate(assets)
        }
        done: dict[int, PublishedAsset] = {}
        for future in as_completed(futures):
            done[futures[future]] = published = future.result()
            on_published(published)
    return [done[index] for index in range(len(assets))]


def publish_asset(s3: Any, asset: FileAsset, *, account_id: str, region: str) -> PublishedAsset:
    bucket = resolve(asset.bucket_name, account_id, region)
    key = resolve(asset.object_key, account_id, region)
    with aws_errors(f"checking asset {key} in s3://{bucket}"):
        try:
            head = s3.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=account_id)
            return PublishedAsset(asset, bucket, key, uploaded=False, size=int(head.get("ContentLength", 0)))
        except ClientError as error:
            if error_code(error) not in ("404", "NoSuchKey", "NotFound"):
                raise
    payload = zipped(asset.asset_id, asset.source) if asset.packaging == "zip" else asset.source
    with aws_errors(f"uploading asset {key} to s3://{bucket}"), payload.open("rb") as body:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ExpectedBucketOwner=account_id)
    return PublishedAsset(asset, bucket, key, uploaded=True, size=payload.stat().st_size)
