"""fdirctl's commands, one module each: `register(sub)` adds its argument parser, `run(session)`
does it and returns (json, text, exit code). controller/cli.py only wires them."""
