"""Message interfaces: the carried ``.msg`` definitions, the typestore and the CDR codecs.

The bottom layer every message user stands on (``msgs``, ``outputs``, ``recording``): it imports no
other stage. ``carried/`` holds the definitions of the types whose packages do not install here
(``foxglove_msgs``, ``tf2_msgs``, the project's ``Event``).
"""
