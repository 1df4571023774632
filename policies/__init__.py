"""Policies: the protocol, each task's oracle and graded zoo, and the loading of
user policies from `module:attribute`."""

from worldgym.policies import suites as _suites  # noqa: E402,F401  (registers the suites' sets)
from worldgym.policies.loading import load_policy, policy_names
from worldgym.policies.perturbed import oracle
from worldgym.policies.protocol import Actor, NumpyPolicy, Policy, as_actor
from worldgym.policies.zoo import zoo

__all__ = [
    "Actor", "NumpyPolicy", "Policy", "as_actor", "load_policy", "oracle", "policy_names", "zoo",
]  # fmt: skip
