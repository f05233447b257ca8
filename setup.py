"""Packaging for memeclust; every setting lives in settings.ini (nbdev 2 layout)."""
from configparser import ConfigParser
import setuptools

cfg = ConfigParser(delimiters=["="])
cfg.read("settings.ini")
cfg = cfg["DEFAULT"]
reqs = cfg.get("requirements", "").split()
dev_reqs = cfg.get("dev_requirements", "").split()

setuptools.setup(
    name=cfg["lib_name"],
    version=cfg["version"],
    description=cfg["description"],
    license=cfg["license"],
    author=cfg["author"],
    python_requires=f">={cfg['min_python']}",
    packages=setuptools.find_packages(include=["memeclust", "memeclust.*"]),
    include_package_data=True,
    install_requires=reqs,
    extras_require={"dev": dev_reqs},
    entry_points={
        "console_scripts": cfg.get("console_scripts", "").split(),
        "nbdev": [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"],
    },
    zip_safe=False,
)
