import sys

from gainsight_px.cli import main

sys.exit(main())
