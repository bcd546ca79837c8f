"""cli.options.option_groups: a group's options are declared once and reach the command as the object they build."""

from __future__ import annotations

from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from synthneg.cli.options import option_groups, selection_options


def _app(**defaults: object) -> tuple[typer.Typer, list[object]]:
    got: list[object] = []
    app = typer.Typer()

    @app.command()
    @option_groups(defaults or None, selection=selection_options)
    def mine(name: Annotated[str, typer.Option()] = "x", *, selection: object) -> None:
        got.append((name, selection))

    @app.command()
    def other() -> None:  # a second command, so that typer keeps the command names
        pass

    return app, got


def test_group_options_build_their_object_with_per_command_defaults() -> None:
    app, got = _app()
    res = CliRunner().invoke(app, ["mine", "--name", "q", "--range-max", "12", "--relative-margin", "0.05", "-n", "2"])
    assert res.exit_code == 0, res.output
    name, sel = got[0]
    assert name == "q" and (sel.range_max, sel.relative_margin, sel.num_negatives) == (12, 0.05, 2)
    assert sel.absolute_margin is None
    app, got = _app(absolute_margin=0.0)  # the ce command's default
    assert CliRunner().invoke(app, ["mine"]).exit_code == 0 and got[0][1].absolute_margin == 0.0
    help_text = CliRunner().invoke(app, ["mine", "--help"], env={"COLUMNS": "200"}).output
    assert "--relative-margin" in help_text and "--num-negatives" in help_text


def test_a_bad_group_value_is_a_usage_error_and_clashes_are_refused() -> None:
    app, _ = _app()
    res = CliRunner().invoke(app, ["mine", "--sampling", "sideways"])
    assert res.exit_code != 0
    with pytest.raises(TypeError, match="declared twice"):

        @option_groups(selection=selection_options)
        def clash(seed: int = 0, *, selection: object) -> None: ...

    with pytest.raises(TypeError, match="no group option named"):

        @option_groups({"nope": 1}, selection=selection_options)
        def unknown(*, selection: object) -> None: ...
