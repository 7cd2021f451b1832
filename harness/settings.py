"""Settings resolved once, at the edge: the only module that reads the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Defaults that users may change through SFPERF_* environment variables."""

    results_dir: Path = Path("results")
    seed: int = 1234
    # The client credential OpenAI clients read: sent to a target as `Authorization: Bearer`.
    openai_api_key: str = field(default="", repr=False)  # a secret: never shown


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Settings from `environ` (os.environ by default)."""
    env = os.environ if environ is None else environ
    return Settings(
        results_dir=Path(env.get("SFPERF_RESULTS_DIR", "results")),
        seed=int(env.get("SFPERF_SEED", "1234")),
        openai_api_key=env.get("OPENAI_API_KEY", "").strip(),
    )
