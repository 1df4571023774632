"""A lab's own robot, brought to worldgym without editing worldgym.

This package stands for a user's code: it lives outside worldgym, and worldgym
reaches it only through `module:attribute` specs (or the entry points a test
installs for it). It adapts Gymnasium's Reacher-v5 with the lab's own success
rule and renderer (`lab_reacher.task`), brings its own policies
(`lab_reacher.policies`) and a world-model family of its own
(`lab_reacher.family`).
"""
