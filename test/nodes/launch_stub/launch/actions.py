"""Stand-in for ``launch.actions`` (tests only)."""


class DeclareLaunchArgument:
    def __init__(self, name, *, default_value=None, description=None, choices=None, **kwargs) -> None:
        self.name = name
        self.default_value = default_value
        self.description = description
        self.choices = choices
