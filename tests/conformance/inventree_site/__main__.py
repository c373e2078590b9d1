"""manage.py for the conformance site: `python -m inventree_site <command>`."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventree_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line([sys.argv[0].replace("__main__.py", "manage.py"), *sys.argv[1:]])
