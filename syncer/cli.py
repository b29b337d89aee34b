"""The command line: parse, call the library, map errors to exit codes (0 ok, 1 sync failed, 2 config/usage)."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import replace
from functools import wraps
from pathlib import Path
from typing import Any

import click

from syncer import __version__
from syncer.config import ASANA_BASE_URL, load_config, parse_duration
from syncer.errors import ConfigError, LockedError, SyncerError
from syncer.log import RedactFilter, secrets_of, setup_logging
from syncer.ops.console import run_progress
from syncer.ops.daemon import serve
from syncer.ops.doctor import doctor as check
from syncer.ops.init import SECRET_VARS, InitRequest, asana_projects, init_config, jira_projects
from syncer.ops.preflight import load_checked
from syncer.ops.report import weekly_report
from syncer.ops.summary import format_period_change, format_summary
from syncer.pipeline import RunOptions, change_period, run_sync, save_pages
from syncer.schema import schema_text

log = logging.getLogger("syncer")


def github_error(message: str, title: str) -> str:
    """A GitHub Actions `::error` workflow command: the runner shows `message` as an annotation on the run."""
    data = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    prop = title.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A").replace(":", "%3A").replace(",", "%2C")
    return f"::error title={prop}::{data}"


def _fail(message: str, code: int, redact: RedactFilter | None, command: str | None = None) -> None:
    text = redact.redact(message) if redact else message
    click.echo(text, err=True)
    if os.environ.get("GITHUB_ACTIONS") == "true":  # in a workflow, the same message as an error annotation
        click.echo(github_error(text, f"syncer {command or ''} failed".replace("  ", " ")))
    sys.exit(code)


def handles_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our errors into a message and an exit code; no traceback for an expected failure."""

    @wraps(fn)
    def wrapper(ctx: click.Context, *args: Any, **kwargs: Any) -> Any:
        obj = ctx.ensure_object(dict)
        try:
            return fn(ctx, *args, **kwargs)
        except LockedError as e:
            click.echo(str(e))
            sys.exit(0)
        except ConfigError as e:
            lines = "\n".join(f"  - {p}" for p in e.problems)
            _fail(f"config error ({len(e.problems)} problem{'s' * (len(e.problems) != 1)}):\n{lines}", 2,
                  obj.get("redact"), ctx.info_name)
        except SyncerError as e:
            _fail(f"{e.headline}: {e}", e.exit_code, obj.get("redact"), ctx.info_name)
        except (click.ClickException, click.Abort):  # a usage error (exit 2) or Ctrl-C at a prompt: click's own
            raise
        except Exception as e:  # an unexpected failure: still no secrets, traceback only with -v
            detail = traceback.format_exc() if obj.get("verbose") else "run with -v for the traceback"
            _fail(f"unexpected error: {type(e).__name__}: {e}\n{detail}", 1, obj.get("redact"), ctx.info_name)

    return wrapper


def _load(ctx: click.Context, config: str | None, files: bool = False) -> Any:
    """The config; with `files`, also every file and folder a sync needs (all problems at once, exit 2)."""
    cfg = load_checked(config) if files else load_config(config)
    ctx.obj["redact"] = setup_logging(ctx.obj.get("verbose", False), secrets_of(cfg))
    return cfg


@click.group()
@click.version_option(__version__, prog_name="syncer")
@click.option("-v", "--verbose", is_flag=True, help="Show detail (and tracebacks of unexpected errors).")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr: only the summary (and errors).")
@click.pass_context
def main(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """Sync Jira Cloud and Asana work into one budget and flow-metrics sheet."""
    ctx.ensure_object(dict).update(verbose=verbose, quiet=quiet)
    ctx.obj["redact"] = setup_logging(verbose)


quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress on stderr: only the result (and errors).")
config_option = click.option(
    "--config", "config", type=click.Path(dir_okay=False), default=None,
    help="Config file (default: $SYNCER_CONFIG, ./syncer.yaml, ./config/syncer.yaml).",
)


@main.command()
@config_option
@click.pass_context
@handles_errors
def validate(ctx: click.Context, config: str | None) -> None:
    """Load and check the config and the files and folders it names; print every problem at once."""
    cfg = _load(ctx, config, files=True)
    kinds = ", ".join(f"{s.name} ({s.kind})" for s in cfg.sources)
    click.echo(f"config OK: {len(cfg.sources)} source(s): {kinds}; sink: {cfg.sink.kind}")


@main.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Write nothing anywhere; print what would change per tab.")
@click.option("--full", is_flag=True, help="Read every task (also drops tasks the source no longer returns).")
@click.option("--source", "only", multiple=True, help="Sync only this source (repeatable).")
@quiet_option
@click.pass_context
@handles_errors
def run(ctx: click.Context, config: str | None, dry_run: bool, full: bool, only: tuple[str, ...],
        quiet: bool) -> None:
    """One sync: fetch, map, store, check rules, roll up, write the sink, record the run.

    Progress goes to stderr: a live line per phase on a terminal, one line per phase otherwise."""
    cfg = _load(ctx, config, files=True)
    with run_progress(quiet or ctx.obj.get("quiet", False)) as progress:
        result = run_sync(cfg, RunOptions(full=full, dry_run=dry_run, only=only), progress=progress)
    click.echo(format_summary(result, cfg))


by_option = click.option("--by", "by", default=None,
                         help="Who signs it off (default: $GITHUB_ACTOR, else your user name).")


@main.command()
@config_option
@click.argument("period")
@by_option
@click.pass_context
@handles_errors
def close(ctx: click.Context, config: str | None, period: str, by: str | None) -> None:
    """Freeze the Budget rollup of a past PERIOD (2026-10, or FY2027-Q2 with budget_period: quarter).

    From then on the period shows exactly as frozen; later changes to it are adjustment rows in the next open
    period. Computed from the last sync's data; no source is read.
    """
    cfg = _load(ctx, config, files=True)
    click.echo(format_period_change(change_period(cfg, "close", period, by), cfg))


@main.command()
@config_option
@click.argument("period")
@click.option("--reason", "reason", required=True, help="Why the period is reopened (kept in the Closed periods tab).")
@by_option
@click.pass_context
@handles_errors
def reopen(ctx: click.Context, config: str | None, period: str, reason: str, by: str | None) -> None:
    """Reopen a closed PERIOD: it is computed afresh, its adjustment rows disappear."""
    cfg = _load(ctx, config, files=True)
    click.echo(format_period_change(change_period(cfg, "reopen", period, by, reason), cfg))


@main.command()
@config_option
@click.option("--source", "name", required=True, help="The source whose raw pages to save.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Folder to write.")
@quiet_option
@click.pass_context
@handles_errors
def fetch(ctx: click.Context, config: str | None, name: str, out: str, quiet: bool) -> None:
    """Save a source's raw API pages as JSON files the `replay` source reads back."""
    cfg = _load(ctx, config)
    with run_progress(quiet or ctx.obj.get("quiet", False)) as progress:
        count = save_pages(cfg, name, Path(out), progress=progress)
    click.echo(f"saved {count} page(s) of {name} to {out}")


def _every(ctx: click.Context, param: click.Parameter, value: str) -> float:
    try:
        seconds = parse_duration(value).total_seconds()
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    if seconds < 1:
        raise click.BadParameter("must be at least 1s")
    return seconds


@main.command()
@config_option
@click.option("--every", "every", default="15m", show_default=True, callback=_every,
              help="Time between syncs (30s, 15m, 1h, 1d), jittered by +-10%; failures back off up to 1h.")
@click.pass_context
@handles_errors
def daemon(ctx: click.Context, config: str | None, every: float) -> None:
    """Run forever: sync, sleep with jitter, back off after failures; SIGTERM/SIGINT stop it between steps."""
    cfg = _load(ctx, config, files=True)
    serve(cfg, every, ctx.obj.get("verbose", False))


@main.command()
@config_option
@click.pass_context
@handles_errors
def doctor(ctx: click.Context, config: str | None) -> None:
    """Check credentials and reachability of every source and the sink, and the config's field and status mapping."""
    cfg = _load(ctx, config)
    report = check(cfg)
    click.echo(ctx.obj["redact"].redact(report.format()))
    sys.exit(report.exit_code)


@main.command()
@config_option
@click.option("--week", "week", default=None, metavar="2026-W48",
              help="The ISO week to review (default: the last complete week).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True,
              help="markdown: for chat and the GitHub Actions step summary.")
@click.pass_context
@handles_errors
def report(ctx: click.Context, config: str | None, week: str | None, fmt: str) -> None:
    """The weekly review of one week, from the state file (no API request): what moved, what got stuck, what
    caused rework, what to look at next."""
    click.echo(weekly_report(_load(ctx, config), week, fmt), nl=False)


@main.command()
@click.pass_context
@handles_errors
def schema(ctx: click.Context) -> None:
    """Print the config file's JSON Schema (for editors: `# yaml-language-server: $schema=PATH`)."""
    click.echo(schema_text(), nl=False)


def _ask(value: str | None, option: str, text: str, **prompt: Any) -> str:
    """An option's value, or the answer to a prompt on a terminal; without either it is a usage error (exit 2)."""
    if value:
        return value
    if not _interactive():
        raise click.UsageError(f"{option} is needed (or run syncer init on a terminal to be asked)")
    return str(click.prompt(text, **prompt))


def _interactive() -> bool:
    return sys.stdin.isatty()


@main.command()
@click.option("--source", "kind", type=click.Choice(["jira", "asana"]), help="The kind of site to read.")
@click.option("--out", "out", default="syncer.yaml", show_default=True, type=click.Path(dir_okay=False),
              help="The config file to write.")
@click.option("--url", help="Jira: the site, e.g. https://acme.atlassian.net.")
@click.option("--jql", help="Jira: which issues to sync, e.g. 'project = MKT'.")
@click.option("--project", "projects", multiple=True, help="Asana: a project gid, the long number in its URL "
              "(repeatable).")
@click.option("--base-url", default=None, help="Asana: the API's base URL (default: Asana's own).")
@click.option("--name", default="", help="The source's name in the config and the sheet (default: its kind).")
@click.option("--timezone", default="UTC", show_default=True, help="The team's IANA zone (e.g. Europe/Berlin).")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@click.pass_context
@handles_errors
def init(ctx: click.Context, **options: Any) -> None:
    """Write a starter config from a live site: its custom fields and statuses (Jira) or sections (Asana),
    matched to syncer's fields and stages, every guess commented. Credentials come from the environment:
    JIRA_EMAIL and JIRA_API_TOKEN, or ASANA_TOKEN."""
    secrets = [os.environ.get(v, "") for names in SECRET_VARS.values() for v in names]
    ctx.obj["redact"] = setup_logging(ctx.obj.get("verbose", False), secrets)
    req = _init_request(options)
    _, site = init_config(req, os.environ)
    what = "statuses" if req.kind == "jira" else "sections"
    click.echo(f"wrote {req.out}: {len(site.fields)} custom field(s) and {len(site.states)} {what} read; check the "
               f"commented guesses, then: syncer validate --config {req.out} && "
               f"syncer run --dry-run --config {req.out}")


def _init_request(options: dict[str, Any]) -> InitRequest:
    """What `syncer init` is asked for: the options, and on a terminal the answers to what they leave out (for
    the JQL, after listing the site's projects)."""
    kind = _ask(options["kind"], "--source", "Source kind", type=click.Choice(["jira", "asana"]))
    req = InitRequest(kind, Path(options["out"]), base_url=options["base_url"] or ASANA_BASE_URL,
                      name=options["name"], timezone=options["timezone"], force=options["force"])
    if kind == "asana":
        if options["projects"] or not _interactive():
            return replace(req, projects=tuple(options["projects"]) or (_ask(None, "--project", ""),))
        found, more = asana_projects(req, os.environ)
        click.echo(f"projects this token sees{' (the first ' + str(len(found)) + ')' if more else ''}:")
        for gid, name in found:
            click.echo(f"  {gid:<18} {name}")
        answer = click.prompt("Asana project gid(s), comma-separated", default=found[0][0] if found else None)
        return replace(req, projects=tuple(str(answer).replace(",", " ").split()))
    req = replace(req, url=_ask(options["url"], "--url", "Jira site URL (https://YOUR-SITE.atlassian.net)"))
    if options["jql"] or not _interactive():
        return replace(req, jql=_ask(options["jql"], "--jql", ""))
    rows, total = jira_projects(req, os.environ)
    click.echo(f"{total} project(s) on {req.url}" + (f", the first {len(rows)}:" if total > len(rows) else ":"))
    for key, name in rows:
        click.echo(f"  {key:<12} {name}")
    first = f"project = {rows[0][0]}" if rows else None
    return replace(req, jql=str(click.prompt("JQL of the issues to sync", default=first)))
