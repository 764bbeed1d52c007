"""softswitch: a P4Runtime software switch that runs p4c's BMv2 JSON (v1model) on Linux interfaces.

Drop-in stand-in for BMv2's simple_switch_grpc; see softswitch.cli for the command line.
"""
__all__ = ["__version__"]
__version__ = "0.1.0"
