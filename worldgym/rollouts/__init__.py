"""Running episodes: the real runner (MuJoCo and other Gymnasium tasks, in lockstep)
and the worker processes that spread jobs over cores. Below collection and
evaluation, which both run episodes through here."""
