# The harness plugin is loaded through its pytest11 entry point; pytester comes from pytest.
pytest_plugins = ["pytester"]
