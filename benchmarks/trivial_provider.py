"""The baseline for the start-up figure: a dynamic provider that imports nothing of ours."""

from pulumi.dynamic import CheckResult, ResourceProvider


class TrivialProvider(ResourceProvider):
    def check(self, _olds, news):
        return CheckResult(news, [])
