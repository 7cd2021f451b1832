"""What a model name says of the model: its family, its version and its size.

The client's OpenAI-style name (`gpt-4o-mini`, `claude-3-7-sonnet-20250219`, `gemini-2.5-flash`)
and the Models API name (`sfdc_ai__DefaultOpenAIGPT4OmniMini`) are read alike, with no gateway's
map: the provider words and date suffixes left out, digits are the version (`4.1` and `41` the
same) and size words (`mini`, `haiku`, `flash`, `lite`, `pro`, `opus`, ...) the size. Two names
of one family, version and size name the same model; a gateway's alias that says less (`gpt`,
`claude`, `fast`) is not judged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Model families by a fragment of the name (lower-case), first match; the client's OpenAI-style
# name and the Models API name (`sfdc_ai__DefaultBedrockAnthropicClaude3Haiku`) both resolve.
_FAMILIES = (
    ("claude", "Claude"), ("anthropic", "Claude"), ("haiku", "Claude"), ("sonnet", "Claude"),
    ("opus", "Claude"), ("gemini", "Gemini"), ("vertex", "Gemini"), ("nova", "Nova"),
    ("llama", "Llama"), ("mistral", "Mistral"), ("embedding", "embeddings"), ("ada", "embeddings"),
    ("gpt", "GPT"), ("openai", "GPT"), ("o1", "GPT"), ("o3", "GPT"), ("o4", "GPT"),
)  # fmt: skip
# Words of a name that say who serves the model, not which model it is.
_NOT_THE_MODEL = re.compile(
    r"sfdc_ai__|default|azure|openai|bedrock|anthropic|amazon|vertexai|vertex|google|meta"
)
# Size words, smallest first (a rank each); a name without one is its family's full model
# (`gpt-4o`), ranked with the middle sizes (Sonnet, Pro). Flash-Lite ranks as Lite.
_SIZES = {
    "nano": 0, "micro": 0, "lite": 1, "mini": 1, "small": 1, "haiku": 1, "instant": 1,
    "flash": 2, "medium": 3, "sonnet": 3, "pro": 3, "large": 4, "opus": 4, "ultra": 4,
}  # fmt: skip
_FULL_SIZE = 3
# Families whose every model names its size: a name without one (`claude-3`) names no model.
_SIZED_FAMILIES = frozenset({"Claude", "Gemini", "Nova"})
# Digit runs that end the version: a date or revision (`20240307`, `2024`, `001`, `08`), a
# context size (`16k`).
_END_OF_VERSION = re.compile(r"\d{4,}|0\d+|\d+k")


@dataclass(frozen=True)
class ModelName:
    """A model name as read: `family` (None: none known), `version` (its digits, "" when it
    names none) and `sizes` (the size words in it)."""

    family: str | None
    version: str
    sizes: frozenset[str]

    @property
    def size_rank(self) -> int:
        return min((_SIZES[s] for s in self.sizes), default=_FULL_SIZE)

    @property
    def version_number(self) -> float:
        """`41` as 4.1, `5` as 5.0 (the first digit is the major version)."""
        return float(f"{self.version[0]}.{self.version[1:] or 0}")

    def names_a_model(self) -> bool:
        """Says enough to name one model of its family (a version or a size, and a size where
        every model of the family has one)."""
        if self.family is None or not (self.version or self.sizes):
            return False
        return bool(self.sizes) or self.family not in _SIZED_FAMILIES


def model_family(name: str) -> str | None:
    """`GPT`, `Claude`, `Gemini`, ... for a model name; None when it names no known family."""
    lowered = name.lower()
    return next((family for key, family in _FAMILIES if key in lowered), None)


def read_model_name(name: str) -> ModelName:
    """The family, version and sizes `name` says."""
    family = model_family(name)
    rest = _NOT_THE_MODEL.sub(" ", name.lower())
    for key, _ in _FAMILIES:
        if len(key) > 2 and key not in _SIZES:  # `o3`'s digit is its version, `haiku` a size
            rest = rest.replace(key, " ")
    digits: list[str] = []
    for run in re.findall(r"\d+k?", rest):
        if _END_OF_VERSION.fullmatch(run):
            break
        digits.append(run)
    sizes = frozenset(size for size in _SIZES if size in rest)
    return ModelName(family, "".join(digits), sizes)


def model_change(asked: str, sent: str) -> str | None:
    """How the model `sent` differs from the one `asked` names (None: the same, or the asked
    name says too little to tell): `another family`, else `an older`/`a newer` and/or
    `smaller`/`larger` model (`an older, smaller model`)."""
    want, got = read_model_name(asked), read_model_name(sent)
    if None not in (want.family, got.family) and want.family != got.family:
        return "another family"
    if not want.names_a_model() or got.family is None:
        return None
    changes = []
    if want.version and got.version and want.version != got.version:
        changes.append("older" if got.version_number < want.version_number else "newer")
    if want.size_rank != got.size_rank:
        changes.append("smaller" if got.size_rank < want.size_rank else "larger")
    if not changes:
        return None
    said = ", ".join(changes)
    return f"{'an' if said.startswith('o') else 'a'} {said} model"
