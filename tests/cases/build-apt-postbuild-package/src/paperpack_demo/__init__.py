"""A local package installed into the image by the offline buildpack."""


def answer() -> int:
    return 42
