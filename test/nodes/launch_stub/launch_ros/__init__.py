"""Stand-in for ``launch_ros`` (tests only)."""
