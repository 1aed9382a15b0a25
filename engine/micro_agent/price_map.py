"""Per-token prices of a model, from the config or litellm's bundled price map, without importing litellm.

litellm ships its price map as a JSON file inside the package; reading it takes ~40 ms where
`import litellm` takes seconds. The direct OpenAI-compatible path prices its replies from it, and
the budget uses it to keep a call within the money left (max_tokens).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ModelPrice

MAP_FILE = "model_prices_and_context_window_backup.json"
_lock = threading.Lock()
_map: dict[str, Any] | None = None


@dataclass(frozen=True)
class TokenPrice:
    input_usd: float  # per token
    output_usd: float
    max_output_tokens: int | None = None


def price_of(model: str, prices: dict[str, ModelPrice]) -> TokenPrice | None:
    """The config's price for `model`, else litellm's map entry (`openai/gpt-4o-mini` or `gpt-4o-mini`)."""
    if (configured := prices.get(model)) is not None:
        return TokenPrice(configured.input_per_million / 1e6, configured.output_per_million / 1e6)
    entries = _load()
    entry = entries.get(model)
    if entry is None and "/" in model:
        provider, name = model.split("/", 1)
        candidate = entries.get(name)
        if candidate is not None and candidate.get("litellm_provider") == provider:
            entry = candidate
    if not entry or "input_cost_per_token" not in entry or "output_cost_per_token" not in entry:
        return None
    limit = entry.get("max_output_tokens")
    return TokenPrice(float(entry["input_cost_per_token"]), float(entry["output_cost_per_token"]),
                      int(limit) if isinstance(limit, (int, float)) else None)


def cost_of(price: TokenPrice | None, prompt_tokens: int, completion_tokens: int) -> float:
    return 0.0 if price is None else prompt_tokens * price.input_usd + completion_tokens * price.output_usd


def preload() -> None:
    """Read the map now (on a warm-up thread), so that no call waits for it."""
    _load()


def _load() -> dict[str, Any]:
    global _map
    with _lock:
        if _map is None:
            import importlib.util

            _map = {}
            spec = importlib.util.find_spec("litellm")  # finds the package without importing it
            for folder in (spec.submodule_search_locations or []) if spec else []:
                try:
                    _map = json.loads((Path(folder) / MAP_FILE).read_text(encoding="utf-8"))
                    break
                except (OSError, ValueError):
                    continue
    return _map
