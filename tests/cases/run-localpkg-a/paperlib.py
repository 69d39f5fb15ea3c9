"""The paper's own helper package (repository a)."""

WHO = "a"
