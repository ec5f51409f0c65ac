import sys

from aip.cli.main import main

sys.exit(main())
