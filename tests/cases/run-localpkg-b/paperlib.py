"""The paper's own helper package (repository b)."""

WHO = "b"
