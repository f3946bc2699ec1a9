"""Stand-in for ``launch_ros.actions`` (tests only): ``Node`` records what it would run."""

# ExecuteProcess keywords a launch_ros Node passes through (launch, Jazzy).
_PROCESS_KEYWORDS = {
    "output", "emulate_tty", "respawn", "respawn_delay", "sigterm_timeout", "sigkill_timeout",
    "additional_env", "cwd", "shell", "prefix", "log_cmd", "on_exit", "condition",
}


class Node:
    def __init__(self, *, executable, package=None, name=None, namespace=None, exec_name=None,
                 parameters=None, remappings=None, ros_arguments=None, arguments=None, **kwargs) -> None:
        unknown = set(kwargs) - _PROCESS_KEYWORDS
        if unknown:
            raise TypeError(f"launch_ros Node got unexpected keyword(s) {sorted(unknown)}")
        self.executable = executable
        self.package = package
        self.name = name
        self.namespace = namespace
        self.parameters = list(parameters or [])
        self.remappings = list(remappings or [])
        self.ros_arguments = ros_arguments
        self.arguments = arguments
