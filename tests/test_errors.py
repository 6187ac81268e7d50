"""The error tree: one root, real codes and HTTP statuses, builtin mix-ins, picklable."""

from __future__ import annotations

import copy
import inspect
import pickle

import pytest

from cloudbackup import errors

ALL = [getattr(errors, name) for name in errors.__all__]

#: Each error class with its direct parents (the tree drawn in the module docstring).
TREE = {
    errors.CloudBackupError: (Exception,),
    errors.InvalidParameterError: (errors.CloudBackupError, ValueError),
    errors.DependencyViolationError: (errors.InvalidParameterError,),
    errors.InvalidScheduleError: (errors.InvalidParameterError,),
    errors.ResourceNotFoundError: (errors.CloudBackupError, LookupError),
    errors.IncorrectStatusError: (errors.CloudBackupError,),
    errors.QuotaExceededError: (errors.CloudBackupError,),
    errors.OperationDeniedError: (errors.CloudBackupError, PermissionError),
    errors.KmsKeyError: (errors.CloudBackupError,),
    errors.UnsupportedOperationError: (errors.CloudBackupError,),
    errors.StorageBackendError: (errors.CloudBackupError, OSError),
    errors.DryRunOperationError: (errors.CloudBackupError,),
}

DEFAULT_STATUS = {
    errors.CloudBackupError: 500,
    errors.InvalidParameterError: 400,
    errors.DependencyViolationError: 400,
    errors.InvalidScheduleError: 400,
    errors.ResourceNotFoundError: 404,
    errors.IncorrectStatusError: 403,
    errors.QuotaExceededError: 403,
    errors.OperationDeniedError: 403,
    errors.KmsKeyError: 403,
    errors.UnsupportedOperationError: 400,
    errors.StorageBackendError: 500,
    errors.DryRunOperationError: 400,
}


def test_all_lists_every_error_class() -> None:
    """errors.__all__ names exactly the classes of the tree, sorted."""
    assert sorted(errors.__all__) == errors.__all__
    assert set(TREE) == set(ALL)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_tree_shape(cls: type[errors.CloudBackupError]) -> None:
    """Each class has exactly the documented parents, in order."""
    assert TREE[cls] == cls.__bases__


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_class_is_drawn_in_the_docstring(cls: type[errors.CloudBackupError]) -> None:
    """The module docstring's tree mentions every class."""
    assert errors.__doc__ is not None
    assert cls.__name__ in errors.__doc__


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_defaults(cls: type[errors.CloudBackupError]) -> None:
    """Without code/status an error takes its class defaults; ids default empty."""
    error = cls("it broke")
    assert cls.default_code == error.code
    assert DEFAULT_STATUS[cls] == error.http_status
    assert () == error.ids
    assert "" == error.recommend
    assert "it broke" == error.message


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_fields_round_trip_through_pickle(cls: type[errors.CloudBackupError]) -> None:
    """Every field survives pickling, and the class too."""
    error = cls(
        "Disk d-1 is busy.",
        code="IncorrectDiskStatus",
        http_status=409,
        ids=["d-1", "i-2"],
        recommend="Wait.",
    )
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        clone = pickle.loads(pickle.dumps(error, protocol=protocol))
        assert type(error) is type(clone)
        assert error == clone
        assert ("IncorrectDiskStatus", 409, ("d-1", "i-2"), "Wait.", "Disk d-1 is busy.") == (
            clone.code,
            clone.http_status,
            clone.ids,
            clone.recommend,
            clone.message,
        )


def test_copy_keeps_fields() -> None:
    """copy.copy and deepcopy keep the fields (they use __reduce__)."""
    error = errors.QuotaExceededError("full", code="QuotaExceed.Snapshot", ids=("d-1",))
    assert error == copy.copy(error)
    assert error == copy.deepcopy(error)


def test_str_carries_code_message_and_recommendation() -> None:
    """str(error) is 'code: message Recommend: …'."""
    error = errors.ResourceNotFoundError(
        "No such disk.", code="InvalidDiskId.NotFound", recommend="Check the id."
    )
    assert "InvalidDiskId.NotFound: No such disk. Recommend: Check the id." == str(error)
    assert "InvalidDiskId.NotFound: No such disk." == str(
        errors.ResourceNotFoundError("No such disk.", code="InvalidDiskId.NotFound")
    )


def test_repr_names_the_class_and_code() -> None:
    """repr shows the class, code, message and ids."""
    error = errors.OperationDeniedError("no", code="SnapshotCreatedDisk", ids=("s-1",))
    assert "OperationDeniedError(code='SnapshotCreatedDisk', message='no', ids=('s-1',))" == repr(
        error
    )


def test_equality_depends_on_class_and_fields() -> None:
    """Errors compare equal only with the same class and fields."""
    a = errors.IncorrectStatusError("x", code="C")
    assert a == errors.IncorrectStatusError("x", code="C")
    assert a != errors.IncorrectStatusError("x", code="D")
    assert a != errors.QuotaExceededError("x", code="C")
    assert hash(a) == hash(errors.IncorrectStatusError("x", code="C"))


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.InvalidParameterError, ValueError),
        (errors.DependencyViolationError, ValueError),
        (errors.ResourceNotFoundError, LookupError),
        (errors.OperationDeniedError, PermissionError),
        (errors.StorageBackendError, OSError),
    ],
)
def test_builtin_mixins_catch(cls: type[errors.CloudBackupError], builtin: type) -> None:
    """A builtin except clause catches the matching cloudbackup error."""
    with pytest.raises(builtin):
        raise cls("boom")


def test_every_error_is_a_cloud_backup_error() -> None:
    """Catching CloudBackupError catches every class of the tree."""
    for cls in ALL:
        with pytest.raises(errors.CloudBackupError):
            raise cls("boom")


def test_ids_are_a_tuple_of_strings() -> None:
    """ids given as any iterable become a tuple."""
    error = errors.CloudBackupError("x", ids=iter(["a", "b"]))
    assert ("a", "b") == error.ids


def test_constructor_is_keyword_only_after_message() -> None:
    """code, http_status, ids and recommend are keyword-only."""
    params = inspect.signature(errors.CloudBackupError.__init__).parameters
    kinds = {name: p.kind for name, p in params.items()}
    for name in ("code", "http_status", "ids", "recommend"):
        assert inspect.Parameter.KEYWORD_ONLY == kinds[name]


def test_real_errors_from_the_model_pickle() -> None:
    """An error raised by the model itself survives pickling with its code."""
    from cloudbackup import Cloud

    with pytest.raises(errors.ResourceNotFoundError) as info:
        Cloud().ecs("cn-hangzhou").describe_disk("d-missing")
    clone = pickle.loads(pickle.dumps(info.value))
    assert "InvalidDiskId.NotFound" == clone.code
    assert ("d-missing",) == clone.ids
    assert info.value == clone
