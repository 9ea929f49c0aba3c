"""Subcommands of the training issue (collective, train, compare): being built."""


def register(sub) -> None:
    return None
