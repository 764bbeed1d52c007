"""The fdirlab controller: a P4Runtime client, pure rule computation and the `fdirctl` CLI.

Run it as `python -m controller` (= fdirctl); see controller/cli.py for the commands.
"""
