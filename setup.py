"""Package discovery only; all metadata is in pyproject.toml.

The repository keeps the layout of the specification: the engine in ``semsr_core/``,
the napari app in ``app/`` (import name ``semsr_app``) and bundled data in
``resources/`` (import name ``semsr_resources``, so that presets, models and the
sample stack are found after a regular, non-editable install as well).
"""

from setuptools import find_packages, setup

renamed = {"semsr_app": "app", "semsr_resources": "resources"}
packages = find_packages(include=["semsr_core", "semsr_core.*"])
for name, folder in renamed.items():
    packages += [name] + [f"{name}.{sub}" for sub in find_packages(folder)]

setup(
    packages=packages,
    package_dir={"": ".", **renamed},
)
