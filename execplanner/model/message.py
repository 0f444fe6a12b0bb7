"""Messages explain a NO, a degraded parse or a failure in words a user understands (Message Templates style)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Level(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Message(BaseModel):
    level: Level = Level.INFO
    time: datetime = Field(default_factory=utcnow)
    template: str
    values: dict[str, str] = Field(default_factory=dict)

    @property
    def message(self) -> str:
        """The template with its values filled in; unknown placeholders are left as written."""
        text = self.template
        for key, value in self.values.items():
            text = text.replace("{" + key + "}", value)
        return text

    @classmethod
    def of(cls, level: Level, template: str, **values: object) -> Message:
        return cls(level=level, template=template, values={k: str(v) for k, v in values.items()})

    @classmethod
    def info(cls, template: str, **values: object) -> Message:
        return cls.of(Level.INFO, template, **values)

    @classmethod
    def warn(cls, template: str, **values: object) -> Message:
        return cls.of(Level.WARN, template, **values)

    @classmethod
    def error(cls, template: str, **values: object) -> Message:
        return cls.of(Level.ERROR, template, **values)
