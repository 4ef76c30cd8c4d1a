"""``python -m oidc_trust_cli``: the ``oidc-trust`` command line."""

import sys

from .main import main

sys.exit(main())
