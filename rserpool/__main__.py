import sys

from rserpool.cli import main

sys.exit(main())
