"""`python -m service ingest FILE | rebuild | serve`."""
import os
import sys

from flask.cli import AppGroup, ScriptInfo

from . import create_app_or_exit
from .cli import COMMANDS
from .observability import configure_logging


def main() -> None:
    configure_logging(json_logs=os.environ.get("JSON_LOGS", "1") != "0" and not sys.stderr.isatty())
    group = AppGroup("service", help="Related-headline service: ingest, rebuild, serve.")
    for command in COMMANDS:
        group.add_command(command)
    group.main(prog_name="python -m service", obj=ScriptInfo(create_app=create_app_or_exit, load_dotenv_defaults=False))


if __name__ == "__main__":
    main()
