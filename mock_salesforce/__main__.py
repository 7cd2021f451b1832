"""`python -m mock_salesforce`: see `mock_salesforce.cli`."""

import sys

from mock_salesforce.cli import main

if __name__ == "__main__":
    sys.exit(main())
