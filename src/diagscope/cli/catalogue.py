"""`diagscope catalogue`: Microsoft's published lists of diagnostic events."""

from __future__ import annotations

import json

import click

from diagscope.cli.main import main
from diagscope.output import write_rows
from diagscope.policy.catalogue import (
    PRODUCTS,
    describe,
    lookup_any,
    search_all,
    stats,
    stats_lines,
    suggest,
)


@main.group()
def catalogue() -> None:
    """Microsoft's published lists of diagnostic events, as diagscope ships them."""


@catalogue.command("show")
@click.argument("name")
def catalogue_show(name: str) -> None:
    """Print everything the catalogue documents about an event."""
    found = lookup_any(name)
    if found is None:
        close = suggest(name)
        hint = f"; close names: {', '.join(close)}" if close else ""
        raise click.ClickException(f"{name} is not in the catalogue{hint}")
    click.echo(describe(found[1]))


@catalogue.command("search")
@click.argument("text")
@click.option("--product", type=click.Choice(PRODUCTS), default=None)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
def catalogue_search(text: str, product: str | None, limit: int) -> None:
    """Events whose name, area or description contains TEXT (names first)."""
    found = search_all(text, product)
    rows = [{"name": e.name, "product": e.product, "level": e.level, "area": e.category}
            for e in found[:limit]]
    write_rows(rows, ("name", "product", "level", "area"), "table")
    if len(found) > limit:
        click.echo(f"... {len(found) - limit} more (--limit)")


@catalogue.command("stats")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def catalogue_stats(fmt: str) -> None:
    """How many events each product's catalogue documents, per level and document."""
    figures = stats()
    click.echo(json.dumps(figures, indent=2) if fmt == "json"
               else "\n".join(stats_lines(figures)))
