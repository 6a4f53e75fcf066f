"""``python -m zegel`` runs the ``zegel`` command."""

from zegel.cli import main

main()
