"""Development harness: drives the SDK's dynamic-provider host the way the Pulumi engine does.

Used by the tests, the demo and the benchmarks; not part of the installed package.
"""
