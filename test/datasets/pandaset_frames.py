"""The PandaSet frames the dataset tests import (50-52: the car drives at about 4.5 m/s there, so a sweep's
100 ms of motion shows); a module of its own, since ``from conftest import`` finds whichever conftest.py
pytest loaded last."""

FRAMES = (50, 52)
