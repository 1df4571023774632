"""Any policy in both worlds: plain callables, predict() objects and torch modules run
batched on the host, with the same seeds and outcome rules as JAX policies."""

import numpy as np
import pytest
from conftest import LAB_TASK

from worldgym.envs import get_task
from worldgym.evaluation.paired import evaluate_policies, load_policies
from worldgym.imagination.engine import initial_observations, rollout_policies
from worldgym.policies.host import HostPolicyError, host_policy
from worldgym.training.checkpoint import load_world_model

THREE_WAYS = ("lab_reacher.policies:pd_jax", "lab_reacher.policies:pd_numpy",
              "lab_reacher.policies:pd_predict")  # fmt: skip


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and len(message) < 400


@pytest.fixture(scope="module")
def lab(tiny_lab_run):
    run, _ = tiny_lab_run
    task = get_task(LAB_TASK)
    return task, load_world_model(run, task), run


def test_one_controller_written_three_ways_gets_the_same_verdict_in_both_worlds(lab, tmp_path):
    task, model, run = lab
    policies = load_policies(task, THREE_WAYS)
    assert [p.path for p in policies] == ["compiled", "host", "host"]
    assert policies[1].host.batched is False  # a per-observation function, called row by row
    assert policies[2].host.batched is True  # predict() takes the whole batch at once
    evaluation = evaluate_policies(task, model, policies, range(8), tmp_path, str(run),
                                   workers=1, progress=False)  # fmt: skip
    jax_way, *host_ways = evaluation.policies
    assert jax_way.real.success.any()  # the controller works for real
    for other in host_ways:
        np.testing.assert_array_equal(other.real.success, jax_way.real.success)
        np.testing.assert_allclose(other.real.observations, jax_way.real.observations,
                                   atol=1e-5)  # fmt: skip
        np.testing.assert_array_equal(other.imagined.success, jax_way.imagined.success)
        np.testing.assert_allclose(other.imagined.observations, jax_way.imagined.observations,
                                   atol=1e-4)  # fmt: skip
        np.testing.assert_array_equal(other.member_success, jax_way.member_success)
    assert [p.summary()["path"] for p in evaluation.policies] == ["compiled", "host", "host"]


def test_a_policy_that_goes_wrong_inside_imagination_is_one_sentence(lab):
    from lab_reacher.policies import BreaksLater

    task, model, _ = lab
    policy = host_policy(BreaksLater(good_calls=12), "breaks-later", task)
    with pytest.raises(HostPolicyError) as error:
        rollout_policies(model, [policy], initial_observations(task, range(3)),
                         __import__("jax").random.key(0), task)  # fmt: skip
    message = str(error.value)
    assert "Policy 'breaks-later' returned an action of shape (3,), but task LabReacher" in message
    assert one_sentence(message)


def test_out_of_range_and_nan_actions_of_host_policies_are_refused(lab):
    task, _, _ = lab
    for action, text in ((np.full(2, 3.0), "outside the bounds"), (np.full(2, np.nan),
                                                                   "non-finite")):  # fmt: skip
        with pytest.raises(ValueError, match=text) as error:
            host_policy(lambda obs, a=action: a, "bad", task)
        assert one_sentence(str(error.value))


def test_a_torch_module_runs_in_both_worlds(lab, tmp_path):
    torch = pytest.importorskip("torch")
    task, model, run = lab

    class Linear(torch.nn.Module):
        def forward(self, obs):
            return torch.tanh(obs[..., 8:10] * -5.0)

    policy = host_policy(Linear(), "torch-linear", task)
    assert policy.path == "host" and policy.host.batched
    init_obs = initial_observations(task, range(2))
    trajectories = rollout_policies(model, [policy], init_obs, __import__("jax").random.key(0),
                                    task)["torch-linear"]  # fmt: skip
    expected = np.tanh(np.asarray(init_obs)[:, 8:10] * -5.0)
    np.testing.assert_allclose(np.asarray(trajectories.actions[:, 0]), expected, atol=1e-6)
    from worldgym.rollouts.real import run_episodes_in_lockstep

    real = run_episodes_in_lockstep(task, policy, [0, 1])
    np.testing.assert_allclose([episode.actions[0] for episode in real], expected, atol=1e-6)
