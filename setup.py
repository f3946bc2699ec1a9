"""ament_python package; also installs with plain pip into a virtual environment (see README)."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "mmfusion_annotate"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*", "bench"]),
    package_data={
        PACKAGE: [
            "interfaces/carried/*/msg/*.msg",
            "interfaces/carried/PROVENANCE.md",
            "sim/scenarios/*.yaml",
            "events/*.yaml",
            "prelabel/models/*.json",
            "export/openlabel_schema_1.0.0.json",
            "export/SCHEMA_PROVENANCE.md",
        ]
    },
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml") + glob("config/*.json")
         + glob("config/*.rviz")),  # Foxglove layout, RViz config
    ],
    python_requires=">=3.10",
    install_requires=[
        "numpy>=1.24",
        "scipy>=1.10",
        "opencv-python-headless>=4.8,<5",  # the 4.x API (cv2.dnn.NMSBoxesBatched included); 5.x untested
        "simplejpeg>=1.7",  # libjpeg-turbo's fast IDCT, which cv2.imdecode does not expose (msgs/image.py)
        "pyyaml>=6",
        "pydantic>=2.5",
        "tqdm>=4.66",
        "numba>=0.59",
        "threadpoolctl>=3.1",  # caps OpenBLAS's spinning pools at run time (library_threads.py)
        "mcap>=1.1",
        "rosbags>=0.10",  # CDR + type hashes of the carried message types (foxglove_msgs, tf2_msgs)
        "lz4>=4",
        "zstandard>=0.22",
        "pandas>=2",  # PandaSet's sweeps and labels are pandas pickles (mmfusion import pandaset)
        "onnxruntime>=1.17",  # runs the camera detector models on the CPU (prelabel/camera_detector.py)
        "jsonschema>=4",  # validates OpenLABEL exports and imports (export/schema.py)
        "pyarrow>=15",  # writes the fleet catalog's Parquet tables (catalog/store.py)
        "duckdb>=1.3",  # SQL over the catalog's Parquet in place, no server (catalog/search.py)
    ],
    extras_require={
        # ROS 2 Jazzy from PyPI wheels, for machines without a ROS install (not needed under colcon).
        "ros": [
            "ros-jazzy-rclpy",
            "ros-jazzy-std-msgs",
            "ros-jazzy-sensor-msgs",
            "ros-jazzy-geometry-msgs",
            "ros-jazzy-nav-msgs",
            "ros-jazzy-visualization-msgs",
            "ros-jazzy-diagnostic-msgs",
            "ros-jazzy-rmw-fastrtps-cpp",
        ],
        "cuda": ["cupy-cuda12x>=13"],
        # retraining the point classifier (scripts/train_point_semantics.py); lightgbm only for its
        # --compare-lightgbm baseline. Running the shipped model needs numpy alone.
        "train": ["scikit-learn>=1.7", "lightgbm>=4"],
        "test": [
            "pytest>=7",
            "hypothesis>=6",
            "ruff>=0.4",
            "mcap-ros2-support>=0.5",
            "psutil>=5",
            "import-linter>=2.1",  # folders in pipeline order (pyproject.toml; test/test_layers.py)
            "mypy>=1.10",  # type-checks the package (pyproject.toml [tool.mypy]; test/test_types.py)
            # the stubs mypy reads for the typed libraries the package calls that ship none themselves
            "types-PyYAML",
            "types-jsonschema",
            "types-tqdm",
            "pandas-stubs",
            "scipy-stubs",
            "ray>=2.9",  # the --ray runner's tests run a multi-node Ray test cluster (test/batch/)
        ],
        # many bags on a Ray cluster: 'mmfusion replay BAG... --ray ADDRESS' (mmfusion_annotate/batch.py)
        "fleet": ["ray>=2.9"],
        # open3d: the DBSCAN / RANSAC baselines the pre-labeller is compared with (bench/bench_prelabel.py);
        # no test and nothing on the car uses it. Its wheel needs libusb-1.0 at import time (apt).
        "bench": ["open3d>=0.18"],
    },
    entry_points={
        "console_scripts": [
            "mmfusion = mmfusion_annotate.cli:main",
            "fusion_node = mmfusion_annotate.nodes.fusion_node:main",
            "recorder_node = mmfusion_annotate.nodes.recorder_node:main",
            "sim_node = mmfusion_annotate.nodes.sim_node:main",
            "player_node = mmfusion_annotate.nodes.player_node:main",
            # fusion_node + recorder_node in one process, as `mmfusion run` (what the launch files start)
            "vehicle = mmfusion_annotate.nodes.vehicle:main",
        ],
    },
    zip_safe=True,
)
