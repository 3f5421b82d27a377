"""`python -m service ingest FILE | rebuild | serve`."""
from flask.cli import AppGroup, ScriptInfo

from . import create_app
from .cli import COMMANDS


def main() -> None:
    group = AppGroup("service", help="Related-headline service: ingest, rebuild, serve.")
    for command in COMMANDS:
        group.add_command(command)
    group.main(prog_name="python -m service", obj=ScriptInfo(create_app=create_app, load_dotenv_defaults=False))


if __name__ == "__main__":
    main()
