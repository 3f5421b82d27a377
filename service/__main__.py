"""`python -m service ingest FILE | rebuild | serve`."""
import sys

from flask.cli import AppGroup, ScriptInfo

from . import config, create_app_or_exit
from .cli import COMMANDS
from .observability import configure_logging


def main() -> None:
    try:
        json_logs = config.value("JSON_LOGS") == 1
    except ValueError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    configure_logging(json_logs=json_logs and not sys.stderr.isatty())
    group = AppGroup("service", help="Related-headline service: ingest, embed, rebuild, calibrate, serve, follow, backfill-site.")
    for command in COMMANDS:
        group.add_command(command)
    group.main(prog_name="python -m service", obj=ScriptInfo(create_app=create_app_or_exit, load_dotenv_defaults=False))


if __name__ == "__main__":
    main()
