"""Outputs: pre-labels, events, review items, truth and the rig's static messages -> ROS messages.

Placed after ``events`` and before ``recording``: the live node and offline replay both build their
messages here (``builder.OutputBuilder``), so a recording and a replay carry the same topics.
"""
