"""KMS: keys, states, deletion windows, aliases, ARNs, the ECS service key, Encrypt/Decrypt."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import REGION, ZONE, make_cloud, raises_code, rejected_unchanged
from cloudbackup import (
    DEFAULT_ACCOUNT_ID,
    ECS_SERVICE_ALIAS,
    Cloud,
    KeySpec,
    KeyState,
    KeyUsage,
    errors,
)
from cloudbackup.testing import check_invariants

DAY = dt.timedelta(days=1)


def test_create_key_defaults() -> None:
    """CreateKey: an Enabled AES-256 ENCRYPT/DECRYPT software key owned by the account."""
    cloud = make_cloud()
    key = cloud.kms(REGION).create_key(description="disk key")
    assert (
        KeySpec.Aliyun_AES_256,
        KeyUsage.ENCRYPT_DECRYPT,
        KeyState.Enabled,
        "SOFTWARE",
        DEFAULT_ACCOUNT_ID,
        "disk key",
        cloud.now(),
        None,
        False,
        REGION,
    ) == (
        key.key_spec,
        key.key_usage,
        key.key_state,
        key.protection_level,
        key.creator,
        key.description,
        key.creation_date,
        key.delete_date,
        key.service_key,
        key.region_id,
    )
    assert key.key_id.startswith("key-bp1")


@pytest.mark.parametrize(
    ("spec", "usage"),
    [
        ("Aliyun_AES_256", "ENCRYPT/DECRYPT"),
        ("Aliyun_SM4", "ENCRYPT/DECRYPT"),
        ("RSA_2048", "ENCRYPT/DECRYPT"),
        ("RSA_2048", "SIGN/VERIFY"),
        ("EC_P256", "SIGN/VERIFY"),
        ("EC_P256K", "SIGN/VERIFY"),
        ("EC_SM2", "ENCRYPT/DECRYPT"),
        ("EC_SM2", "SIGN/VERIFY"),
    ],
)
def test_key_specs_and_usages(spec: str, usage: str) -> None:
    """Every real spec can be created with a usage it supports."""
    key = make_cloud().kms(REGION).create_key(key_spec=spec, key_usage=usage)
    assert (KeySpec(spec), KeyUsage(usage)) == (key.key_spec, key.key_usage)
    assert key.key_spec.symmetric is (spec in ("Aliyun_AES_256", "Aliyun_SM4"))


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"key_spec": "AES_128"}, "KeySpec"),
        ({"key_usage": "WRAP"}, "KeyUsage"),
        ({"key_usage": "SIGN/VERIFY"}, "ENCRYPT/DECRYPT"),
        ({"key_spec": "EC_P256", "key_usage": "ENCRYPT/DECRYPT"}, "SIGN/VERIFY"),
        ({"protection_level": "CLOUD"}, "ProtectionLevel"),
        ({"description": "d" * 8193}, "Description"),
    ],
)
def test_create_key_validates(kwargs: dict[str, object], parameter: str) -> None:
    """Bad specs, usages and levels are KMS's plain InvalidParameter (400), naming the problem."""
    cloud = make_cloud()
    error = rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidParameter",
        lambda: cloud.kms(REGION).create_key(**kwargs),  # type: ignore[arg-type]
    )
    assert (400, True) == (error.http_status, parameter in error.message)


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [({"page_number": 0}, "PageNumber"), ({"page_size": 101}, "PageSize")],
)
def test_list_keys_paging_is_checked(kwargs: dict[str, int], parameter: str) -> None:
    """ListKeys paging out of range is the plain InvalidParameter naming the parameter."""
    error = raises_code(
        errors.InvalidParameterError,
        "InvalidParameter",
        lambda: make_cloud().kms(REGION).list_keys(**kwargs),
    )
    assert parameter in error.message


def test_arns_name_region_account_and_key() -> None:
    """Key ARNs are acs:kms:{region}:{account}:key/{id}; alias ARNs end in the alias."""
    cloud = Cloud(account_id="9876543210987654")
    kms = cloud.kms("cn-shanghai")
    key = kms.create_key()
    assert f"acs:kms:cn-shanghai:9876543210987654:key/{key.key_id}" == key.arn
    alias = kms.create_alias("alias/data", key.key_id)
    assert "acs:kms:cn-shanghai:9876543210987654:alias/data" == alias.alias_arn


def test_describe_key_by_id_arn_and_alias() -> None:
    """DescribeKey accepts the id, the ARN, an alias and an alias ARN."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    key = kms.create_key()
    alias = kms.create_alias("alias/app", key.key_id)
    for name in (key.key_id, key.arn, "alias/app", alias.alias_arn):
        assert key == kms.describe_key(name)


@pytest.mark.parametrize("bad", ["key-nope", "alias/nope", "acs:kms:cn-hangzhou:1:key/x"])
def test_describe_unknown_key(bad: str) -> None:
    """An unknown key is Forbidden.KeyNotFound (404)."""
    error = raises_code(
        errors.ResourceNotFoundError,
        "Forbidden.KeyNotFound",
        lambda: make_cloud().kms(REGION).describe_key(bad),
    )
    assert 404 == error.http_status


def test_describe_key_refuses_non_strings() -> None:
    """A non-string KeyId is the plain InvalidParameter."""
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter",
        lambda: make_cloud().kms(REGION).describe_key(None),  # type: ignore[arg-type]
    )


def test_keys_are_regional() -> None:
    """A key of one region is not found in another, not even by its ARN."""
    cloud = make_cloud()
    key = cloud.kms(REGION).create_key()
    for name in (key.key_id, key.arn):
        raises_code(
            errors.ResourceNotFoundError,
            "Forbidden.KeyNotFound",
            lambda name=name: cloud.kms("cn-shanghai").describe_key(name),
        )


def test_list_keys_pages() -> None:
    """ListKeys pages through the region's keys with TotalCount."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    made = {kms.create_key().key_id for _ in range(5)}
    cloud.kms("cn-beijing").create_key()
    first = kms.list_keys(page_size=2)
    pages = [kms.list_keys(page_number=n, page_size=2) for n in (1, 2, 3)]
    assert (5, 2, 1) == (first.total_count, first.page_size, first.page_number)
    assert made == {k.key_id for p in pages for k in p.items}
    assert [2, 2, 1] == [len(p.items) for p in pages]
    raises_code(
        errors.InvalidParameterError,
        "InvalidParameter",
        lambda: kms.list_keys(page_size=0),
    )


def test_disable_and_enable() -> None:
    """DisableKey and EnableKey flip KeyState; repeating is harmless."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    key = kms.create_key().key_id
    kms.disable_key(key)
    kms.disable_key(key)
    assert KeyState.Disabled is kms.describe_key(key).key_state
    kms.enable_key(key)
    assert KeyState.Enabled is kms.describe_key(key).key_state


@pytest.mark.parametrize("days", [6, 367, 0, "7", None])
def test_deletion_window_is_7_to_366_days(days: object) -> None:
    """PendingWindowInDays outside 7–366 is refused."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    key = kms.create_key().key_id
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidParameter",
        lambda: kms.schedule_key_deletion(key, days),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("days", [7, 366])
def test_key_is_deleted_when_its_date_arrives(days: int) -> None:
    """PendingDeletion with DeleteDate; the key and its aliases vanish on that date."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    key = kms.create_key().key_id
    kms.create_alias("alias/doomed", key)
    kms.schedule_key_deletion(key, days)
    described = kms.describe_key(key)
    due = cloud.now() + days * DAY
    assert (KeyState.PendingDeletion, due) == (described.key_state, described.delete_date)
    cloud.run_until(due - dt.timedelta(seconds=1))
    assert KeyState.PendingDeletion is kms.describe_key(key).key_state
    cloud.run_until(due)
    raises_code(
        errors.ResourceNotFoundError, "Forbidden.KeyNotFound", lambda: kms.describe_key(key)
    )
    assert [] == kms.list_aliases()


def test_cancel_deletion_restores_the_key() -> None:
    """CancelKeyDeletion makes the key Enabled again and it survives the old date."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    key = kms.create_key().key_id
    kms.schedule_key_deletion(key, 7)
    kms.cancel_key_deletion(key)
    described = kms.describe_key(key)
    assert (KeyState.Enabled, None) == (described.key_state, described.delete_date)
    cloud.advance(30 * DAY)
    assert KeyState.Enabled is kms.describe_key(key).key_state


def test_rescheduled_deletion_uses_the_new_date() -> None:
    """Cancel then schedule again: only the latest DeleteDate counts."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    key = kms.create_key().key_id
    start = cloud.now()
    kms.schedule_key_deletion(key, 7)
    cloud.advance(DAY)
    kms.cancel_key_deletion(key)
    kms.schedule_key_deletion(key, 10)
    cloud.run_until(start + 8 * DAY)
    assert KeyState.PendingDeletion is kms.describe_key(key).key_state
    cloud.run_until(start + 11 * DAY)
    assert 0 == kms.list_keys().total_count


def test_state_rules_of_pending_deletion() -> None:
    """A key pending deletion cannot be enabled, disabled, scheduled again or aliased; cancel
    needs it: KMS's Rejected.StateModifiedFailed (409)."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    key = kms.create_key().key_id
    error = rejected_unchanged(
        cloud,
        errors.OperationDeniedError,
        "Rejected.StateModifiedFailed",
        lambda: kms.cancel_key_deletion(key),
    )
    assert 409 == error.http_status
    kms.schedule_key_deletion(key, 30)
    for call in (
        lambda: kms.enable_key(key),
        lambda: kms.disable_key(key),
        lambda: kms.schedule_key_deletion(key, 7),
        lambda: kms.create_alias("alias/late", key),
    ):
        error = rejected_unchanged(
            cloud, errors.OperationDeniedError, "Rejected.StateModifiedFailed", call
        )
        assert 409 == error.http_status


def test_update_alias_to_a_key_pending_deletion() -> None:
    """UpdateAlias onto a key pending deletion is Rejected.PendingDeletion (409); the state of
    the key the alias points at now does not matter."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    old, doomed = kms.create_key().key_id, kms.create_key().key_id
    kms.create_alias("alias/app", old)
    kms.schedule_key_deletion(doomed, 7)
    error = rejected_unchanged(
        cloud,
        errors.KmsKeyError,
        "Rejected.PendingDeletion",
        lambda: kms.update_alias("alias/app", doomed),
    )
    assert (409, (doomed, "alias/app")) == (error.http_status, error.ids)
    kms.schedule_key_deletion(old, 7)
    kms.cancel_key_deletion(doomed)
    assert doomed == kms.update_alias("alias/app", doomed).key_id


def test_disabled_key_can_be_scheduled_for_deletion_and_comes_back_enabled() -> None:
    """A Disabled key can be scheduled; cancelling returns it Enabled."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    key = kms.create_key().key_id
    kms.disable_key(key)
    kms.schedule_key_deletion(key, 7)
    kms.cancel_key_deletion(key)
    assert KeyState.Enabled is kms.describe_key(key).key_state


# -- aliases -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "alias/acs",
        "alias/acs/ecs",
        "alias/acsfoo",
        "key/abc1234",
        "alias",
        "alias/",
        "x" * 300,
        "alias/x\ud800",
    ],
)
def test_alias_names_are_checked(name: str) -> None:
    """Aliases start with alias/ and not with the reserved alias/acs."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    key = kms.create_key().key_id
    error = rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidParameter",
        lambda: kms.create_alias(name, key),
    )
    assert "alias" in error.message.lower()


def test_alias_lifecycle() -> None:
    """Create, list, repoint, list by key, delete; duplicates and unknowns are refused."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    a, b = kms.create_key().key_id, kms.create_key().key_id
    kms.create_alias("alias/one", a)
    error = rejected_unchanged(
        cloud,
        errors.OperationDeniedError,
        "AliasAlreadyExists",
        lambda: kms.create_alias("alias/one", b),
    )
    assert 400 == error.http_status
    kms.create_alias("alias/two", a)
    assert ["alias/one", "alias/two"] == [x.alias_name for x in kms.list_aliases()]
    kms.update_alias("alias/one", b)
    assert b == kms.describe_key("alias/one").key_id
    assert ["alias/two"] == [x.alias_name for x in kms.list_aliases_by_key_id(a)]
    kms.delete_alias("alias/two")
    for call in (lambda: kms.delete_alias("alias/two"), lambda: kms.update_alias("alias/two", a)):
        rejected_unchanged(cloud, errors.ResourceNotFoundError, "Forbidden.AliasNotFound", call)


def test_alias_to_an_unknown_key() -> None:
    """An alias for a key that does not exist is Forbidden.KeyNotFound."""
    cloud = make_cloud()
    rejected_unchanged(
        cloud,
        errors.ResourceNotFoundError,
        "Forbidden.KeyNotFound",
        lambda: cloud.kms(REGION).create_alias("alias/x", "key-missing"),
    )


# -- the ECS service key -------------------------------------------------------------


def test_service_key_is_created_on_first_use() -> None:
    """alias/acs/ecs does not exist until ECS first encrypts without a named key."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    raises_code(
        errors.ResourceNotFoundError,
        "Forbidden.KeyNotFound",
        lambda: kms.describe_key(ECS_SERVICE_ALIAS),
    )
    ecs = cloud.ecs(REGION)
    first = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20, encrypted=True)
    second = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20, encrypted=True)
    key = kms.describe_key(ECS_SERVICE_ALIAS)
    assert "alias/acs/ecs" == ECS_SERVICE_ALIAS
    assert (True, "Ecs", KeySpec.Aliyun_AES_256) == (key.service_key, key.creator, key.key_spec)
    assert {key.key_id} == {ecs.describe_disk(d).kms_key_id for d in (first, second)}
    assert 1 == kms.list_keys().total_count


def test_each_region_gets_its_own_service_key() -> None:
    """Service keys are per region."""
    cloud = make_cloud()
    for region, zone in (("cn-hangzhou", ZONE), ("cn-beijing", "cn-beijing-a")):
        cloud.ecs(region).create_disk(
            zone_id=zone, disk_category="cloud_essd", size=20, encrypted=True
        )
    a = cloud.kms("cn-hangzhou").describe_key(ECS_SERVICE_ALIAS)
    b = cloud.kms("cn-beijing").describe_key(ECS_SERVICE_ALIAS)
    assert a.key_id != b.key_id
    assert ("cn-hangzhou", "cn-beijing") == (a.region_id, b.region_id)


def test_service_key_cannot_be_managed() -> None:
    """A service key can be viewed and used but not disabled, deleted or aliased."""
    cloud = make_cloud()
    cloud.ecs(REGION).create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20, encrypted=True)
    kms = cloud.kms(REGION)
    key = kms.describe_key(ECS_SERVICE_ALIAS).key_id
    for call in (
        lambda: kms.disable_key(key),
        lambda: kms.enable_key(key),
        lambda: kms.schedule_key_deletion(key, 7),
        lambda: kms.cancel_key_deletion(key),
        lambda: kms.create_alias("alias/mine", key),
    ):
        error = rejected_unchanged(
            cloud, errors.OperationDeniedError, "Forbidden.NoPermission", call
        )
        assert 403 == error.http_status
    rejected_unchanged(
        cloud,
        errors.InvalidParameterError,
        "InvalidParameter",
        lambda: kms.delete_alias(ECS_SERVICE_ALIAS),
    )


@pytest.mark.parametrize("spec", ["RSA_2048", "EC_SM2"])
def test_asymmetric_keys_cannot_encrypt_disks(spec: str) -> None:
    """An asymmetric key refuses disk encryption: InvalidKMSKeyId.NotSymmetric."""
    cloud = make_cloud()
    key = cloud.kms(REGION).create_key(key_spec=spec).key_id
    rejected_unchanged(
        cloud,
        errors.KmsKeyError,
        "InvalidKMSKeyId.NotSymmetric",
        lambda: cloud.ecs(REGION).create_disk(
            zone_id=ZONE, disk_category="cloud_essd", size=20, encrypted=True, kms_key_id=key
        ),
    )


def test_disk_encryption_names_keys_by_alias_or_arn() -> None:
    """KMSKeyId may be an alias or an ARN; the disk records the key id."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    key = kms.create_key()
    kms.create_alias("alias/disks", key.key_id)
    ecs = cloud.ecs(REGION)
    for name in ("alias/disks", key.arn):
        disk = ecs.create_disk(zone_id=ZONE, disk_category="cloud_essd", size=20, kms_key_id=name)
        assert key.key_id == ecs.describe_disk(disk).kms_key_id


# -- Encrypt / Decrypt ---------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=1, max_size=6144), st.sampled_from(["Aliyun_AES_256", "Aliyun_SM4"]))
def test_encrypt_decrypt_round_trip(plaintext: bytes, spec: str) -> None:
    """Decrypt(Encrypt(p)) == p for both symmetric specs; the ciphertext hides p."""
    kms = make_cloud().kms(REGION)
    key = kms.create_key(key_spec=spec).key_id
    blob = kms.encrypt(key, plaintext)
    assert plaintext == kms.decrypt(blob)
    if len(plaintext) >= 16:
        assert plaintext not in blob.encode()


def test_decrypt_needs_the_key_enabled() -> None:
    """Disabled or pending-deletion keys refuse Encrypt and Decrypt with KMS's
    Rejected.Disabled / Rejected.PendingDeletion (409); re-enabling restores them."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    key = kms.create_key().key_id
    blob = kms.encrypt(key, b"secret")
    kms.disable_key(key)
    for call in (lambda: kms.decrypt(blob), lambda: kms.encrypt(key, b"x")):
        error = rejected_unchanged(cloud, errors.KmsKeyError, "Rejected.Disabled", call)
        assert 409 == error.http_status
    kms.enable_key(key)
    kms.schedule_key_deletion(key, 7)
    for call in (lambda: kms.decrypt(blob), lambda: kms.encrypt(key, b"x")):
        error = rejected_unchanged(cloud, errors.KmsKeyError, "Rejected.PendingDeletion", call)
        assert 409 == error.http_status
    kms.cancel_key_deletion(key)
    assert b"secret" == kms.decrypt(blob)


@pytest.mark.parametrize("blob", ["not base64!", "", "aGVsbG8="])
def test_decrypt_refuses_garbage(blob: str) -> None:
    """A blob KMS did not produce is the plain InvalidParameter, or names no key."""
    kms = make_cloud().kms(REGION)
    with pytest.raises(errors.CloudBackupError) as info:
        kms.decrypt(blob)
    assert info.value.code in {"InvalidParameter", "Forbidden.KeyNotFound"}


def test_encrypt_validates() -> None:
    """Empty or oversized plaintext and asymmetric keys are refused."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    key = kms.create_key().key_id
    rsa = kms.create_key(key_spec="RSA_2048").key_id
    for plaintext in (b"", b"x" * 6145):
        raises_code(
            errors.InvalidParameterError,
            "InvalidParameter",
            lambda plaintext=plaintext: kms.encrypt(key, plaintext),
        )
    error = raises_code(errors.KmsKeyError, "UnsupportedOperation", lambda: kms.encrypt(rsa, b"x"))
    assert 400 == error.http_status


@pytest.mark.parametrize("spec", ["Aliyun_AES_256", "Aliyun_SM4"])
@pytest.mark.parametrize("tail", [b"", b"\x00" * 5, b"\x00" * 15, b"\x00" * 27])
def test_decrypt_refuses_truncated_ciphertext(spec: str, tail: bytes) -> None:
    """A blob that names a real key but is too short to hold a nonce and tag is
    the plain InvalidParameter, not a raw ValueError."""
    import base64

    kms = make_cloud().kms(REGION)
    key = kms.create_key(key_spec=spec).key_id
    blob = base64.b64encode(key.encode() + b"\x00" + tail).decode()
    raises_code(errors.InvalidParameterError, "InvalidParameter", lambda: kms.decrypt(blob))


def test_alias_calls_with_a_lone_surrogate_are_invalid_parameters() -> None:
    """update_alias and delete_alias of a name holding a lone surrogate are 400, not 500."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    key = kms.create_key().key_id
    for call in (
        lambda: kms.update_alias("alias/\udfff", key),
        lambda: kms.delete_alias("alias/\udfff"),
    ):
        error = rejected_unchanged(cloud, errors.InvalidParameterError, "InvalidParameter", call)
        assert 400 == error.http_status


def test_deleting_a_key_reads_only_its_own_aliases() -> None:
    """Key deletion and list_aliases_by_key_id read the key's aliases, not the region's."""
    cloud = make_cloud()
    kms = cloud.kms(REGION)
    crowd = kms.create_key().key_id
    for n in range(200):
        kms.create_alias(f"alias/crowd-{n:03d}", crowd)
    doomed = kms.create_key().key_id
    kms.create_alias("alias/doomed-a", doomed)
    kms.create_alias("alias/doomed-b", crowd)
    kms.update_alias("alias/doomed-b", doomed)
    kms.schedule_key_deletion(doomed, 7)
    backend = cloud.backend
    scanned: list[tuple[str, str]] = []
    original = backend.scan

    def counting_scan(kind: str, partition: str) -> object:
        scanned.append((kind, partition))
        return original(kind, partition)

    backend.scan = counting_scan  # type: ignore[method-assign]
    names = [a.alias_name for a in kms.list_aliases_by_key_id(doomed)]
    cloud.advance(dt.timedelta(days=8))
    backend.scan = original  # type: ignore[method-assign]
    assert (["alias/doomed-a", "alias/doomed-b"], []) == (
        names,
        [call for call in scanned if call[0] == "kms.alias"],
    )
    remaining = [a.alias_name for a in kms.list_aliases()]
    assert (200, False) == (len(remaining), any("doomed" in name for name in remaining))
    check_invariants(cloud)
