"""Stand-in for ``launch.substitutions`` (tests only)."""


class LaunchConfiguration:
    def __init__(self, variable_name, *, default=None) -> None:
        self.variable_name = variable_name
        self.default = default
