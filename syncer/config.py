"""Configuration (SPEC §3): one pydantic model tree, `${VAR}` from the environment, every problem at once."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from syncer.config_file import interpolate, key_path, read_config_file, with_line
from syncer.errors import ConfigError
from syncer.model import Stage

DEFAULT_CONFIG_PATHS = ("syncer.yaml", "config/syncer.yaml")
ASANA_BASE_URL = "https://app.asana.com/api/1.0"

# Canonical fields a source may map (SPEC §4); anything else under `fields:` is a typo.
CanonicalField = Literal[
    "owner", "requester", "campaign", "activity", "gl_account", "category", "due_date", "estimate_hours",
    "planned_cost", "committed_amount", "po_date", "invoiced_amount", "invoice_date", "brief",
]
AMOUNT_FIELDS = ("planned_cost", "committed_amount", "invoiced_amount")
INTAKE_FIELDS = (
    "owner", "requester", "due_date", "campaign", "activity", "gl_account", "category", "estimate_hours",
    "brief", "planned_cost",
)
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
SINK_KINDS = ("gsheet", "xlsx", "warehouse")
Checks = Callable[[dict[str, Any]], list[str]]  # problems of files and folders named in a config tree


def parse_duration(text: str | int | float) -> timedelta:
    """`15m`, `24h`, `7d`, `30s` (or plain seconds) -> timedelta."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return timedelta(seconds=text)
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a duration like 15m, 24h or 7d")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _clean_token(v: Any) -> Any:
    """Strip the newline a secret set from a file or `echo` often carries; refuse inner whitespace."""
    raw = v.get_secret_value() if isinstance(v, SecretStr) else v
    if not isinstance(raw, str):
        return v
    raw = raw.strip()
    if not raw:
        raise ValueError("is empty")
    if any(c.isspace() or ord(c) < 32 for c in raw):
        raise ValueError("contains spaces or control characters (check how the secret was set)")
    return raw


Token = Annotated[SecretStr, BeforeValidator(_clean_token)]


class _SourceBase(_Model):
    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    fields: dict[CanonicalField, str] = {}
    stages: dict[str, Stage] = {}
    # Independent requests (changelog batches, worklog pages, stories, time entries) in flight at once (SPEC §9).
    max_in_flight: Annotated[int, Field(ge=1, le=32)] = 4


def _jql(query: str) -> str:
    if not query.strip():
        raise ValueError("set a query such as 'project = MKT' (Jira Cloud refuses unbounded searches)")
    return query


class JiraSourceConfig(_SourceBase):
    kind: Literal["jira"]
    url: Annotated[str, Field(pattern=r"^https?://")]
    email: str
    token: Token
    # Jira Cloud refuses unbounded searches: an empty query is a config error here, not at the first request.
    jql: Annotated[str, Field(validate_default=True), AfterValidator(_jql)] = ""
    page_size: Annotated[int, Field(ge=1, le=5000)] = 100


class AsanaSourceConfig(_SourceBase):
    kind: Literal["asana"]
    token: Token
    projects: Annotated[list[str], Field(min_length=1)]
    base_url: Annotated[str, Field(pattern=r"^https?://")] = ASANA_BASE_URL
    page_size: Annotated[int, Field(ge=1, le=100)] = 100


class ReplaySourceConfig(_SourceBase):
    kind: Literal["replay"]
    path: Path


AnySourceConfig = JiraSourceConfig | AsanaSourceConfig | ReplaySourceConfig
SourceConfig = Annotated[AnySourceConfig, Field(discriminator="kind")]


IntakeField = Literal[INTAKE_FIELDS]  # type: ignore[valid-type]
SPEND_CONTROLS = ("po_over_planned", "invoice_over_po", "invoice_without_po", "po_before_approval")
SpendControl = Literal[SPEND_CONTROLS]  # type: ignore[valid-type]
OneOrMany = str | list[str]


class RuleWhen(_Model):
    """Which tasks a rule applies to: every key given must match (a value or any of a list of values)."""

    source: OneOrMany | None = None
    type: OneOrMany | None = None
    category: OneOrMany | None = None
    campaign: OneOrMany | None = None


class IntakeRule(_Model):
    """Extra intake requirements for some kinds of request (SPEC §3 `intake.rules`)."""

    when: RuleWhen
    required: list[IntakeField] = []
    brief_min_chars: Annotated[int, Field(ge=0)] | None = None


class IntakeConfig(_Model):
    required: list[IntakeField] = ["owner", "due_date", "campaign", "estimate_hours", "brief"]
    brief_min_chars: Annotated[int, Field(ge=0)] = 40
    enforce: Literal["report", "label", "comment"] = "report"
    rules: list[IntakeRule] = []
    controls: list[SpendControl] = list(SPEND_CONTROLS)


class AttentionConfig(_Model):
    due_soon_days: Annotated[int, Field(ge=0)] = 7
    stale_days: Annotated[int, Field(ge=0)] = 10


class ReviewConfig(_Model):
    over_estimate_ratio: Annotated[float, Field(gt=0)] = 1.25


class BudgetConfig(_Model):
    file: Path | None = None
    tab: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> BudgetConfig:
        if (self.file is None) == (self.tab is None):
            raise ValueError("set exactly one of `file` (a CSV path) or `tab` (a tab of the sink's workbook)")
        return self


class FoldedDict(dict):
    """Keys (people's emails or names) that match whatever their case: `Ana@Acme.com` is `ana@acme.com`."""

    def __init__(self, data: Mapping[str, Any] = ()) -> None:
        super().__init__({str(k).casefold(): v for k, v in dict(data).items()})

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(key.casefold() if isinstance(key, str) else key, default)

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(key.casefold() if isinstance(key, str) else key)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.casefold() if isinstance(key, str) else key)


People = Annotated[dict[str, Annotated[float, Field(ge=0)]], AfterValidator(FoldedDict)]


class RatesConfig(_Model):
    default: Annotated[float, Field(ge=0)] = 0.0
    people: People = FoldedDict()


class CapacityConfig(_Model):
    hours_per_week: Annotated[float, Field(gt=0)] = 40.0
    people: People = FoldedDict()
    per_person: bool = False


def _xlsx_path(path: Path) -> Path:
    if path.suffix.lower() != ".xlsx":
        raise ValueError(f"{path} must end in .xlsx (syncer writes Excel workbooks)")
    return path


class GsheetSinkConfig(_Model):
    kind: Literal["gsheet"]
    spreadsheet_id: Annotated[str, Field(min_length=1)]
    credentials: Annotated[SecretStr, BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v)]

    @property
    def target(self) -> str:
        """Where the tabs go, in a person's words."""
        return f"Google Sheet {self.spreadsheet_id}"


class XlsxSinkConfig(_Model):
    kind: Literal["xlsx"]
    path: Annotated[Path, AfterValidator(_xlsx_path)]

    @property
    def target(self) -> str:
        return str(self.path)


class WarehouseSinkConfig(_Model):
    """A warehouse through dlt: `destination` is a dlt destination name; DuckDB (a local file) needs no server."""

    kind: Literal["warehouse"]
    destination: Annotated[str, Field(min_length=1)] = "duckdb"
    dataset: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = "marketing_ops"
    # The destination's credentials in dlt's own form (a DuckDB file path, a postgresql:// URL, a JSON key...).
    credentials: SecretStr | None = None

    @property
    def target(self) -> str:
        return f"{self.destination} dataset {self.dataset}"


AnySinkConfig = GsheetSinkConfig | XlsxSinkConfig | WarehouseSinkConfig
SinkConfig = Annotated[AnySinkConfig, Field(discriminator="kind")]


class StateConfig(_Model):
    path: Path = Path(".syncer/state.db")


class Config(_Model):
    """The whole configuration file."""

    timezone: str = "UTC"
    fiscal_year_start_month: Annotated[int, Field(ge=1, le=12)] = 1
    currency: Annotated[str, Field(min_length=1)] = "EUR"
    budget_period: Literal["month", "quarter", "fiscal_year"] = "month"
    sources: Annotated[list[SourceConfig], Field(min_length=1)]
    intake: IntakeConfig = IntakeConfig()
    attention: AttentionConfig = AttentionConfig()
    review: ReviewConfig = ReviewConfig()
    budget: BudgetConfig | None = None
    rates: RatesConfig = RatesConfig()
    labour_in_budget: bool = True
    capacity: CapacityConfig = CapacityConfig()
    # One sink (`sink:`) or several written in one run (`sinks:`); `sink` is then the first of them.
    sink: SinkConfig | None = None
    sinks: list[SinkConfig] = []
    state: StateConfig = StateConfig()
    full_sync_every: timedelta = timedelta(hours=24)

    @model_validator(mode="after")
    def _one_sink_key(self) -> Config:
        if (self.sink is None) == (not self.sinks):
            raise ValueError("set exactly one of `sink` (one sink) or `sinks` (a list, written in order)")
        if self.sink is None:  # frozen model: the primary sink is the first of the list
            object.__setattr__(self, "sink", self.sinks[0])
        return self

    @property
    def sink_configs(self) -> list[AnySinkConfig]:
        """Every sink of the run, in write order."""
        return list(self.sinks) if self.sinks else [self.sink]  # type: ignore[list-item]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {v!r} (use an IANA name like Europe/Berlin)") from None
        return v

    @field_validator("full_sync_every", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return v if isinstance(v, timedelta) else parse_duration(v)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def source(self, name: str) -> AnySourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        raise ConfigError(f"--source {name}: no such source (known: {', '.join(s.name for s in self.sources)})")


def _duplicate_names(sources: Any) -> list[str]:
    """Source names must be unique; checked on the raw list so it is reported even when a source has other errors."""
    names = [s.get("name") for s in sources if isinstance(s, dict)] if isinstance(sources, list) else []
    seen, out = set(), []
    for name in names:
        if isinstance(name, str) and name in seen:
            out.append(f"sources: source name {name!r} is used twice; names must be unique")
        seen.add(name)
    return out


def _strip_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's discriminated-union tag (`sources.1.jira.url` -> `sources[1].url`)."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        prev = loc[i - 1] if i else None
        after_source = i >= 2 and loc[i - 2] == "sources" and isinstance(prev, int)
        after_sink = prev == "sink" or (i >= 2 and loc[i - 2] == "sinks" and isinstance(prev, int))
        if (after_source and part in ("jira", "asana", "replay")) or (after_sink and part in SINK_KINDS):
            continue
        out.append(part)
    return tuple(out)


def format_errors(err: ValidationError) -> list[str]:
    """One line per problem: `key.path: what is wrong` (input values are never echoed: they may be secrets)."""
    lines = []
    for e in err.errors(include_input=False, include_url=False):
        where = key_path(_strip_tags(e["loc"])) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see config/example.yaml)"
        lines.append(f"{where}: {msg}")
    return lines


def parse_config(
    data: Any, env: Mapping[str, str] | None = None, checks: Checks | None = None, problems: Sequence[str] = ()
) -> Config:
    """Validate an already-loaded YAML tree; raise ConfigError listing every problem (those given, the schema's and
    those `checks` finds in the tree with its variables filled in)."""
    env = os.environ if env is None else env
    if not isinstance(data, dict):
        raise ConfigError([*problems, "(top level): the config must be a mapping of keys (see config/example.yaml)"])
    problems = list(problems)
    data = interpolate(data, env, (), problems)
    problems.extend(_duplicate_names(data.get("sources")))
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        # A key whose variable is missing is reported once, as that, not again as "empty" or "invalid".
        missing = {p.split(": ", 1)[0] for p in problems}
        problems.extend(p for p in format_errors(e) if p.split(": ", 1)[0] not in missing)
        cfg = None
    reported = {p.split(": ", 1)[0] for p in problems}  # a file is checked where its key is otherwise right
    problems.extend(p for p in (checks(data) if checks else ()) if p.split(": ", 1)[0] not in reported)
    if problems:
        raise ConfigError(problems)
    assert cfg is not None
    return cfg


def resolve_config_path(path: str | Path | None, env: Mapping[str, str] | None = None) -> Path:
    """`--config`, else $SYNCER_CONFIG, else ./syncer.yaml, else ./config/syncer.yaml."""
    env = os.environ if env is None else env
    if path:
        return Path(path)
    if env.get("SYNCER_CONFIG"):
        return Path(env["SYNCER_CONFIG"])
    for candidate in DEFAULT_CONFIG_PATHS:
        if Path(candidate).exists():
            return Path(candidate)
    raise ConfigError("no config found: pass --config PATH, set SYNCER_CONFIG, or create ./syncer.yaml")


def load_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None, checks: Checks | None = None
) -> Config:
    """Read, interpolate and validate the config file; `checks` (files and folders, see `syncer.ops.preflight`) adds its
    problems to the rest, so every problem is listed at once, each with its line in the file."""
    p = resolve_config_path(path, env)
    text = read_config_file(p)
    try:
        return parse_config(text.data, env, checks, text.problems)
    except ConfigError as e:
        raise ConfigError([with_line(problem, text.lines, p) for problem in e.problems]) from None
