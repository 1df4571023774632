"""Shared fixtures: every task-level test runs over every task."""

import pytest

from envs.registry import NATIVE_TASKS, TASK_NAMES

NATIVE = tuple(NATIVE_TASKS)
ALL = TASK_NAMES


@pytest.fixture(params=NATIVE)
def native_task(request):
    from envs import get_task

    return get_task(request.param)


@pytest.fixture(params=ALL)
def any_task(request):
    from envs import get_task

    return get_task(request.param)
