import sys

from routeiq_sidecar.cli import main

sys.exit(main())
