"""Public datasets read as a car would have recorded them, and imported into rosbag2 MCAP bags.

``pandaset`` reads a PandaSet sequence (PandaSet by Hesai and Scale AI, CC BY 4.0), ``pandaset_rig``
turns its calibration into a rig, ``pandaset_labels`` its cuboids into truth objects, and
``pandaset_import`` writes the bag through ``bag_import`` (the dataset-independent writer side).
"""
