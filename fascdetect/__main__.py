import sys

from fascdetect.cli import main

sys.exit(main())
