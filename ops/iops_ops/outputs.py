"""`.deployment-outputs`: what deploy writes and every other operation reads, a file the
runbook `source`s in a shell (`export NAME='value'` lines)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, fields
from pathlib import Path

FILE_NAME = ".deployment-outputs"


class OutputsError(Exception):
    """The outputs file is missing, unreadable, or lacks a value an operation needs."""


@dataclass(frozen=True)
class DeploymentOutputs:
    """The runbook's names for what a deployment made."""

    API_URL: str
    AI_LAMBDA: str
    LAMBDA_NAME: str
    METRICS_TABLE: str
    INSIGHTS_TABLE: str
    STATE_TABLE: str
    INCIDENTS_TABLE: str
    SAGEMAKER_ENDPOINT: str
    ALARM_TOPIC_ARN: str
    API_KEY_ID: str
    DASHBOARD_NAME: str
    STACK_NAME: str
    REGION: str

    def to_shell(self) -> str:
        """The file's text: one `export NAME='value'` per field, quoted for any shell."""
        lines = ["# written by scripts/deploy/deploy.sh; `source` it (the runbook does)"]
        lines += [f"export {f.name}={shlex.quote(getattr(self, f.name))}" for f in fields(self)]
        return "\n".join(lines) + "\n"

    def write(self, directory: Path) -> Path:
        path = Path(directory) / FILE_NAME
        path.write_text(self.to_shell())
        return path

    @classmethod
    def parse(cls, text: str, source: str = FILE_NAME) -> DeploymentOutputs:
        """Reads `NAME=value` lines (with or without `export`, shell-quoted); comments and
        blank lines are skipped. A missing name is an error naming it."""
        values: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), 1):
            try:
                words = shlex.split(line, comments=True)
            except ValueError as e:
                raise OutputsError(f"{source}:{number}: {e}") from None
            if words[:1] == ["export"]:
                words = words[1:]
            if not words:
                continue
            if len(words) != 1 or "=" not in words[0]:
                raise OutputsError(f"{source}:{number}: expected NAME=value, got {line!r}")
            name, value = words[0].split("=", 1)
            values[name] = value
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in values]
        if missing:
            raise OutputsError(f"{source}: missing {', '.join(missing)}")
        return cls(**{n: values[n] for n in names})

    @classmethod
    def read(cls, directory: Path) -> DeploymentOutputs:
        """The outputs in `directory` (the one the operation runs from, as the runbook does)."""
        path = Path(directory) / FILE_NAME
        try:
            text = path.read_text()
        except OSError as e:
            raise OutputsError(
                f"{path}: {e.strerror or e}; run scripts/deploy/deploy.sh from this directory first"
            ) from None
        return cls.parse(text, str(path))
