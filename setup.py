"""pip install of the model package (and the node's Python code) without ROS.

On a GPU server: `pip install .[gpu]` (CUDA 12 spconv) after installing the CUDA build
of torch; on a CPU machine: `pip install .[cpu]`. The ROS 2 package itself (with its
msg/srv) is built by colcon from CMakeLists.txt and package.xml.
"""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent

setup(
    name="clickenhance",
    version="0.1.0",
    description="Interactive click-based 3D point cloud segmentation (ClickEnhance) with a ROS 2 node",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    python_requires=">=3.10",
    packages=[*find_packages(include=["clickenhance_model", "clickenhance_model.*", "clickenhance_ros"]),
              "clickenhance_model.training_configs"],
    # The training YAMLs live in the top-level training/ folder; installed, they sit in the package.
    package_dir={"clickenhance_model.training_configs": "training"},
    package_data={
        "clickenhance_model": ["weights/*.pt", "weights/*.json", "weights/*.md", "weights/*.yaml"],
        "clickenhance_model.training_configs": ["*.yaml"],
    },
    install_requires=[
        "torch>=2.1",
        "numpy>=1.24",
        "scipy>=1.10",
        "pyyaml>=6.0",
        "tqdm>=4.60",
        "matplotlib>=3.7",
    ],
    extras_require={
        # spconv ships one wheel per CUDA version and one for the CPU; pick exactly one.
        "cpu": ["spconv>=2.3.6"],
        "gpu": ["spconv-cu126>=2.3.8"],  # ran on an H200 with torch 2.11+cu130 (README)
        "annotate": ["viser>=1.1.1", "rosbags>=0.11.9"],  # the browser annotator (clickenhance-annotate)
        "dev": ["pytest>=8", "ruff>=0.6"],
    },
    entry_points={
        "console_scripts": [
            "clickenhance-eval=clickenhance_model.evaluate:main",
            "clickenhance-train=clickenhance_model.train:main",
            "clickenhance-fit-point-refiner=clickenhance_model.training.point_refiner_fit:main",
            "clickenhance-fit-edge-affinity=clickenhance_model.training.edge_affinity_fit:main",
            "clickenhance-generate-scenes=clickenhance_model.scenes.generate:main",
            "clickenhance-annotate=clickenhance_model.annotate.__main__:main",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: BSD License",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
