"""Public datasets read as a car would have recorded them, and imported into rosbag2 MCAP bags.

``pandaset`` reads a PandaSet sequence (PandaSet by Hesai and Scale AI, CC BY 4.0), ``pandaset_rig``
turns its calibration into a rig, ``pandaset_labels`` its cuboids into truth objects, and
``pandaset_import`` writes the bag through ``bag_import`` (the dataset-independent writer side).
``kitti`` reads KITTI object-layout folders (KITTI, CC BY-NC-SA 3.0) and ``kitti_import`` writes them,
one scene per frame; ``nuscenes_import`` writes a nuScenes sample in mmdetection3d's layout (nuScenes by
Motional, CC BY-NC-SA 4.0), its calibration read by ``rig.nuscenes``.
"""
