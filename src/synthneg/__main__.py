"""``python -m synthneg`` runs the CLI."""

from synthneg.cli import main

if __name__ == "__main__":
    main()
