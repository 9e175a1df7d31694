import sys

from sapwood.serving.main import main

sys.exit(main())
