"""``python -m pulumi_oidc_trust.cli``: the ``oidc-trust`` command line."""

import sys

from .main import main

sys.exit(main())
