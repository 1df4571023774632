"""Policies: the protocol, each task's oracle and graded zoo, and the loading of
user policies from `module:attribute`."""

from policies.loading import load_policy, policy_names
from policies.perturbed import oracle
from policies.protocol import Actor, NumpyPolicy, Policy, as_actor
from policies.zoo import zoo

__all__ = [
    "Actor", "NumpyPolicy", "Policy", "as_actor", "load_policy", "oracle", "policy_names", "zoo",
]  # fmt: skip
