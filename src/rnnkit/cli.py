"""The `rnnkit` command. Thin: it parses arguments and calls functions a Python user can call.

A user error (a ValueError or a missing file) is one line on stderr and exit status 2; set
RNNKIT_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

import rnnkit.tasks  # noqa: F401  (registers the built-in tasks)
from rnnkit.data.registry import names
from rnnkit.diagnostics.problems import PROBLEMS
from rnnkit.tasks.base import REGISTRY, Option, Task

EXIT_USER_ERROR = 2


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from rnnkit.reference import gradcheck

    rows = gradcheck.run_all(tolerance=args.tolerance, seed=args.seed)
    passed = all(row.passed for row in rows)
    if args.json:
        report = {
            "tolerance": args.tolerance,
            "passed": passed,
            "rows": [row.to_dict() for row in rows],
        }
        print(json.dumps(report, indent=2))
    else:
        print(gradcheck.format_table(rows, tolerance=args.tolerance))
    return 0 if passed else 1


def cmd_train(args: argparse.Namespace) -> int:
    from rnnkit.tasks import runner
    from rnnkit.tasks.base import get_task

    task = get_task(args.task)
    out = args.out or f"runs/{args.task}"
    overrides = list(args.overrides)
    if args.data is not None:
        if not hasattr(task.config_class().data, "source"):
            raise ValueError(f"--data does not apply to {task.name}: it makes its own data")
        overrides.append(f"data.source={json.dumps(args.data)}")
    for option, value in _given(args, task, "train_options"):
        overrides.append(f"{option.key}={json.dumps(value)}")
    run_dir, result = runner.train(
        args.task, out, args.config, overrides, args.resume, quiet=args.quiet
    )
    if runner.is_main_process():
        best = "" if result.best is None else f"; best validation score {result.best:.4f}"
        print(f"trained {args.task} into {run_dir}{best}")
        if result.results:
            print(task.format_results(result.results))
    return 0


def _flags(which: str) -> dict[str, list[tuple[str, Option]]]:
    """The task flags of ``rnnkit train`` (``which="train_options"``) or ``rnnkit serve``
    (``"serve_options"``) by name, each with the tasks that declare it: tasks may share one."""
    flags: dict[str, list[tuple[str, Option]]] = {}
    for task in REGISTRY.values():
        for option in getattr(task, which):
            flags.setdefault(option.flag, []).append((task.name, option))
    return flags


def _add_flags(parser: argparse.ArgumentParser, which: str) -> None:
    for flag, declared in _flags(which).items():
        first = declared[0][1]
        if first.type is None:  # a switch
            parser.add_argument(flag, dest=first.dest, action="store_true", help=first.help)
        else:  # read as given; the run's task converts it (`Option.value`)
            helps = "; ".join(option.help for _, option in declared)
            parser.add_argument(flag, dest=first.dest, metavar=first.metavar, help=helps)


def _given(args: argparse.Namespace, task: Task, which: str) -> list[tuple[Option, Any]]:
    """The task flags the user gave, each with its value as ``task`` reads it; a flag of
    other tasks only is an error that names them."""
    given = []
    for flag, declared in _flags(which).items():
        raw = getattr(args, declared[0][1].dest)
        if raw is None or raw is False:
            continue
        own = dict(declared).get(task.name)
        if own is None:
            owners = " and ".join(name for name, _ in declared)
            raise ValueError(f"{flag} applies to {owners} runs only, not {task.name}")
        given.append((own, own.value(raw)))
    return given


DIAGNOSE = {
    "task": "adding",
    "length": 100,
    "kinds": "rnn_tanh,lstm,gru",
    "hidden_size": 64,
    "train_steps": 100,
    "clip_steps": 100,
    "seed": 0,
}


def cmd_diagnose(args: argparse.Namespace) -> int:
    from rnnkit.diagnostics import format_summary, run_diagnose
    from rnnkit.diagnostics.report import CLIPPING_PNG, FLOW_PNG, REPORT_JSON

    default = Path(args.run) / "diagnostics" if args.run is not None else Path("diagnostics")
    out = Path(args.out) if args.out else default
    for name in (REPORT_JSON, FLOW_PNG, CLIPPING_PNG):
        if (out / name).exists() and not args.force:
            raise ValueError(f"{out / name} already exists; pass --force to replace it")
    if args.run is not None:
        from rnnkit.tasks.runner import diagnose_run

        experiment = ("task", "length", "kinds", "hidden_size", "train_steps", "clip_steps", "seed")
        given = [f"--{n.replace('_', '-')}" for n in experiment if getattr(args, n) != DIAGNOSE[n]]
        if given:
            raise ValueError(f"{', '.join(given)} only apply without a run directory: drop them")

        report = diagnose_run(args.run, out, batch_size=args.batch_size)
    else:
        report = run_diagnose(
            task=args.task,
            length=args.length,
            kinds=args.kinds.split(","),
            hidden_size=args.hidden_size,
            seed=args.seed,
            out_dir=out,
            train_steps=args.train_steps,
            batch_size=args.batch_size,
            clip_steps=args.clip_steps,
        )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_summary(report))
        print(f"\nwrote {', '.join(report['files'])} into {out}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from rnnkit.serve.app import serve
    from rnnkit.tasks.runner import run_task

    task = run_task(args.run)
    options = {option.key: value for option, value in _given(args, task, "serve_options")}
    serve(args.run, host=args.host, port=args.port, threads=args.threads,
          more_hosts=args.allow_host, **options)  # fmt: skip
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from rnnkit.demo import run_demo

    return run_demo(args.out)


def cmd_tour(args: argparse.Namespace) -> int:
    from rnnkit.demo import run_tour

    return run_tour(seed=args.seed)


def _add_gradcheck(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser(
        "gradcheck",
        help="check the NumPy reference's BPTT gradients against finite differences and torch",
        description="For every cell kind, 1 and 2 layers, 1 and 2 directions: compare the "
        "NumPy reference's hand-written BPTT gradients with central finite differences and "
        "with torch autograd in float64. Exits 1 if any relative error exceeds the tolerance.",
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--tolerance", type=float, default=1e-6, help="default: %(default)g")
    check.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    check.set_defaults(handler=cmd_gradcheck)


def _add_train(commands: argparse._SubParsersAction) -> None:
    width = max(len(name) for name in REGISTRY) + 2
    tasks = "\n".join(f"  {t.name:<{width}}{t.summary}" for t in REGISTRY.values())
    train = commands.add_parser(
        "train",
        help="train a task into a run directory",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a task into a run directory (config.json, model.safetensors,\n"
        "metrics.jsonl, loss.png, checkpoint/). Settings come from the task's defaults, then\n"
        "--config, then SECTION.KEY=VALUE overrides such as train.lr=3e-4. Under torchrun\n"
        "(torchrun --nproc_per_node=N -m rnnkit train ...) it trains data-parallel."
        f"\n\ntasks:\n{tasks}",
    )
    train.add_argument("task", metavar="TASK", help=f"what to train: {', '.join(REGISTRY)}")
    train.add_argument("overrides", nargs="*", metavar="SECTION.KEY=VALUE")
    train.add_argument("--out", help="run directory (default: runs/TASK); must not exist")
    train.add_argument("--config", help="a TOML file with [model], [data] and [train] tables")
    train.add_argument("--data", metavar="SOURCE", help="the data source, same as "
                       f"data.source=...: {', '.join(names())}, a file, folder or glob, a "
                       ".csv/.tsv/.jsonl file or sqlite:///file.db")  # fmt: skip
    _add_flags(train, "train_options")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--quiet", action="store_true", help="print nothing but errors")
    train.set_defaults(handler=cmd_train)


def _add_diagnose(commands: argparse._SubParsersAction) -> None:
    diagnose = commands.add_parser(
        "diagnose",
        help="show vanishing and exploding gradients through time (plots and JSON)",
        description="Measure ||dLoss/dh_t|| at every time step, layer and direction (and LSTM/GRU "
        "gate saturation), through the NumPy reference. Without RUN: the Elman RNN, LSTM and "
        "GRU compared on a long-memory task, at initialisation (torch's uniform and rnnkit's "
        "orthogonal init) and optionally after training, plus an exploding relu RNN trained "
        "with and without gradient clipping. With RUN: the trained model of that run directory.",
    )
    diagnose.add_argument("run", nargs="?", help="a run directory from rnnkit train (optional)")
    diagnose.add_argument("--task", default=DIAGNOSE["task"], choices=tuple(PROBLEMS))
    diagnose.add_argument("--length", type=int, default=DIAGNOSE["length"], help="T")
    diagnose.add_argument("--kinds", default=DIAGNOSE["kinds"], help="default: %(default)s")
    diagnose.add_argument("--hidden-size", type=int, default=DIAGNOSE["hidden_size"])
    diagnose.add_argument(
        "--train-steps",
        type=int,
        default=DIAGNOSE["train_steps"],
        help="also measure after training (0: skip)",
    )
    diagnose.add_argument(
        "--clip-steps", type=int, default=DIAGNOSE["clip_steps"], help="0 skips the clipping run"
    )
    diagnose.add_argument("--batch-size", type=int, default=32, help="default: %(default)s")
    diagnose.add_argument("--seed", type=int, default=DIAGNOSE["seed"], help="default: 0")
    diagnose.add_argument("--out", help="folder for diagnostics.json and the plots")
    diagnose.add_argument("--json", action="store_true", help="print the report as JSON")
    diagnose.add_argument("--force", action="store_true", help="replace the files in --out")
    diagnose.set_defaults(handler=cmd_diagnose)


def _add_serve(commands: argparse._SubParsersAction) -> None:
    srv = commands.add_parser(
        "serve",
        help="serve a run over HTTP: its task's JSON API and a web page",
        description="Serve a run of any task: the routes its task declares (listed at "
        "/docs), GET /healthz, and the page at /. Only requests whose Host is a loopback "
        "name, --host or an --allow-host get an answer.",
    )
    srv.add_argument("run", help="a run directory from rnnkit train")
    srv.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    srv.add_argument("--port", type=int, default=8000, help="default: %(default)s")
    srv.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    srv.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                     help="a Host name to answer besides --host and the loopback names "
                     "(repeatable); requests naming another host get 400")  # fmt: skip
    _add_flags(srv, "serve_options")
    srv.set_defaults(handler=cmd_serve)


def _add_task_commands(commands: argparse._SubParsersAction) -> None:
    """The commands the tasks add (``generate``, ``classify``, ``forecast``, ...)."""
    for task in REGISTRY.values():
        for command in task.commands():
            sub = commands.add_parser(
                command.name, help=command.help, description=command.description
            )
            command.arguments(sub)
            sub.set_defaults(handler=command.run)


def _add_demo_and_tour(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo", help="train a word-level LSTM language model on bundled text, then complete"
    )
    demo.add_argument("--out", default="runs/demo", help="run directory (a fresh one if taken)")
    demo.set_defaults(handler=cmd_demo)
    tour = commands.add_parser(
        "tour", help="the gradient check, then a tiny training of each topology on data it makes"
    )
    tour.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    tour.set_defaults(handler=cmd_tour)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks you can understand, build, train and use.",
        epilog="tasks: " + ", ".join(REGISTRY),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_gradcheck(commands)
    _add_train(commands)
    _add_diagnose(commands)
    _add_serve(commands)
    _add_task_commands(commands)
    _add_demo_and_tour(commands)
    return parser


def _one_line(err: Exception) -> str:
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"{err.strerror}: {err.filename}"
    return " ".join(str(err).split())


def main(argv: Sequence[str] | None = None) -> int:
    # Denormal floats (a vanishing gradient is full of them) cost the CPU up to 30x per
    # operation; flushing them to zero changes nothing a float32 model can represent.
    torch.set_flush_denormal(True)
    parser = build_parser()
    # Overrides (SECTION.KEY=VALUE) may come before or after the options.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not hasattr(args, "overrides") or any("=" not in e or e.startswith("-") for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*args.overrides, *extra]
    try:
        code = args.handler(args)
        sys.stdout.flush()  # a reader that went away shows up here, not at exit
        return code
    except BrokenPipeError:  # the reader went away (`rnnkit ... | head`): not an error
        # Point stdout at /dev/null so the interpreter's flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, OSError) as err:  # bad input, or a path that cannot be used
        if os.environ.get("RNNKIT_DEBUG"):
            raise
        print(f"rnnkit: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
