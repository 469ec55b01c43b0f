"""Every test gets the devkit's fixtures: real NATS and PostgreSQL servers on free ports."""

pytest_plugins = ["macrohard.devkit.fixtures"]
