"""Stand-in for ``launch`` (tests only): a LaunchDescription that keeps its entities."""


class LaunchDescription:
    def __init__(self, initial_entities=None, *, deprecated_reason=None) -> None:
        self.entities = list(initial_entities or [])
